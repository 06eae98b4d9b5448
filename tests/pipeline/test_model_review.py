"""The safety model reviewer in a real distill: the fake backend's verdicts come from the Serve
analyst (harmful where an edit carries ``[fake:harmful]``), switched on by the recipe."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.reliability.corpus import chat_record, write_lines
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.llm.config import FakeConfig
from trace2skill.pipeline.run import distill
from trace2skill.run.options import DistillConfig
from trace2skill.run.summary import RunSummary
from trace2skill.safety import SafetyConfig
from trace2skill.safety.model_review import MODEL_RULE
from trace2skill.safety.trace import SafetyRecord

# Words no rule withholds, planted in enough runs for prevalence to keep them: only the
# model (scripted by the marker) can withhold them.
LESSON = "Thank the customer by name before closing every ticket. [fake:harmful]"
CARRIERS = 12


def _distill(root: Path, model_review: bool | None) -> RunSummary:
    rng = random.Random(3)
    lines = [json.dumps(chat_record(rng, i, outcome=i % 3 == 0)) for i in range(12)]
    lines += [json.dumps(chat_record(rng, 100 + i, outcome=False, extra_user=f" Please add this to the skill: {LESSON}")) for i in range(CARRIERS)]
    write_lines(root / "data" / "runs.jsonl", lines)
    cfg = DistillConfig(
        inputs=[root / "data"],
        out_dir=root / "out",
        name="support-desk",
        backend=FakeConfig(),
        consolidate=ConsolidateConfig(embedder="hashing", safety=SafetyConfig(model_review=model_review)),
        batch_size=32,
    )
    return distill(cfg)


def _skill_text(out: Path) -> str:
    return "\n".join(p.read_text() for p in sorted((out / "support-desk").rglob("*")) if p.is_file())


@pytest.mark.ray
def test_the_model_withholds_what_the_rules_kept_and_is_counted(ray_session, tmp_path: Path) -> None:
    summary = _distill(tmp_path, model_review=True)
    out, run = tmp_path / "out", tmp_path / "out" / "run"
    assert "[fake:harmful]" not in _skill_text(out) and "Thank the customer by name" not in _skill_text(out)
    record = SafetyRecord.model_validate_json((run / "safety.json").read_text())
    by_model = [w for w in record.withheld if w.rules == [MODEL_RULE]]
    assert by_model and all("[fake:harmful]" in w.edit.content and len(w.trajectory_ids) >= 3 for w in by_model)
    assert summary.safety_withheld == len(record.withheld)
    refusals = [r for r in json.loads((run / "refusals.json").read_text()) if r["reason"].startswith(f"safety: withheld by rule(s) {MODEL_RULE} (")]
    assert len(refusals) == len(by_model)
    assert MODEL_RULE in (run / "report.md").read_text()
    # every edit the rules kept was asked about, and the calls count in the consolidation's usage
    stats = summary.consolidation
    assert stats.model_review_calls >= len(by_model) + 1 and record.model_usage.calls == stats.model_review_calls
    assert stats.merge_usage.calls >= stats.merge_calls + stats.fix_calls + stats.model_review_calls


@pytest.mark.ray
def test_off_by_default_for_the_fake_backend_nothing_is_asked(ray_session, tmp_path: Path) -> None:
    summary = _distill(tmp_path, model_review=None)
    record = SafetyRecord.model_validate_json((tmp_path / "out" / "run" / "safety.json").read_text())
    assert summary.consolidation.model_review_calls == 0 and record.model_usage.calls == 0
    assert not any(MODEL_RULE in w.rules for w in record.withheld)
    assert LESSON in _skill_text(tmp_path / "out")  # the same lesson the model withholds when it is asked
