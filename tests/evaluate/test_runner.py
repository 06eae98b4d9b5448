"""The runner contract without Ray: placeholders, the task file, outcomes, errors and timeouts."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.evaluate.conftest import RUNNER, TOY_RUNNER
from trace2skill.command import build_command
from trace2skill.evaluate.runner import RunSpec, outcome_from_stdout, run_once


def spec(tmp_path: Path, skill: Path, task: dict, trial: int = 0) -> RunSpec:
    return RunSpec(task_id=task["id"], task=task, arm="baseline", skill_dir=str(skill), trial=trial, run_dir=str(tmp_path / "run"), cwd=str(tmp_path))


def test_placeholders_are_shell_quoted_and_other_braces_kept():
    command = build_command("echo {skill_dir} {task_id} '{\"a\": 1}' {unknown}", {"skill_dir": "/a b/c", "task_id": "x; rm -rf /"})
    assert command == "echo '/a b/c' 'x; rm -rf /' '{\"a\": 1}' {unknown}"


def test_task_text_is_data_not_command(tmp_path, skills):
    marker = tmp_path / "pwned"
    task = {"id": f"$(touch {marker})", "question": f"`touch {marker}`; touch {marker}", "easy": True}
    runner = f"{sys.executable} {TOY_RUNNER} {{skill_dir}} {{task_file}} {{out_dir}} {{trial}} {{task_id}}"
    row = run_once(spec(tmp_path, skills["baseline"], task), runner)
    assert row.status == "ok" and row.outcome is True
    assert not marker.exists()
    assert json.loads((tmp_path / "run" / "task.json").read_text()) == task


def test_outcome_follows_the_skill(tmp_path, skills):
    task = {"id": "t1", "question": "Change flight 1.", "rule": "always confirm the booking reference"}
    base = run_once(spec(tmp_path / "a", skills["baseline"], task), RUNNER)
    helped = run_once(spec(tmp_path / "b", skills["helpful"], task), RUNNER)
    assert (base.status, base.outcome, base.outcome_from, base.reward) == ("ok", False, "stdout", 0.0)
    assert (helped.status, helped.outcome, helped.exit_code) == ("ok", True, 0)


def test_outcome_read_from_a_trajectory_in_out_dir(tmp_path, skills):
    task = {"id": "t1", "question": "Change flight 1.", "rule": "always confirm the booking reference", "report": "trajectory"}
    row = run_once(spec(tmp_path, skills["helpful"], task), RUNNER)
    assert (row.status, row.outcome, row.outcome_from) == ("ok", True, "trajectory")
    assert row.trajectory_file.endswith("out/run.jsonl")


def test_fresh_out_dir_on_each_run(tmp_path, skills):
    task = {"id": "t1", "question": "q", "easy": True, "report": "trajectory"}
    run_once(spec(tmp_path, skills["baseline"], task), RUNNER)
    silent = run_once(spec(tmp_path, skills["baseline"], {**task, "silent": True}), RUNNER)
    assert silent.status == "error" and "no outcome" in silent.reason  # the first run's trajectory is gone


def test_crash_is_an_error_row_with_exit_code_and_stderr(tmp_path, skills):
    row = run_once(spec(tmp_path, skills["baseline"], {"id": "c", "crash": True}), RUNNER)
    assert (row.status, row.exit_code, row.outcome) == ("error", 3, None)
    assert "exit code 3" in row.reason and "crashed on purpose" in row.reason


def test_timeout_kills_the_whole_process_group(tmp_path, skills):
    pid_file = tmp_path / "child.pid"
    # the shell starts a grandchild that would outlive a plain kill of the shell
    runner = f"sleep 60 & echo $! > {pid_file}; wait"
    started = time.monotonic()
    row = run_once(spec(tmp_path, skills["baseline"], {"id": "slow"}), runner, timeout_s=0.5)
    assert row.status == "error" and row.exit_code is None and "timed out after 0.5 s" in row.reason
    assert time.monotonic() - started < 10
    assert not _alive(int(pid_file.read_text()))


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs a second after the run returned (a kill signal lands asynchronously)."""
    deadline = time.monotonic() + 1.0
    while True:
        try:  # a killed child nobody reaped yet is a zombie: dead, but still listed
            running = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            running = False
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.05)


@pytest.mark.parametrize(
    "tail, expected",
    [
        ('log\n{"success": true}', {"outcome": True, "reward": None}),
        ('{"reward": 0.5}', {"outcome": False, "reward": 0.5}),
        ('{"reward": 1}', {"outcome": True, "reward": 1.0}),
        ("", "nothing on stdout"),
        ("done", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"success": "yes"}', "expected true or false"),
        ('{"reward": "high"}', "expected a finite number"),
        ('{"other": 1}', "neither 'success' nor 'reward'"),
    ],
)
def test_outcome_from_stdout(tail, expected):
    found = outcome_from_stdout(tail, 1.0)
    if isinstance(expected, str):
        assert isinstance(found, str) and expected in found
    else:
        assert {k: found[k] for k in expected} == expected


def test_background_processes_do_not_outlive_the_run(tmp_path, skills):
    pid_file = tmp_path / "daemon.pid"
    runner = f"sleep 60 & echo $! > {pid_file}; echo '{{\"success\": true}}'"
    row = run_once(spec(tmp_path, skills["baseline"], {"id": "d"}), runner)
    assert row.status == "ok" and row.outcome is True
    assert not _alive(int(pid_file.read_text()))
