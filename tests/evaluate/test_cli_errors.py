"""`trace2skill evaluate` refuses bad input with one line, before any run starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.evaluate.conftest import EXAMPLE, RUNNER


@pytest.mark.parametrize(
    "tasks, extra, words",
    [
        (None, [], "tasks file not found"),
        ('{"id": 1}\n{"question": "no id"}\n', [], "line 2: every task needs an 'id'"),
        ('{"id": 1}\n{"id": "1"}\n', [], "task id '1' appears twice"),
        ("not json\n", [], "line 1: not JSON"),
        ('{"id": 1}\n', ["--resources-per-run", "{oops"], "--resources-per-run is not JSON"),
        ('{"id": 1}\n', ["--trials", "0"], "trials: Input should be greater than or equal to 1"),
        ('{"id": 1}\n', ["--candidate", "no/such/skill"], "skill folder not found: no/such/skill"),
    ],
)
def test_user_errors_are_one_line(tmp_path, tasks, extra, words):
    if tasks is not None:
        (tmp_path / "tasks.jsonl").write_text(tasks)
    args = ["evaluate", "--tasks", str(tmp_path / "tasks.jsonl"), "--runner", RUNNER, "--baseline", str(EXAMPLE / "skills" / "baseline"), "--out", str(tmp_path / "eval")]
    if "--candidate" not in extra:
        args += ["--candidate", str(EXAMPLE / "skills" / "helpful")]
    result = subprocess.run([sys.executable, "-m", "trace2skill.cli", *args, *extra], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0]
    assert not (tmp_path / "eval" / "runs").exists()
