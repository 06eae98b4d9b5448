"""Every analyst request of a run starts with the same bytes (S0, then the instructions), so an
engine's prefix cache computes them once: measured on what a distill sends over HTTP."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.llm.openai_server import ChatServer
from trace2skill.analysts.analyze import (
    KINDS,
    AnalystConfig,
    shared_prefix,
    skill_prompt,
)
from trace2skill.analysts.context import SkillContext
from trace2skill.llm.config import OpenAIConfig, for_replica
from trace2skill.llm.factory import make_llm
from trace2skill.pipeline.run import distill
from trace2skill.prompting import load_prompt
from trace2skill.run.options import DistillConfig
from trace2skill.run.tokens import analyst_config, token_counter
from trace2skill.skill.folder import load_skill

pytestmark = pytest.mark.ray

SKILL_DIR = EXAMPLES / "skills" / "airline-support"
KIND_OF_SCHEMA = {"ErrorAnalysis": "error_analyst", "ContrastiveErrorAnalysis": "error_analyst", "SuccessAnalysis": "success_analyst"}


def runs_with_pairs(path: Path) -> Path:
    """Six airline runs (successes and failures) and, for two of the failures, a successful
    trial of the same task: contrastive pairs."""
    runs = json.loads((EXAMPLES / "airline" / "tau_bench_results.json").read_text())[:6]
    siblings = [dict(r, reward=1.0, trial=1) for r in runs if r["reward"] < 1][:2]
    path.write_text(json.dumps(runs + siblings))
    return path


def request_text(body: dict) -> str:
    """A request's messages as an engine's prefix cache sees them: the system message, then the first user message."""
    return "\n".join(m["content"] for m in body["messages"][:2])


def analyst_requests(requests: list[dict]) -> dict[str, list[str]]:
    """The analysts' chat requests by kind (merges, judges and token counts left out)."""
    kinds = defaultdict(list)
    for body in requests:
        if "tools" in body:
            kinds["agentic_error_analyst"].append(request_text(body))
        elif (name := body.get("response_format", {}).get("json_schema", {}).get("name")) in KIND_OF_SCHEMA:
            kinds[KIND_OF_SCHEMA[name]].append(request_text(body))
    return dict(kinds)


def instruction_lines(name: str, with_guide: bool) -> list[str]:
    """The lines of an analyst's prompt files (its own, the edit rules, the rule on untrusted
    data and, for the agentic analyst, the tools' guide) that no placeholder fills."""
    files = [name, "edit_rules"] + (["agentic_error_analyst"] if with_guide else [])
    text = "\n".join(load_prompt("trace2skill.analysts", f).template.split("\n", 1)[1] for f in files)
    return [line for line in text.splitlines() if line.strip() and "$" not in line]


@pytest.mark.parametrize("mode", ["single", "agentic"])
def test_every_analyst_request_starts_with_s0_then_the_instructions(ray_session, tmp_path, mode):
    with ChatServer() as server:
        cfg = DistillConfig(
            inputs=[runs_with_pairs(tmp_path / "runs.json")], out_dir=tmp_path / "out", skill_dir=SKILL_DIR,
            backend=OpenAIConfig(base_url=server.base_url, model="m"), analyst=AnalystConfig(mode=mode),
        )  # fmt: skip
        summary = distill(cfg, progress=lambda _: None)
        llm, settings = make_llm(for_replica(cfg.backend)), analyst_config(cfg)  # the replica's token count and settings
        skill = SkillContext.of(load_skill(SKILL_DIR))
        expected = {kind: shared_prefix(kind, skill, llm, settings) for kind in KINDS}
        s0, _ = skill_prompt(skill, llm, settings)
        sent = analyst_requests(server.requests)
    assert summary.analyzed >= 6
    assert set(sent) == ({"error_analyst", "success_analyst"} if mode == "single" else {"agentic_error_analyst", "success_analyst"})
    if mode == "single":
        assert sum('"divergence_step"' in json.dumps(r.get("response_format")) for r in server.requests) >= 2  # the pairs were analysed as pairs
    count, tokenizer = token_counter(cfg.backend)
    every = os.path.commonprefix([t for texts in sent.values() for t in texts])
    # All kinds share S0, whole, built from the skill folder's files: nothing of one run comes before its end.
    assert every.startswith(s0) and s0.startswith("<skill>\n" + (SKILL_DIR / "SKILL.md").read_text().strip()[:200])
    assert "<file path=\"references/baggage.md\"" in s0
    for kind, texts in sent.items():
        common = os.path.commonprefix(texts)
        assert len(texts) >= 2 and common.startswith(expected[kind]), kind
        # The instructions are the prompt files' text, whole (each line without a placeholder), before anything of one trajectory.
        for line in instruction_lines(KINDS[kind][0], with_guide=kind == "agentic_error_analyst"):
            assert line in expected[kind], (kind, line)
        # ... and the prefix ends where the trajectory's own part begins: the agent's instructions, the run or its outline.
        assert all(t[len(expected[kind]) :].startswith(("\n\nThe agent's instructions:\n<agent_instructions>\n", "\n<trajectory>\n", "\nTask: ")) for t in texts), kind
        print(f"{mode} {kind}: {len(texts)} requests share {len(common):,} chars; the shared prefix is {len(expected[kind]):,} chars, {count(expected[kind]):,} tokens ({tokenizer})")
    print(f"{mode}: all analyst requests share {len(every):,} chars; S0 is {len(s0):,} chars, {count(s0):,} tokens")
