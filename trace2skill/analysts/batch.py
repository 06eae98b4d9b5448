"""A batch of trajectory rows analysed concurrently against one engine.

The analysis stage sends a replica one batch per request (fewer hops than a request per
trajectory); the replica runs the batch's analyses on a thread pool it shares among its
requests, each analysis still one engine request (or one agentic loop), so engines keep
batching and prefix-caching across them. An engine that cannot run calls at once (the
embedded llama.cpp model) serializes them itself. One trajectory's error fails that
trajectory, never the batch.
"""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any

from trace2skill.analysts.agentic import run_analyst
from trace2skill.analysts.analyze import AnalystSettings
from trace2skill.analysts.check import Checker, apply_policy
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.contrast import Pairing, with_contrast
from trace2skill.analysts.judge import judge_outcome
from trace2skill.analysts.models import AnalysisResult
from trace2skill.llm.base import LLMClient, LLMError
from trace2skill.schema import OUTCOME_SOURCE, Trajectory

PAIRING = "pairing"  # a failure's successful sibling (JSON of a Pairing; null: none), from the pairing stage


def call_failed(row: dict[str, Any], error: BaseException) -> AnalysisResult:
    """The ``failed`` result of a row whose analysis raised ``error``; the manifest still
    names the sibling the failure was paired with."""
    reason = f"analyst call failed: {type(error).__name__}: {error}"
    failed = AnalysisResult(trajectory_id=row["id"], source_file=row.get("source_file") or "", status="failed", reason=reason)
    pairing = row.get(PAIRING)
    return with_contrast(failed, Pairing.model_validate_json(pairing) if pairing else None)


def analyze_row(row: dict[str, Any], skill: SkillContext, llm: LLMClient, config: AnalystSettings, checker: Checker | None = None) -> AnalysisResult:
    """The analysis of one ``trajectories.parquet`` row (with its ``pairing`` column, when the
    pairing stage ran); an error in it is this row's ``failed`` result. A run whose outcome is
    unknown is first put to the outcome judge (``analysts.judge``) when ``config.judge``. A
    result no checker judged is marked ``unchecked``, under the recipe's policy for those."""
    try:
        traj, pairing = Trajectory.from_row(row), row.get(PAIRING)
        if traj.success is None and config.judge:
            base = {"trajectory_id": traj.id, "source_file": traj.source_file}
            try:
                traj, usage, why = judge_outcome(traj, llm, context_tokens=config.context_tokens, min_confidence=config.judge_min_confidence, retries=config.retries)
            except LLMError as exc:  # no valid verdict within the retries: failed, like an analyst's call
                return AnalysisResult(**base, status="failed", reason=f"outcome_judge: {exc}", usage=exc.usage)
            if why:
                return AnalysisResult(**base, status="no_lesson", reason=f"outcome unknown: {why}", usage=usage)
        else:
            usage = None
        result = run_analyst(traj, skill, llm, config, Pairing.model_validate_json(pairing) if pairing else None, checker)
        result = result if result.verified else apply_policy(result, "unchecked", config.checker)
        source = traj.metadata.get(OUTCOME_SOURCE, "")
        # Each lesson says how its run's outcome was known, so a lesson from a judged run can be told apart downstream.
        lessons = [lesson.model_copy(update={"metadata": {**lesson.metadata, OUTCOME_SOURCE: source}}) for lesson in result.lessons]
        update = {"outcome_source": source, "lessons": lessons}
        if usage is not None:  # the judge's call counts with the analysis it led to
            update["usage"] = result.usage + usage
        return result.model_copy(update=update)
    except Exception as exc:  # the analysis code failed: this trajectory fails, not its batch
        return call_failed(row, exc)


def analyze_rows(
    rows: list[dict[str, Any]], skill: SkillContext, llm: LLMClient, config: AnalystSettings, pool: Executor, checker: Checker | None = None
) -> list[AnalysisResult]:
    """Every row's analysis, run on ``pool`` (its size bounds the analyses in flight), in row order."""
    futures = [pool.submit(analyze_row, row, skill, llm, config, checker) for row in rows]
    return [f.result() for f in futures]
