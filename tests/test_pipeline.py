"""End to end through real Ray Data and a real Serve deployment, with the deterministic fake backend."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import EXAMPLES
from trace2skill import report
from trace2skill.consolidate.reduce import ClusterResult
from trace2skill.llm.config import FakeConfig, OpenAIConfig
from trace2skill.pipeline import consolidate as pipeline_consolidate
from trace2skill.pipeline.run import distill
from trace2skill.run.options import DistillConfig
from trace2skill.skill.validate import validate_skill_dir

pytestmark = pytest.mark.ray


def check_run_invariants(run_dir: Path, skill_dir: Path, expected_records: int) -> pl.DataFrame:
    """Every record in the manifest once; provenance only names input trajectories; the skill validates."""
    manifest = pl.read_parquet(run_dir / "manifest.parquet")
    trajectories = pl.read_parquet(run_dir / "trajectories.parquet")
    quarantine = pl.read_parquet(run_dir / "quarantine.parquet")
    assert manifest.height == expected_records
    assert manifest["trajectory_id"].n_unique() == manifest.height
    inputs = set(trajectories["id"]) | set(quarantine["trajectory_id"])
    assert set(manifest["trajectory_id"]) == inputs
    assert set(manifest["status"]) <= {"analyzed", "no_lesson", "quarantined", "failed", "skipped", "seen"}
    assert (manifest.filter(pl.col("status") != "analyzed")["reason"] != "").all()
    for name in ("patches", "final_patches"):
        ids = {t for row in pl.read_parquet(run_dir / f"{name}.parquet")["trajectory_ids"] for t in row}
        assert ids <= set(trajectories["id"]), f"{name} names trajectories that were never read"
    lessons = pl.read_parquet(run_dir / "lessons.parquet")
    assert set(lessons["trajectory_id"]) <= set(trajectories["id"])
    assert validate_skill_dir(skill_dir) == []
    return manifest


def test_deepen_examples_with_a_bad_record(ray_session, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(EXAMPLES / "airline", data)
    with (data / "chat.jsonl").open("a") as f:
        f.write("{this is not json\n")
        f.write(json.dumps({"messages": [{"role": "wizard", "content": "x"}]}) + "\n")
    cfg = DistillConfig(
        inputs=[data],
        out_dir=tmp_path / "out",
        skill_dir=EXAMPLES / "skills" / "airline-support",
        mode="deepen",
        backend=FakeConfig(),
        consolidate={"fan_in": 4},
    )
    # The cluster results, the finished skill and the report stay off the driver: workers,
    # which import these modules themselves (the patches here do not reach them), read and write them.
    on_driver = []
    monkeypatch.setattr(ClusterResult, "model_validate_json", lambda *a, **k: on_driver.append("a cluster result parsed"))
    monkeypatch.setattr(pipeline_consolidate, "finish", lambda *a, **k: on_driver.append("the skill finished"))
    monkeypatch.setattr(report, "load_run", lambda *a, **k: on_driver.append("the report's data loaded"))
    summary = distill(cfg, progress=lambda _: None)
    assert on_driver == []
    skill_dir = tmp_path / "out" / "airline-support"
    manifest = check_run_invariants(tmp_path / "out" / "run", skill_dir, expected_records=26)
    assert summary.read == 26 and summary.quarantined == 2
    assert summary.analyzed + summary.no_lesson + summary.failed == 24
    assert sorted(manifest.filter(pl.col("status") == "quarantined")["reason"].to_list())[0]
    assert summary.merge_calls >= 2 and summary.edits_applied > 0 and summary.valid
    text = (skill_dir / "SKILL.md").read_text()
    assert "get an explicit yes" in text  # a lesson the fake derives from the failures
    assert (skill_dir / "references" / "baggage.md").exists()  # S0's reference kept
    saved = json.loads((tmp_path / "out" / "run" / "summary.json").read_text())
    assert saved["read"] == 26


@pytest.mark.parametrize("draft", [False, True], ids=["minimal", "draft"])
def test_create_mode_with_limit(ray_session, tmp_path, draft):
    cfg = DistillConfig(
        inputs=[EXAMPLES / "airline" / "tau_bench_results.json"],
        out_dir=tmp_path / "out",
        name="airline-agent",
        backend=FakeConfig(),
        limit=5,
        draft=draft,
    )
    summary = distill(cfg, progress=lambda _: None)
    check_run_invariants(tmp_path / "out" / "run", tmp_path / "out" / "airline-agent", expected_records=5)
    assert summary.read == 5 and summary.valid
    text = (tmp_path / "out" / "airline-agent" / "SKILL.md").read_text()
    assert "## Pitfalls" in text
    assert ("requests about" in text) == draft  # the drafted description
    assert (summary.draft_note == "drafted from the task descriptions") == draft


def test_openai_backend_through_serve(ray_session, tmp_path):
    from tests.llm.openai_server import ChatServer

    with ChatServer(fail_first=1) as server:
        cfg = DistillConfig(
            inputs=[EXAMPLES / "airline" / "chat.jsonl"],
            out_dir=tmp_path / "out",
            name="airline-chat",
            backend=OpenAIConfig(base_url=server.base_url, model="m"),
        )
        summary = distill(cfg, progress=lambda _: None)
    check_run_invariants(tmp_path / "out" / "run", tmp_path / "out" / "airline-chat", expected_records=4)
    assert summary.analyzed == 4 and summary.analysis_usage.calls == 4
    assert len(server.requests) >= 5  # one 503 retried, then every analysis and merge over HTTP


_CODE = re.compile(r"\b[A-Z0-9]{6}\b")
_PERSONAL = re.compile(r"<(?:PERSON|USER_ID|EMAIL_ADDRESS|PHONE_NUMBER)_\d+>|\b[a-z]+_[a-z]+_\d{3,}\b")


def _copying_analyst(responder):
    """The fake analyst, but every edit also carries the reservation codes and personal values its prompt shows."""

    def respond(prompt: str) -> dict:
        answer = responder(prompt)
        trajectory = prompt.rsplit("<trajectory>\n", 1)[-1]
        copied = sorted(set(_CODE.findall(trajectory)) | set(_PERSONAL.findall(trajectory)))[:4]
        for edit in answer.get("edits", []):
            if copied and edit.get("content"):
                edit["content"] += "".join(f"- As in the case of {v}, check {v} first.\n" for v in copied)
        return answer

    return respond


def test_a_model_that_copies_instance_values_into_every_edit_leaves_none_in_the_skill(ray_session, tmp_path):
    """The demo runs over HTTP, with personal data replaced at ingest: whatever the analysts copy
    (reservation codes, the placeholders of names and user ids) is restated or refused before
    apply, the refusals are counted by reason, and S0's own values stay."""
    from tests.llm.openai_server import ChatServer
    from trace2skill.llm.fake import RESPONDERS

    skill_dir = EXAMPLES / "skills" / "airline-support"
    s0_text = "\n".join(p.read_text() for p in skill_dir.rglob("*.md"))
    scripted = {name: _copying_analyst(RESPONDERS[name]) for name in ("ErrorAnalysis", "SuccessAnalysis")}
    with ChatServer(responders=scripted) as server:
        cfg = DistillConfig(
            inputs=[EXAMPLES / "demo"], out_dir=tmp_path / "out", skill_dir=skill_dir,
            backend=OpenAIConfig(base_url=server.base_url, model="m"),
        )  # fmt: skip
        summary = distill(cfg, progress=lambda _: None)
    prompts = "\n".join(m["content"] for r in server.requests for m in r.get("messages", []))
    shown = {v for v in _CODE.findall(prompts) + _PERSONAL.findall(prompts) if v not in s0_text}
    assert shown, "the demo's prompts show reservation codes or personal placeholders to copy"
    out = tmp_path / "out" / "airline-support"
    written = "\n".join(p.read_text() for p in out.rglob("*") if p.is_file()) + "\n".join(str(p) for p in out.rglob("*"))
    assert sorted(v for v in shown if v in written) == []
    assert all(v in written for v in _CODE.findall(s0_text))  # the codes S0 holds stay
    counted = summary.consolidation.refused_by_reason.get("instance detail", 0) + summary.consolidation.instance_restated
    assert counted > 0
