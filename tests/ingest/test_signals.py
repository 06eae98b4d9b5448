"""Outcomes read from the trace: the patch, the last test run, the user's last turn (ingest.signals)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from benchmarks import secrets_corpus as corpus
from trace2skill.ingest import read_file
from trace2skill.ingest import signals
from trace2skill.ingest.signals import exit_status, patch_signal, trace_signal, user_signal, with_outcome_source
from trace2skill.schema import Step, Trajectory

DATA = Path(__file__).parent / "data"


def run(*steps: tuple, metadata: dict | None = None) -> Trajectory:
    """A trajectory of ``(role, kind, text)`` steps; a tool call's text is its command."""
    out = [Step(index=0, role="user", content="Fix the failing test.")]
    for role, kind, text in steps:
        i = len(out)
        if kind == "tool_call":
            out.append(Step(index=i, role=role, kind=kind, tool_name="bash", tool_args=json.dumps({"command": text}), tool_call_id=f"c{i}"))
        elif kind == "observation":
            out.append(Step(index=i, role="tool", kind=kind, tool_name="bash", content=text, tool_call_id=f"c{i - 1}"))
        else:
            out.append(Step(index=i, role=role, kind=kind, content=text))
    return Trajectory(id="t", source_format="test", steps=out, metadata=metadata or {})


def bash(command: str, output: str) -> tuple:
    return ("assistant", "tool_call", command), ("tool", "observation", output)


@pytest.mark.parametrize(
    ("output", "passed"),
    [
        ("<returncode>0</returncode>\n<output>\n5 passed in 0.2s\n</output>", True),
        ("<returncode>1</returncode>\n<output>\nFAILED t.py::x\n</output>", False),
        ("Process exited with code 2", False),
        ('{"exit_code": 0, "stdout": "ok"}', True),
        ("[error] FAILED tests/test_checkout.py::test_total", False),
        ("=========== 1 failed, 12 passed in 3.1s ===========", False),
        ("==== 12 passed, 1 skipped in 3.1s ====", True),
        ("collected 3 items", None),
    ],
)
def test_a_test_runs_exit_status_is_read_from_its_output(output, passed):
    assert exit_status(output) is passed


def test_the_last_action_being_a_test_run_decides_and_cites_its_result():
    traj = run(*bash("pytest -q", "<returncode>1</returncode>"), ("assistant", "message", "fixing"), *bash("python -m pytest tests/", "<returncode>0</returncode>"))
    signal = signals.tests_signal(traj.steps)
    assert (signal.success, signal.rule, signal.step) == (True, "tests", 5)
    assert "python -m pytest" in signal.evidence


def test_a_change_after_the_last_test_run_leaves_it_stale():
    traj = run(*bash("pytest -q", "<returncode>1</returncode>"), *bash("sed -i s/a/b/ x.py", "<returncode>0</returncode>"))
    assert signals.tests_signal(traj.steps) is None


def test_a_submission_after_the_test_run_keeps_it():
    traj = run(*bash("go test ./...", "ok  \tpkg\t0.1s\nexit code 0"), *bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT", ""))
    assert signals.tests_signal(traj.steps).success is True


@pytest.mark.parametrize("command", ["./tests/runtests.py --parallel 1 utils_tests", "cd /testbed && python -m pytest -x", "npm run test", "cargo test -q"])
def test_test_runners_are_recognised_as_commands(command):
    assert signals.tests_signal(run(*bash(command, "<returncode>0</returncode>")).steps).success is True


def test_commands_that_are_not_test_runs_say_nothing():
    traj = run(*bash("cat pytest.ini", "<returncode>0</returncode>"))
    assert signals.tests_signal(traj.steps) is None


def test_a_patch_that_does_not_apply_is_a_failure_unless_a_later_submission_followed():
    failed = run(*bash("git apply fix.patch", "error: patch failed: src/a.py:12\nerror: src/a.py: patch does not apply"))
    signal = patch_signal(failed)
    assert (signal.success, signal.rule, signal.step) == (False, "patch", 2)
    fixed = run(*bash("git apply fix.patch", "error: patch does not apply"), *bash("submit", "submitted"))
    assert patch_signal(fixed) is None


def test_an_empty_submission_is_a_failure_and_a_patch_alone_says_nothing():
    assert patch_signal(run(metadata={"exit_status": "submitted", "submission": ""})).success is False
    assert patch_signal(run(metadata={"exit_status": "submitted", "submission": "diff --git a/x b/x"})) is None


@pytest.mark.parametrize(
    ("last_turn", "success"),
    [
        ("Thanks, that works!", True),
        ("perfect, merci", True),
        ("It's still failing with the same error.", False),
        ("No, that's wrong: the total is off by one.", False),
        ("[Request interrupted by user]", False),
        ("Thanks, but it still doesn't work.", None),  # both: nothing
        ("Now add a test for the refund path.", None),  # neither: a new request
        ("Thanks! " + "Also please refactor the module. " * 20, None),  # long: a new request, not a verdict
    ],
)
def test_the_users_last_turn_reads_as_thanks_or_complaint(last_turn, success):
    traj = run(("assistant", "message", "Done, the test passes now."), ("user", "message", last_turn))
    signal = user_signal(traj.steps)
    assert (signal.success if signal else None) is success
    if signal:
        assert (signal.rule, signal.step) == ("user", 2)


def test_the_opening_request_is_not_a_reaction():
    assert user_signal(run(("user", "message", "thanks in advance, it is broken")).steps) is None


def test_rules_are_tried_patch_then_tests_then_user():
    traj = run(*bash("pytest", "<returncode>0</returncode>"), ("user", "message", "still broken"))
    assert trace_signal(traj).rule == "tests"
    traj = run(*bash("git apply p.diff", "Hunk #1 FAILED at 3."), *bash("pytest", "<returncode>0</returncode>"))
    assert trace_signal(traj).rule == "patch"


def test_each_outcome_names_its_source():
    grader = with_outcome_source(run().model_copy(update={"success": True}))
    label = with_outcome_source(run(metadata={"label_id": "x"}).model_copy(update={"success": False}))
    signal = with_outcome_source(run(*bash("pytest", "<returncode>1</returncode>")))
    unknown = with_outcome_source(run())
    assert [t.metadata.get("outcome_source") for t in (grader, label, signal, unknown)] == ["grader", "label", "signal", None]
    assert signal.success is False and signal.metadata["outcome_signal"]["step"] == 2
    assert unknown.success is None


def test_real_files_get_their_signal_at_ingest():
    # mini-swe-agent v2: pytest's <returncode>1</returncode>, then only the submission.
    [mini] = [r for r in read_file(DATA / "mini_v2.traj.json") if isinstance(r, Trajectory)]
    assert (mini.success, mini.metadata["outcome_source"], mini.metadata["outcome_signal"]["rule"]) == (False, "signal", "tests")
    # Claude Code: the test failed, then the agent changed code and never re-ran it: no signal (the judge's case).
    session = next(r for r in read_file(DATA / "claude_code" / "7d3c1a52-4a8e-4f51-9d0e-1b2c3d4e5f60.jsonl") if isinstance(r, Trajectory))
    assert session.success is None and "outcome_source" not in session.metadata


@settings(max_examples=200, deadline=None)
@given(
    pad=st.integers(min_value=0, max_value=signals.EXCERPT_CHARS),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    kind=st.sampled_from(sorted(corpus.GENERATORS)),
    position=st.sampled_from(corpus.POSITIONS),
)
@example(pad=0, seed=1, kind="password", position="yaml")  # leaked when the excerpt was cut before redaction
def test_a_signals_excerpt_carries_no_piece_of_a_secret_wherever_the_cut_falls(tmp_path_factory, pad, seed, kind, position):
    # The excerpt is cut from the last test run's output. Cut before redaction, a URL cut before
    # its '@host' or a YAML password merged with the next line was no longer recognised.
    case = corpus.place(random.Random(seed), kind, position)
    doc = json.loads((DATA / "mini_v2.traj.json").read_text())
    doc["messages"][3]["content"] = f"<returncode>1</returncode> {'x' * pad} {case.text}"
    path = tmp_path_factory.mktemp("signal") / "run.traj.json"
    path.write_text(json.dumps(doc))
    (record,) = read_file(path)
    assert record.metadata["outcome_signal"]["rule"] == "tests"
    assert not corpus.leaked(case, record.model_dump_json())
