"""The agentic analyst's check tool, end to end: scripted analysts, the real tau checker, lessons.parquet."""

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest

from tests.analysts.test_agentic import failure
from tests.analysts.test_analyze import SKILL
from tests.llm.openai_server import ChatServer
from trace2skill.analysts.agentic import (
    CheckingAnalystAction,
    analyze_agentic,
    tool_definitions,
)
from trace2skill.analysts.analyze import AnalystSettings
from trace2skill.analysts.batch import analyze_rows
from trace2skill.analysts.check import CheckerConfig, CheckVerdict, run_check
from trace2skill.llm.fake import FakeLLM
from trace2skill.llm.openai import OpenAILLM
from trace2skill.llm.structured import schema_of
from trace2skill.run.checkpoint import write_analysis_part
from trace2skill.run.outputs import LESSONS, write_lesson_parts
from trace2skill.schema import GraderView

TAU_CHECKER = Path(__file__).resolve().parents[2] / "examples" / "checkers" / "tau_actions.py"
EXPECTED = [{"name": "get_user_details", "kwargs": {"user_id": "u1"}}, {"name": "cancel_reservation", "kwargs": {"reservation_id": "R1"}}]


def graded(tid: str, note: str = ""):
    grader = GraderView(source="tau_bench info", expected_actions=[json.dumps(a, sort_keys=True) for a in EXPECTED])
    return failure(tid, note).model_copy(update={"grader": grader})


class TauChecker:
    """The shipped tau checker run through the checker contract, remembering what it was asked."""

    def __init__(self, tmp_path: Path):
        self.tmp_path, self.calls = tmp_path, []

    def __call__(self, task: dict, proposal: str) -> CheckVerdict:
        self.calls.append((task, proposal))
        work = self.tmp_path / f"check-{len(self.calls)}"
        return run_check(f"{sys.executable} {TAU_CHECKER} {{task_file}} {{proposal_file}} {{out_dir}}", task, proposal, work, 30)


def lessons_of(rows, tmp_path, checker, config):
    with ThreadPoolExecutor(2) as pool:
        results = analyze_rows([t.to_row() for t in rows], SKILL, FakeLLM(), config, pool, checker)
    part = write_analysis_part(tmp_path / "run", results)
    write_lesson_parts([part], tmp_path / "run")
    return results, pl.read_parquet(tmp_path / "run" / LESSONS)


def test_a_passing_and_a_failing_check_end_in_lessons_parquet(tmp_path):
    checker = TauChecker(tmp_path)
    config = AnalystSettings(mode="agentic", checker=CheckerConfig(command="(set by the replica)", failed="keep"))
    results, lessons = lessons_of([graded("good"), graded("bad", "[fake:wrong-fix]")], tmp_path, checker, config)
    by_id = {r.trajectory_id: r for r in results}
    assert by_id["good"].verified == "passed" and by_id["bad"].verified == "failed"
    assert by_id["good"].turns == 4  # view, grader, check (pass), finish
    assert by_id["bad"].turns == 6  # view, grader, check (fail), finish -> reminder, check (fail), finish
    assert "no passing check in 2" in by_id["bad"].notes[-1] and "unexpected write call: fake_wrong_action" in by_id["bad"].notes[-1]
    verified = dict(zip(lessons["trajectory_id"], lessons["verified"]))
    assert verified == {"good": "passed", "bad": "failed"}
    proposal = next(p for task, p in checker.calls if task["trajectory_id"] == "good")
    assert json.loads(proposal) == EXPECTED  # the fix written from the grader's view, checked through the files


def test_without_a_checker_lessons_are_unchecked_and_the_policy_applies(tmp_path):
    config = AnalystSettings(mode="agentic", checker=CheckerConfig(unchecked="down_weight"))
    results, lessons = lessons_of([graded("g")], tmp_path, None, config)
    assert results[0].verified == "unchecked" and results[0].patch is None and set(lessons["verified"]) == {"unchecked"}


def test_a_failed_check_is_down_weighted_by_default(tmp_path):
    r = analyze_agentic(graded("bad", "[fake:wrong-fix]"), SKILL, FakeLLM(), AnalystSettings(mode="agentic"), checker=TauChecker(tmp_path))
    assert r.status == "analyzed" and r.verified == "failed" and r.lessons and r.patch is None


def test_no_reminder_when_the_turns_are_spent(tmp_path):
    r = analyze_agentic(graded("bad", "[fake:wrong-fix]"), SKILL, FakeLLM(), AnalystSettings(mode="agentic", max_turns=4), checker=TauChecker(tmp_path))
    assert r.turns == 4 and r.verified == "failed"


def test_the_check_tool_is_offered_only_with_a_checker():
    names = [t["function"]["name"] for t in tool_definitions(schema_of(CheckingAnalystAction))]
    assert names == ["view_steps", "search", "show_sibling", "show_grader", "check", "finish"]


@pytest.fixture
def server():
    with ChatServer() as s:
        yield s


def test_tool_calling_engine_checks_and_gets_the_reminder(server, tmp_path):
    llm = OpenAILLM(server.base_url, "m")
    try:
        r = analyze_agentic(graded("bad", "[fake:wrong-fix]"), SKILL, llm, AnalystSettings(mode="agentic"), checker=TauChecker(tmp_path))
    finally:
        llm.close()
    bodies = [b for b in server.requests if "tools" in b]
    assert "check" in {t["function"]["name"] for t in bodies[0]["tools"]}
    assert "A checker is plugged in" in bodies[0]["messages"][0]["content"]
    observations = [m["content"] for m in bodies[-1]["messages"] if m["role"] == "user"]
    assert any("Check 1: FAIL" in o for o in observations) and any("[System check]" in o for o in observations)
    assert r.verified == "failed" and r.turns == len(bodies) == 6
