"""``distill --max-prompt-tokens N``: analyse only what the budget pays for, and say so.

Two parts, both plain Python over the run dir's Parquet files:

- **Up front** (:func:`apply_budget`, after the read and the holdout split): every
  trajectory gets an estimated analysis prompt (``trace2skill.run.tokens``); when they do not
  all fit in N, a sample stratified by task x outcome is chosen (``trace2skill.run.sample``,
  seeded by ``--seed``) and the others move from ``trajectories.parquet`` to
  ``budget_skipped.parquet``. ``budget.json`` records how the sample was drawn.
- **While analysing** (:class:`PromptBudget`): the prompt tokens the analyses really
  spent (retries included) are added up as results arrive; once they reach N no new
  analysis is sent. What was left unsent is skipped too.

Every skipped trajectory is in the manifest with status ``skipped`` and a reason that
starts with ``budget``, so every input is still there exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trace2skill import parts
from trace2skill.analysts.analyze import AnalystSettings
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.models import AnalysisResult
from trace2skill.run.budget_report import BudgetReport
from trace2skill.run.checkpoint import ANALYSIS_DIR
from trace2skill.run.holdout import move_trajectories
from trace2skill.run.options import DistillConfig
from trace2skill.run.sample import budget_sample
from trace2skill.run.tokens import PromptEstimate, TokenCounter, analyst_config, token_counter, trajectory_chars
from trace2skill.schema import Trajectory, task_key

BUDGET_SKIPPED = "budget_skipped.parquet"
BUDGET_JSON = "budget.json"
SAMPLED_OUT = "budget: not in the sample stratified by task x outcome that fits --max-prompt-tokens {limit}"
UNSENT = "budget: the {limit} prompt tokens of --max-prompt-tokens were spent before its analysis was sent (or came back)"
CALIBRATION_ROWS = 32  # trajectories whose prompts are fitted for real to calibrate the estimate
COST_COLUMNS = ["id", "task_key", "task", "success", "steps"]


class PromptBudget:
    """The guard of the analysis stage: add the prompt tokens of each arriving result;
    ``spend`` answers True once the budget is spent and no new analysis should be sent.
    A budget of None never stops anything."""

    def __init__(self, limit: int | None, spent: int = 0):
        self.limit = limit
        self.spent = spent

    def spend(self, prompt_tokens: int) -> bool:
        self.spent += prompt_tokens
        return self.exhausted

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.spent >= self.limit


def stratum(row: dict) -> str:
    """A trajectory's stratum: its task (``schema.task_key``; a run with no task key and no
    task text is a task of its own) and its outcome."""
    task = task_key(row.get("task_key"), row.get("task")) or row["id"]
    outcome = {True: "success", False: "failure"}.get(row.get("success"), "unknown")
    return f"{task}\x1f{outcome}"


def estimate_costs(trajectories: Path, estimate: PromptEstimate) -> tuple[pa.Array, list[str], np.ndarray]:
    """Ids, strata and estimated prompt tokens of every row, read batch by batch."""
    ids, strata, costs = [], [], []
    for batch in parts.iter_batches(trajectories, COST_COLUMNS):
        success = batch.column("success").to_numpy(zero_copy_only=False)
        known = np.array([s is not None for s in success])
        costs.append(estimate.tokens(np.array([bool(s) for s in success]), known, trajectory_chars(batch)))
        ids.append(batch.column("id"))
        strata += [stratum(r) for r in batch.select(["id", "task_key", "task", "success"]).to_pylist()]
    return pa.concat_arrays(ids) if ids else pa.array([], pa.string()), strata, np.concatenate(costs) if costs else np.zeros(0, np.int64)


def calibration_sample(trajectories: Path, rows: int = CALIBRATION_ROWS) -> list[Trajectory]:
    """The first ``rows`` trajectories, to fit the estimate on."""
    for batch in parts.iter_batches(trajectories, batch_size=rows):
        return [Trajectory.from_row(r) for r in batch.to_pylist()]
    return []


def apply_budget(
    run_dir: Path, trajectories: Path, *, limit: int, seed: int, skill: SkillContext, config: AnalystSettings, count: TokenCounter, tokenizer: str
) -> BudgetReport:
    """Choose the trajectories ``limit`` prompt tokens pay for; move the others to
    ``budget_skipped.parquet``; write and return the report."""
    estimate = PromptEstimate.calibrate(calibration_sample(trajectories), skill, config, count, tokenizer)
    ids, strata, costs = estimate_costs(trajectories, estimate)
    sample = budget_sample(strata, costs, limit, seed)
    move_trajectories(trajectories, ids.filter(pa.array(~sample.selected)), run_dir / BUDGET_SKIPPED)
    report = BudgetReport(
        max_prompt_tokens=limit,
        trajectories=len(ids),
        selected=sample.selected_count,
        sampled_out=len(ids) - sample.selected_count,
        strata=sample.strata,
        seed=seed,
        tokenizer=tokenizer,
        estimated_tokens=sample.estimated_cost,
        estimated_selected_tokens=sample.selected_cost,
    )
    (run_dir / BUDGET_JSON).write_text(report.model_dump_json(indent=2))
    return report


def budget_run(cfg: DistillConfig, trajectories: Path, skill: SkillContext) -> BudgetReport:
    """:func:`apply_budget` with the run's budget, seed, analyst settings and the plan's tokenizer for its backend."""
    count, tokenizer = token_counter(cfg.backend)
    return apply_budget(cfg.resolved_run_dir, trajectories, limit=cfg.max_prompt_tokens, seed=cfg.seed, skill=skill, config=analyst_config(cfg), count=count, tokenizer=tokenizer)


def skipped_results(run_dir: Path, trajectories: Path) -> Iterator[list[AnalysisResult]]:
    """Manifest rows of the trajectories the budget skipped, a batch at a time: those sampled
    out, and those of the ``trajectories`` dataset with no result in the analysis parts (left
    unsent). Nothing without a budget."""
    if not (run_dir / BUDGET_JSON).is_file():
        return
    limit = f"{BudgetReport.model_validate_json((run_dir / BUDGET_JSON).read_text()).max_prompt_tokens:,}"
    if (run_dir / BUDGET_SKIPPED).is_file():
        for batch in parts.iter_batches(run_dir / BUDGET_SKIPPED, ["id", "source_file"]):
            yield _skipped(batch, SAMPLED_OUT.format(limit=limit))
    analysed = pa.concat_arrays([b.column("trajectory_id") for b in parts.iter_batches(run_dir / ANALYSIS_DIR, ["trajectory_id"])] or [pa.array([], pa.string())])
    for batch in parts.iter_batches(trajectories, ["id", "source_file"]):
        unsent = batch.filter(pc.invert(pc.is_in(batch.column("id"), value_set=analysed)))
        if unsent.num_rows:
            yield _skipped(unsent, UNSENT.format(limit=limit))


def _skipped(batch: pa.RecordBatch, reason: str) -> list[AnalysisResult]:
    return [AnalysisResult(trajectory_id=tid, source_file=src or "", status="skipped", reason=reason) for tid, src in zip(batch.column("id").to_pylist(), batch.column("source_file").to_pylist())]


def budget_report(run_dir: Path, spent: int, unsent: int) -> BudgetReport | None:
    """``budget.json`` completed with the prompt tokens the analyses spent and how many
    selected trajectories were left unsent."""
    if not (run_dir / BUDGET_JSON).is_file():
        return None
    report = BudgetReport.model_validate_json((run_dir / BUDGET_JSON).read_text())
    return report.model_copy(update={"spent_prompt_tokens": spent, "unsent": unsent})
