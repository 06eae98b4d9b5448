"""The agentic analyst's ``check`` tool: the proposed minimal fix judged by the user's checker.

As in the method's reference (``evaluate_output`` against the gold file), the analyst
confirms its diagnosis by writing the fix it implies and seeing the checker's verdict; a
model that finishes before any check passed is reminded once (while turns remain), and the
analysis's lessons then record ``verified`` (analysts/check.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from trace2skill.analysts.check import (
    Checker,
    CheckerConfig,
    CheckVerdict,
    apply_policy,
)
from trace2skill.analysts.models import AnalysisResult
from trace2skill.llm.base import Message
from trace2skill.prompting import fence_data, load_prompt

PACKAGE = "trace2skill.analysts"
PROPOSAL_CHARS = 8000
CHECK_REMINDER = load_prompt(PACKAGE, "agentic_check_reminder").template.split("\n", 1)[1].strip()


class CheckFix(BaseModel):
    """Check your proposed minimal fix of this run (a corrected answer, an action list as JSON, a unified diff or a file) against the task's checker."""

    tool: Literal["check"]
    proposal: str = Field(min_length=1, max_length=PROPOSAL_CHARS, description="The minimal fix, exactly as the task is graded on.")


class FixChecks:
    """The checks of one analysis: runs them, counts them, remembers a pass and the one reminder."""

    def __init__(self, checker: Checker, task: dict[str, Any]):
        self.checker, self.task = checker, task
        self.ran, self.passed, self.reminded, self.last_detail = 0, False, False, ""

    def run(self, proposal: str) -> str:
        """The observation of checking ``proposal``; a checker that raises is a failed check."""
        self.ran += 1
        try:
            verdict = self.checker(self.task, proposal)
        except Exception as exc:  # noqa: BLE001 - the Ray task or the checker's harness failed, not the analysis
            verdict = CheckVerdict(passed=False, detail=f"checker error: {type(exc).__name__}: {exc}")
        self.passed = self.passed or verdict.passed
        self.last_detail = verdict.detail
        return f"Check {self.ran}: {'PASS' if verdict.passed else 'FAIL'}\n{fence_data(verdict.detail)}"

    def remind(self, turns_left: bool) -> bool:
        """Whether a finish now gets the reminder instead of ending: no pass yet, turns left, not reminded before."""
        if self.passed or self.reminded or not turns_left:
            return False
        self.reminded = True
        return True

    def settle(self, result: AnalysisResult, config: CheckerConfig) -> AnalysisResult:
        """``result`` marked passed (a check passed) or failed (none did), with the recipe's policy applied."""
        if self.passed:
            return apply_policy(result, "passed", config)
        reason = f"no passing check in {self.ran}; last: {self.last_detail[:200]}" if self.ran else "no fix was checked"
        return apply_policy(result, "failed", config, reason)


def with_check_guide(convo: list[Message], checks: FixChecks | None) -> list[Message]:
    """``convo`` with the check tool's guide after the system message's tools guide (unchanged without a checker)."""
    if checks is None:
        return convo
    guide = load_prompt(PACKAGE, "agentic_check").template.split("\n", 1)[1].strip()
    return [Message(role="system", content=f"{convo[0].content}\n\n{guide}"), *convo[1:]]
