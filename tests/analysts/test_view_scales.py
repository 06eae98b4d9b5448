"""The single-call prompt of a real SWE-agent run over HTTP (the recording server on
loopback), its context window as the server reports it: whole with room, cut by the
fitting rule without."""

from __future__ import annotations

import json
from pathlib import Path

from tests.analysts.samples import AIRLINE
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

# A real GPT-4 SWE-agent run on SWE-bench's pydicom__pydicom-1458, committed unmodified
# (tests/data/swe-agent/README.md says where from): 38 steps, about 8.5k tokens by the ~4
# characters a token count, a traceback at step 10, three rejected edits, 5k characters of
# edited file at step 28.
SWE_AGENT_RUN = ROOT / "tests" / "data" / "swe-agent" / "pydicom__pydicom-1458.traj"
# The grade is this test's: the file holds no SWE-bench verdict, and the analyst needs a failure.
FAILING_TEST = "pydicom/tests/test_numpy_pixel_data.py::test_float_pixel_data_without_pixel_representation"


def failed_swe_agent_run(tmp_path: Path) -> Trajectory:
    """The real run, graded unresolved by a SWE-bench-style report."""
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
    (traj,) = read_file(SWE_AGENT_RUN, labels=read_labels(labels))
    assert traj.success is False
    return traj


def single_call_prompt(
    traj: Trajectory, max_model_len: int
) -> tuple[str, AnalysisResult]:
    """The user message the error analyst sent, and the analysis; the prompt and the room
    asked for the answer fit the window the server lists."""
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
    assert result.usage.prompt_tokens + body["max_tokens"] <= max_model_len
    return body["messages"][1]["content"], result


def test_with_a_64k_context_every_step_is_whole(tmp_path: Path):
    traj = failed_swe_agent_run(tmp_path)
    user, result = single_call_prompt(traj, 65536)
    fit = result.lessons[0].metadata
    steps = [step_text(s) for s in traj.steps if s.role != "system"]
    assert fit["trajectory_tokens"] > 8000  # the whole run, not a keyhole on it
    for step in steps:
        assert step.prefix + step.body in user, step.index
    longest = max((s for s in steps if s.output), key=lambda s: len(s.body))
    assert longest.index == 28 and len(longest.body) > 5000  # the edited file, shown whole
    middle = longest.body[len(longest.body) // 2 - 150 : len(longest.body) // 2 + 150]
    assert "291:        required_elements.append('PixelRepresentation')" in middle
    assert middle in user
    assert (
        fit["truncated_steps"] == fit["elided_steps"] == fit["cut_chars"] == 0
        and "To fit the context" not in user
    )


def test_with_an_8k_context_the_prompt_says_what_it_cut_and_keeps_the_error_output(
    tmp_path: Path,
):
    traj = failed_swe_agent_run(tmp_path)
    user, result = single_call_prompt(traj, 8192)
    trajectory, note = user.split("</trajectory>")
    assert result.usage.prompt_tokens > 3000  # the room was used, not left empty
    assert note.startswith("\nTo fit the context, some of the run was cut: steps ")
    assert "cut in the middle (error lines kept)" in note and "left out whole" in note
    # the reproduction's traceback, its exception line included (step 10, a tool's output)
    assert "[10] tool result (python): Traceback (most recent call last):" in trajectory
    assert "\nAttributeError: Unable to convert the pixel data" in trajectory
    assert "\n+    if 'PixelData' in ds:\n" in trajectory  # the submitted diff
    assert "[FAIL] FAIL_TO_PASS" in note  # the grader's failing check


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
