"""The single-call prompt of a real SWE-agent run over HTTP (the recording server on
loopback), its context window as the server reports it: whole with room, cut by the
fitting rule without."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.analysts.samples import AIRLINE, FAILING_TEST
from tests.conftest import ROOT
from tests.llm.openai_server import ChatServer
from trace2skill.analysts.analyze import AnalystConfig, analyze
from trace2skill.analysts.models import AnalysisResult
from trace2skill.analysts.render import step_text
from trace2skill.ingest import read_file, read_labels
from trace2skill.llm.config import OpenAIConfig
from trace2skill.llm.factory import make_llm
from trace2skill.llm.served_context import served_context_tokens, with_served_context
from trace2skill.schema import Trajectory

# The largest real SWE-agent run at hand (SWE-agent's own test data, shared/real-samples):
# about 3.5k tokens, 17 steps, the traceback in the middle of its longest step.
REAL_SAMPLES = Path(
    os.environ.get("TRACE2SKILL_REAL_SAMPLES", ROOT.parent / "shared" / "real-samples")
)
SWE_AGENT_RUN = REAL_SAMPLES / "swe-agent" / "swe-agent__test-repo-i1.traj"
needs_sample = pytest.mark.skipif(
    not SWE_AGENT_RUN.is_file(),
    reason="shared/real-samples is not present (set TRACE2SKILL_REAL_SAMPLES to its folder)",
)


def failed_swe_agent_run(tmp_path: Path) -> Trajectory:
    """The real run, graded unresolved by a SWE-bench-style report."""
    traj_file = tmp_path / SWE_AGENT_RUN.name
    shutil.copy(SWE_AGENT_RUN, traj_file)
    instance = SWE_AGENT_RUN.stem
    report = {
        instance: {
            "patch_successfully_applied": True,
            "resolved": False,
            "tests_status": {
                "FAIL_TO_PASS": {"success": [], "failure": [FAILING_TEST]}
            },
        }
    }
    labels = tmp_path / "report.json"
    labels.write_text(json.dumps(report), encoding="utf-8")
    (traj,) = read_file(traj_file, labels=read_labels(labels))
    assert traj.success is False
    return traj


def single_call_prompt(
    traj: Trajectory, max_model_len: int
) -> tuple[str, AnalysisResult]:
    """The user message the error analyst sent, and the analysis."""
    with ChatServer(max_model_len=max_model_len) as server:
        engine = with_served_context(
            OpenAIConfig(base_url=server.base_url, model="m", context_tokens=4096)
        )
        assert (
            engine.context_tokens == max_model_len
        )  # the server's number, not the recipe's
        llm = make_llm(engine)
        try:
            result = analyze(traj, AIRLINE, llm, AnalystConfig().for_backend(engine))
        finally:
            llm.close()
    (body,) = [b for b in server.requests if "messages" in b]
    return body["messages"][1]["content"], result


@needs_sample
def test_with_a_64k_context_every_step_is_whole(tmp_path: Path):
    traj = failed_swe_agent_run(tmp_path)
    user, result = single_call_prompt(traj, 65536)
    fit = result.lessons[0].metadata
    steps = [step_text(s) for s in traj.steps if s.role != "system"]
    for step in steps:
        assert step.prefix + step.body in user, step.index
    longest = max(steps, key=lambda s: len(s.body))
    assert len(longest.body) > 1200  # the old fixed cut would have dropped its middle
    middle = longest.body[len(longest.body) // 2 - 100 : len(longest.body) // 2 + 100]
    assert middle in user
    assert (
        fit["truncated_steps"] == fit["elided_steps"] == fit["cut_chars"] == 0
        and "To fit the context" not in user
    )


@needs_sample
def test_with_an_8k_context_the_prompt_says_what_it_cut_and_keeps_the_error_output(
    tmp_path: Path,
):
    traj = failed_swe_agent_run(tmp_path)
    user, _ = single_call_prompt(traj, 8192)
    trajectory = user.split("</trajectory>")[0]
    assert "To fit the context, some of the run was cut: steps " in user
    assert "SyntaxError: invalid syntax" in trajectory  # the traceback
    assert (
        "\n-def division(a: float, b: float) -> float\n" in trajectory
    )  # the submitted diff
    assert "left out whole" in user or "cut in the middle" in user
    assert "[FAIL] FAIL_TO_PASS" in user  # the grader's failing check


def test_the_served_context_is_read_from_v1_models_where_listed():
    with ChatServer(max_model_len=131072) as server:
        assert served_context_tokens(server.base_url, "m") == 131072
        assert served_context_tokens(server.base_url, "other") is None
    with ChatServer() as server:  # no length listed: the recipe's value holds
        engine = OpenAIConfig(base_url=server.base_url, model="m", context_tokens=16384)
        assert with_served_context(engine) == engine
    closed = OpenAIConfig(
        base_url="http://127.0.0.1:9/v1", model="m", context_tokens=16384
    )
    assert with_served_context(closed) == closed  # no server: the recipe's value
