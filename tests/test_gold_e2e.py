"""A poisoned model copies the grader's values into its edits: ``distill`` runs it through
real Ray Data and a real Serve deployment (openai backend, loopback recording server), and
the grader guard keeps every such value out of the skill and counts the refusals."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import EXAMPLES
from tests.llm.openai_server import ChatServer
from trace2skill.ingest import read_file
from trace2skill.llm.config import OpenAIConfig
from trace2skill.llm.fake import RESPONDERS
from trace2skill.pipeline.run import distill
from trace2skill.run.options import DistillConfig
from trace2skill.schema import Trajectory

pytestmark = pytest.mark.ray

RESULTS = EXAMPLES / "airline" / "tau_bench_results.json"
_ACTION_LINE = re.compile(r"^\d+\. (\{.*\})$", re.MULTILINE)


def argument_values(action: dict) -> list[str]:
    """The scalar argument values of one tau-bench expected action."""
    out, todo = [], [action.get("kwargs", {})]
    while todo:
        value = todo.pop()
        if isinstance(value, dict | list):
            todo += list(value.values()) if isinstance(value, dict) else value
        elif not isinstance(value, bool):
            out.append(str(value))
    return out


def poisoned(responder):
    """``responder`` whose every edit also spells out the expected calls the prompt's grader block shows."""

    def answer(prompt: str) -> dict:
        result = responder(prompt)
        grader = prompt.split("<grader>", 1)[-1]
        calls = [json.loads(m) for m in _ACTION_LINE.findall(grader)]
        if calls:
            copied = "".join(f"- Call {c['name']} with {', '.join(argument_values(c))}.\n" for c in calls)
            for edit in result.get("edits", []):
                edit["content"] = f"{edit['content'].rstrip()}\n{copied}"
        return result

    return answer


def test_a_model_that_copies_grader_values_leaves_none_in_the_skill(ray_session, tmp_path):
    responders = {name: poisoned(RESPONDERS[name]) for name in ("ErrorAnalysis", "ContrastiveErrorAnalysis")}
    with ChatServer(responders=responders) as server:
        cfg = DistillConfig(inputs=[RESULTS], out_dir=tmp_path / "out", name="airline-support", backend=OpenAIConfig(base_url=server.base_url, model="m"))
        summary = distill(cfg, progress=lambda _: None)
    assert summary.analyzed > 0 and summary.refused_gold > 0, summary.table()
    runs = [t for t in read_file(RESULTS) if isinstance(t, Trajectory) and t.grader is not None]
    gold = {v for t in runs for a in t.grader.expected_actions for v in argument_values(json.loads(a)) if len(v) >= 4 and any(c.isdigit() for c in v)}
    assert gold  # values with digits: reservation codes, flight numbers, dates, payment ids
    skill = "\n".join(p.read_text() for p in (tmp_path / "out" / "airline-support").rglob("*.md"))
    assert [v for v in gold if v.lower() in skill.lower()] == []
    refusals = (tmp_path / "out" / "run" / "refusals.json").read_text()
    assert "quotes the grader" in refusals
    report = (tmp_path / "out" / "run" / "report.md").read_text()
    assert re.search(rf"quotes the grader / instance detail / noise \| {summary.refused_gold} / ", report), report[:3000]
