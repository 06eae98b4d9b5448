"""The shipped checkers (examples/checkers/), run through the checker contract as distill runs them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from trace2skill.analysts.check import run_check, task_object
from trace2skill.ingest import read_file

TAU = EXAMPLES / "checkers" / "tau_actions.py"
PATCH = EXAMPLES / "checkers" / "patch_tests.py"


def tau_check(task: dict, proposal, tmp_path: Path):
    text = proposal if isinstance(proposal, str) else json.dumps(proposal)
    return run_check(f"{sys.executable} {TAU} {{task_file}} {{proposal_file}} {{out_dir}}", task, text, tmp_path / "w", 30)


@pytest.fixture(scope="module")
def graded_failures():
    trajs = [t for t in read_file(EXAMPLES / "airline" / "tau_bench_results.json") if t.success is False and t.grader and t.grader.expected_actions]
    assert trajs
    return trajs


def test_the_expected_actions_pass_for_every_bundled_failure(graded_failures, tmp_path):
    for traj in graded_failures:
        expected = [json.loads(a) for a in traj.grader.expected_actions]
        verdict = tau_check(task_object(traj), expected, tmp_path / traj.id)
        assert verdict.passed, (traj.id, verdict.detail)


def test_a_changed_argument_or_a_missing_call_fails_and_says_which(graded_failures, tmp_path):
    traj = graded_failures[0]
    expected = [json.loads(a) for a in traj.grader.expected_actions]
    changed = json.loads(json.dumps(expected))
    first = changed[0]
    key = next(iter(first["kwargs"]))
    first["kwargs"][key] = "SOMETHING-ELSE"
    verdict = tau_check(task_object(traj), changed, tmp_path / "a")
    assert not verdict.passed and "missing write call" in verdict.detail and "SOMETHING-ELSE" in verdict.detail
    verdict = tau_check(task_object(traj), expected[1:], tmp_path / "b")
    assert not verdict.passed and f"missing write call: {expected[0]['name']}" in verdict.detail


def test_reads_do_not_count_and_outputs_must_be_told():
    task = {"grader": {"expected_actions": [json.dumps({"name": "get_user_details", "kwargs": {"user_id": "u"}}),
                                            json.dumps({"name": "cancel_reservation", "kwargs": {"reservation_id": "R1"}})],
                       "reference_answers": ["1,200"]}}
    sys.path.insert(0, str(TAU.parent))
    try:
        from tau_actions import judge
    finally:
        sys.path.pop(0)
    cancel = {"name": "cancel_reservation", "arguments": {"reservation_id": "R1"}}
    assert not judge(task, json.dumps([cancel]))["pass"]  # the output was never told
    told = {"name": "respond", "kwargs": {"content": "Your refund is 1200 dollars."}}
    assert judge(task, json.dumps([{"name": "search_direct_flight", "kwargs": {}}, cancel, told]))["pass"]
    assert "unexpected write call: cancel_reservation" in judge(task, json.dumps([cancel, cancel, told]))["detail"]
    assert "not JSON" in judge(task, "cancel it")["detail"] and "list" in judge(task, "{}")["detail"]


@pytest.fixture
def repo(tmp_path):
    """A tiny git repository with a failing test: add() subtracts."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "test_calc.py").write_text("from calc import add\n\nassert add(2, 3) == 5, 'add(2, 3) is not 5'\nprint('tests passed')\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root)]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    return root


FIX = """--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
"""
WRONG = FIX.replace("a + b", "a * b")


def patch_check(repo: Path, proposal: str, work: Path):
    cmd = f"{sys.executable} {PATCH} --repo {repo} --test '{sys.executable} test_calc.py' {{task_file}} {{proposal_file}} {{out_dir}}"
    return run_check(cmd, {"task_id": "calc-1"}, proposal, work, 60)


def test_a_patch_that_fixes_the_tests_passes_and_the_repo_is_untouched(repo, tmp_path):
    verdict = patch_check(repo, FIX, tmp_path / "w")
    assert verdict.passed and "tests passed" in verdict.detail
    assert "a - b" in (repo / "calc.py").read_text() and "a + b" in (tmp_path / "w" / "out" / "repo" / "calc.py").read_text()


def test_a_wrong_patch_fails_with_the_test_output(repo, tmp_path):
    verdict = patch_check(repo, WRONG, tmp_path / "w")
    assert not verdict.passed and "add(2, 3) is not 5" in verdict.detail


def test_a_patch_that_does_not_apply_says_so(repo, tmp_path):
    verdict = patch_check(repo, FIX.replace("a - b", "a - c"), tmp_path / "w")
    assert not verdict.passed and "does not apply" in verdict.detail


def test_repos_dir_takes_the_task_id_as_a_plain_folder_name(repo, tmp_path):
    cmd = f"{sys.executable} {PATCH} --repos-dir {repo.parent} --test '{sys.executable} test_calc.py' {{task_file}} {{proposal_file}} {{out_dir}}"
    assert run_check(cmd, {"task_id": "repo"}, FIX, tmp_path / "a", 60).passed
    escaped = run_check(cmd, {"task_id": "../repo"}, FIX, tmp_path / "b", 60)
    assert not escaped.passed and "not a plain folder name" in escaped.detail
