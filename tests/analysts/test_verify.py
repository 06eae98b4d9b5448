import json
import sys

import pytest

from trace2skill.analysts.analyze import analyze
from trace2skill.analysts.check import CheckerConfig
from trace2skill.analysts.verify import VerifierConfig, VerifierJob, reported_success, verify_result
from trace2skill.command import build_command
from trace2skill.llm.fake import FakeLLM
from trace2skill.analysts.context import SkillContext
from trace2skill.skill.folder import load_skill
from tests.conftest import EXAMPLES, make_trajectory

RUNNER = """
import json, pathlib, sys
skill_dir, task_file, out_dir, trial = sys.argv[1:5]
skill = (pathlib.Path(skill_dir) / "SKILL.md").read_text()
task = json.loads(pathlib.Path(task_file).read_text())
(pathlib.Path(out_dir) / "seen.json").write_text(json.dumps({"task": task, "trial": trial}))
print("agent log line")
print(json.dumps({"success": sys.argv[5] in skill}))
"""


@pytest.fixture
def s0():
    return load_skill(EXAMPLES / "skills" / "airline-support")


def analysed(s0, task="task f1"):
    traj = make_trajectory("f1", False, ["cancel_reservation"]).model_copy(update={"task": task, "task_key": "task_id:7"})
    return traj, analyze(traj, SkillContext.of(s0), FakeLLM())


def config(tmp_path, needle, **kw):
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    return VerifierConfig(command=f"{sys.executable} {script} {{skill_dir}} {{task_file}} {{out_dir}} {{trial}} '{needle}'", **kw)


def test_a_fix_that_makes_the_rerun_pass_is_verified(s0, tmp_path):
    traj, result = analysed(s0)
    checked = verify_result(result, traj, s0, config(tmp_path, "check every policy condition"), tmp_path / "v")
    assert checked.verified == "passed" and checked.patch == result.patch
    assert [lesson.verified for lesson in checked.lessons] == ["passed"] * len(result.lessons) and checked.lessons[0].content == result.lessons[0].content
    seen = json.loads((tmp_path / "v" / "out" / "seen.json").read_text())
    assert seen["task"]["task_id"] == "task_id:7" and seen["trial"] == "0"


@pytest.mark.parametrize("policy", ["keep", "down_weight", "drop"])
def test_unverified_diagnoses_follow_the_recipe(s0, tmp_path, policy):
    traj, result = analysed(s0)
    checked = verify_result(result, traj, s0, config(tmp_path, "words the fix never writes"), tmp_path / "v", CheckerConfig(failed=policy))
    assert checked.verified == "failed" and "the task still failed with the fix" in checked.notes[-1]
    if policy == "keep":
        assert checked.status == "analyzed" and checked.patch == result.patch
    elif policy == "down_weight":
        assert checked.status == "analyzed" and {lesson.verified for lesson in checked.lessons} == {"failed"} and checked.patch is None
    else:
        assert checked.status == "no_lesson" and not checked.lessons and "diagnosis failed: the task still failed" in checked.reason


def test_runner_failures_are_unverified_never_raised(s0, tmp_path):
    traj, result = analysed(s0)
    for command, reason in ((f"{sys.executable} -c 'import sys; sys.exit(3)'", "exited 3"), ("echo not json", "no outcome")):
        checked = verify_result(result, traj, s0, VerifierConfig(command=command), tmp_path / "v")
        assert checked.verified == "failed" and reason in checked.notes[-1]
    slow = VerifierConfig(command=f"{sys.executable} -c 'import time; time.sleep(5)'", timeout_s=0.5)
    assert "timed out" in verify_result(result, traj, s0, slow, tmp_path / "v").notes[-1]


def test_trajectory_text_never_reaches_the_command_line(s0, tmp_path):
    traj, result = analysed(s0, task="x'; touch pwned; echo '")
    job = VerifierJob(config=config(tmp_path, "check every policy condition"), s0=s0, work_dir=tmp_path / "verify")
    assert job.check(result, traj).verified == "passed"
    assert not list(tmp_path.rglob("pwned"))
    assert build_command("run {skill_dir} {other}", {"skill_dir": "a b; rm -rf /"}) == "run 'a b; rm -rf /' {other}"


def test_successes_and_unconfigured_runs_are_left_alone(s0, tmp_path):
    traj, result = analysed(s0)
    assert verify_result(result, traj, s0, VerifierConfig(), tmp_path) is result
    ok = make_trajectory("s", True, ["a"])
    ok_result = analyze(ok, SkillContext.of(s0), FakeLLM())
    assert verify_result(ok_result, ok, s0, config(tmp_path, "x"), tmp_path).verified == ""


def test_reported_outcome():
    assert reported_success('log\n{"success": true}\n', 1.0) is True
    assert reported_success('{"reward": 0.5}', 1.0) is False and reported_success('{"reward": 1}', 1.0) is True
    assert reported_success("", 1.0) is None and reported_success("[1]", 1.0) is None
