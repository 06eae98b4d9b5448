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
from trace2skill.analysts.models import AnalysisResult
from trace2skill.llm.base import LLMClient
from trace2skill.schema import Trajectory

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
    pairing stage ran); an error in it is this row's ``failed`` result. A result no checker
    judged is marked ``unchecked``, under the recipe's policy for those."""
    try:
        pairing = row.get(PAIRING)
        result = run_analyst(Trajectory.from_row(row), skill, llm, config, Pairing.model_validate_json(pairing) if pairing else None, checker)
        return result if result.verified else apply_policy(result, "unchecked", config.checker)
    except Exception as exc:  # the analysis code failed: this trajectory fails, not its batch
        return call_failed(row, exc)


def analyze_rows(
    rows: list[dict[str, Any]], skill: SkillContext, llm: LLMClient, config: AnalystSettings, pool: Executor, checker: Checker | None = None
) -> list[AnalysisResult]:
    """Every row's analysis, run on ``pool`` (its size bounds the analyses in flight), in row order."""
    futures = [pool.submit(analyze_row, row, skill, llm, config, checker) for row in rows]
    return [f.result() for f in futures]
