"""The checker contract: placeholders quoted, files only, timeouts kill the group, bad output is a recorded failure."""

import json
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import make_trajectory
from tests.evaluate.test_runner import _alive
from trace2skill.analysts.check import (
    CheckerConfig,
    apply_policy,
    parse_verdict,
    run_check,
    task_object,
)
from trace2skill.analysts.models import AnalysisResult
from trace2skill.schema import Edit, Lesson, Patch

PY = sys.executable


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "checker.py"
    path.write_text(body)
    return f"{PY} {path}"


def test_a_checker_reads_the_files_its_placeholders_name(tmp_path):
    cmd = script(tmp_path, "import json, sys\nt = json.load(open(sys.argv[1])); p = open(sys.argv[2]).read()\n"
                 "open(sys.argv[3] + '/seen', 'w').write(p)\nprint(json.dumps({'pass': p == 'fix', 'detail': t['task_id']}))\n")
    work = tmp_path / "a dir with spaces; $(x)"
    verdict = run_check(cmd + " {task_file} {proposal_file} {out_dir}", {"task_id": "t1"}, "fix", work, 10)
    assert verdict.passed and verdict.detail == "t1" and (work / "out" / "seen").read_text() == "fix"


def test_trajectory_text_never_reaches_the_command_line(tmp_path):
    hostile = "'; touch PWNED; echo '$(touch PWNED2)`touch PWNED3`"
    cmd = script(tmp_path, "import sys\nprint(open(sys.argv[2]).read() and '{\"pass\": false, \"detail\": \"read\"}')\n")
    traj = make_trajectory("x", False, ["a_tool"]).model_copy(update={"task": hostile, "task_key": hostile})
    verdict = run_check(cmd + " {task_file} {proposal_file} {out_dir}", task_object(traj), hostile, tmp_path / "w", 10)
    assert not verdict.passed and verdict.detail == "read"
    assert not list(tmp_path.rglob("PWNED*")) and json.loads((tmp_path / "w" / "task.json").read_text())["task"] == hostile


def test_a_timeout_kills_the_whole_process_group(tmp_path):
    cmd = "sh -c 'sleep 60 & echo $! > {out_dir}/child.pid; wait'"
    started = time.monotonic()
    verdict = run_check(cmd, {}, "p", tmp_path, 1.0)
    assert not verdict.passed and "timed out after 1 s (process group killed)" in verdict.detail
    assert time.monotonic() - started < 10
    assert not _alive(int((tmp_path / "out" / "child.pid").read_text()))


@pytest.mark.parametrize(
    ("stdout", "detail"),
    [
        ("", "nothing on stdout"),
        ("all good\n", "is not JSON"),
        ('{"passed": true}', "expected {\"pass\""),
        ('{"pass": "yes"}', "expected {\"pass\""),
    ],
)
def test_bad_output_is_a_failed_check_that_says_why(stdout, detail):
    verdict = parse_verdict(stdout)
    assert not verdict.passed and verdict.detail.startswith("checker error:") and detail in verdict.detail


def test_a_crashing_checker_is_a_failed_check_with_its_stderr(tmp_path):
    cmd = script(tmp_path, "import sys\nprint('boom', file=sys.stderr)\nsys.exit(4)\n")
    verdict = run_check(cmd, {}, "p", tmp_path / "w", 10)
    assert not verdict.passed and "exit code 4" in verdict.detail and "boom" in verdict.detail


def test_the_last_json_line_is_the_verdict(tmp_path):
    assert parse_verdict('progress...\n{"pass": true, "detail": "ok"}\n\n').model_dump() == {"passed": True, "detail": "ok"}


def analysed() -> AnalysisResult:
    lesson = Lesson(id="l1", trajectory_id="t", kind="failure", title="Ask", content="Ask before acting.", topic="consent")
    patch = Patch(id="p1", edits=[Edit(op="add_section", section="Consent", content="Ask first.")], lesson_ids=["l1"], trajectory_ids=["t"])
    return AnalysisResult(trajectory_id="t", status="analyzed", lessons=[lesson], patch=patch)


def test_policies_for_failed_and_unchecked_diagnoses():
    config = CheckerConfig(failed="down_weight", unchecked="drop")
    passed = apply_policy(analysed(), "passed", config)
    assert passed.verified == "passed" and passed.patch and passed.lessons[0].verified == "passed"
    failed = apply_policy(analysed(), "failed", config, "wrong call")
    assert failed.status == "analyzed" and failed.patch is None and failed.lessons[0].verified == "failed" and "wrong call" in failed.notes[-1]
    dropped = apply_policy(analysed(), "unchecked", config)
    assert dropped.status == "no_lesson" and not dropped.lessons and dropped.verified == "unchecked"
    kept = apply_policy(analysed(), "unchecked", CheckerConfig())
    assert kept.patch and kept.lessons[0].verified == "unchecked"
