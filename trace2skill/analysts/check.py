"""Checked diagnoses: the user's checker judges an analyst's proposed minimal fix.

The method keeps an error analysis only when its minimal fix passes the task's evaluator
(the reference runs ``evaluate_output`` against the gold file). Here the evaluator is any
command the user plugs in (``distill --checker``), with the placeholders ``{task_file}
{proposal_file} {out_dir}``, each replaced by its shell-quoted value (``trace2skill.command``,
as for ``evaluate --runner``). The task file is JSON: the task, its id, the trajectory's
id, metadata and the grader's view (expected actions, reference answers, checks). The
proposal file holds the fix exactly as the analyst wrote it (a corrected answer, an action
list, a patch or a file). The command prints ``{"pass": true|false, "detail": "..."}`` as
the last line of its stdout. It runs with a timeout in a process group of its own; a
timeout, a non-zero exit or a missing or malformed verdict is a failed check whose detail
says why. No text of the trajectory reaches the command line: it goes into the files only.

Each lesson then records ``verified``: ``passed`` (a check passed), ``failed`` (checks ran,
none passed) or ``unchecked`` (no checker ran). :func:`apply_policy` applies the recipe's
choice for failed and for unchecked diagnoses: ``keep``, ``down_weight`` or ``drop``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trace2skill.analysts.models import AnalysisResult
from trace2skill.command import build_command, run_in_group, tail
from trace2skill.schema import Trajectory, Verified

Policy = Literal["keep", "down_weight", "drop"]
DETAIL_CHARS = 4000  # of a verdict's detail shown to the analyst


class CheckerConfig(BaseModel):
    """The ``analyst.checker`` section of a recipe: the check tool's command, and what
    consolidation does with failed and unchecked diagnoses (docs/analysts.md)."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = Field(None, description="Checker template with {task_file} {proposal_file} {out_dir}; unset: no check tool.")
    timeout_s: float = Field(120.0, gt=0, description="Seconds one check may take; the checker's process group is killed past it.")
    failed: Policy = Field(
        "down_weight", description="Diagnoses whose fix failed every check: keep them, keep the lessons but withhold their edits (no support), or drop them."
    )
    unchecked: Policy = Field("keep", description="Diagnoses no checker judged (no checker, a success, single mode): keep, down_weight or drop.")


class CheckVerdict(BaseModel):
    """What the checker said of one proposal."""

    passed: bool
    detail: str = ""


Checker = Callable[[dict[str, Any], str], CheckVerdict]  # (task file object, proposal) -> verdict


def task_object(traj: Trajectory) -> dict[str, Any]:
    """What the task file holds for ``traj``: the task, its id, metadata and the grader's view."""
    return {
        "task_id": traj.task_key or traj.id,
        "task": traj.task,
        "trajectory_id": traj.id,
        "metadata": traj.metadata,
        "grader": traj.grader.model_dump() if traj.grader is not None else None,
    }


def parse_verdict(stdout_tail: str) -> CheckVerdict:
    """The verdict on the last non-empty stdout line; a failed one saying why when there is none."""
    lines = [line for line in stdout_tail.splitlines() if line.strip()]
    if not lines:
        return CheckVerdict(passed=False, detail='checker error: nothing on stdout (expected {"pass": true|false, "detail": "..."})')
    try:
        value = json.loads(lines[-1])
    except json.JSONDecodeError:
        return CheckVerdict(passed=False, detail=f"checker error: the last stdout line is not JSON: {lines[-1][:200]!r}")
    if not isinstance(value, dict) or not isinstance(value.get("pass"), bool):
        return CheckVerdict(passed=False, detail=f'checker error: expected {{"pass": true|false, "detail": "..."}}, got {lines[-1][:200]!r}')
    return CheckVerdict(passed=value["pass"], detail=str(value.get("detail", ""))[:DETAIL_CHARS])


def run_check(template: str, task: dict[str, Any], proposal: str, work_dir: Path, timeout_s: float) -> CheckVerdict:
    """Run the checker ``template`` on ``proposal`` for ``task`` in ``work_dir``; never raises for what the checker does."""
    out_dir = work_dir / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    task_file, proposal_file = work_dir / "task.json", work_dir / "proposal.txt"
    task_file.write_text(json.dumps(task, ensure_ascii=False), encoding="utf-8")
    proposal_file.write_text(proposal, encoding="utf-8")
    values = {"task_file": str(task_file.resolve()), "proposal_file": str(proposal_file.resolve()), "out_dir": str(out_dir.resolve())}
    stdout, stderr = work_dir / "stdout.txt", work_dir / "stderr.txt"
    code, timed_out = run_in_group(build_command(template, values), cwd=work_dir, stdout=stdout, stderr=stderr, timeout_s=timeout_s)
    if timed_out:
        return CheckVerdict(passed=False, detail=f"checker error: timed out after {timeout_s:g} s (process group killed)")
    if code != 0:
        return CheckVerdict(passed=False, detail=f"checker error: exit code {code}; stderr: {tail(stderr, 500)}")
    return parse_verdict(tail(stdout))


def check_in_scratch(template: str, task: dict[str, Any], proposal: str, timeout_s: float) -> CheckVerdict:
    """:func:`run_check` in a fresh temporary folder, removed afterwards (one per check, on any node)."""
    with tempfile.TemporaryDirectory(prefix="t2s-check-") as scratch:
        return run_check(template, task, proposal, Path(scratch), timeout_s)


def apply_policy(result: AnalysisResult, verified: Verified, config: CheckerConfig, reason: str = "") -> AnalysisResult:
    """``result`` and its lessons marked ``verified``, and what the recipe says for that
    value (a passed one is kept): ``keep`` it, ``down_weight`` it (lessons kept, edits
    withheld, so it adds no support to a topic's edits), or ``drop`` it (``no_lesson``)."""
    policy = {"passed": "keep", "failed": config.failed, "unchecked": config.unchecked}[verified]
    lessons = [lesson.model_copy(update={"verified": verified}) for lesson in result.lessons]
    notes = [*result.notes, f"check {verified}: {reason}"] if verified == "failed" and reason else result.notes
    marked = result.model_copy(update={"verified": verified, "lessons": lessons, "notes": notes})
    if result.status != "analyzed" or policy == "keep":
        return marked
    if policy == "down_weight":
        return marked.model_copy(update={"patch": None})
    return marked.model_copy(update={"status": "no_lesson", "reason": f"diagnosis {verified}{': ' + reason if reason else ''}", "lessons": [], "patch": None})
