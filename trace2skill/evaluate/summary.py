"""From the run rows to the verdict: per-arm rates, candidates against the baseline, ranking, promotion.

With several candidates the interval of each is widened by Bonferroni (level
``1 - alpha / m`` for ``m`` candidates), so that picking the best of N does not promote a
lucky one more often than ``alpha`` overall. A candidate passes the gate when its
interval's lower end is above ``min_gain``; the promoted one is the passing candidate with
the largest mean difference (ties: the higher lower end, then the order given).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pydantic import BaseModel, Field

from trace2skill.evaluate.runner import RunRow
from trace2skill.evaluate.stats import PairedResult, mean_interval, paired_comparison, wilson_interval

BASELINE = "baseline"
TEST_NAME = "exact two-sided sign test on per-task differences (McNemar's exact test when trials = 1)"


def candidate_arm(index: int) -> str:
    """The arm name of the ``index``-th candidate, counted from 1."""
    return f"candidate-{index}"


class ArmSummary(BaseModel):
    """One arm (skill) over all its runs: error runs are counted, not rated."""

    arm: str
    path: str
    success_rate: float | None = Field(description="Successful runs / runs with an outcome.")
    success_ci: tuple[float | None, float | None] = Field(description="Wilson interval of the rate at the report's level.")
    mean_reward: float | None = Field(description="Mean reward over runs that report one.")
    reward_ci: tuple[float | None, float | None]
    n: int = Field(description="Runs with an outcome (the rate's denominator).")
    errors: int = Field(description="Runs that exited non-zero, timed out or gave no outcome.")


class CandidateSummary(ArmSummary, PairedResult):
    """A candidate arm with its paired comparison against the baseline and the gate's verdict."""

    rank: int = Field(description="1 = largest mean difference.")
    passes_gate: bool = Field(description="ci_low > min_gain.")
    promoted: bool = Field(description="The best candidate that passes the gate.")


class EvaluationSummary(BaseModel):
    """``evaluation.json``: the gate's answer."""

    tasks: int
    trials: int
    alpha: float
    min_gain: float
    ci_level: float = Field(description="Level of each candidate's interval: 1 - alpha / candidates (Bonferroni).")
    test: str = TEST_NAME
    baseline: ArmSummary
    candidates: list[CandidateSummary]
    errors: int = Field(description="Error runs over all arms.")
    promoted: str | None = Field(None, description="Path of the promoted candidate, if any.")
    leakage: list[str] = Field(default_factory=list, description="Warnings: held-out task text found verbatim in a candidate.")

    def table(self) -> str:
        """The per-arm table printed by ``trace2skill evaluate``."""
        paired = f"{self.ci_level:.1%} CI"
        head = f"{'arm':<13} {'success':>8} {'95% CI':>15} {'n':>5} {'err':>4} {'delta':>7} {paired:>17} {'p':>7}  {'verdict':<12}  skill"
        lines = [head, "-" * len(head), f"{_arm_line(self.baseline)} {'':>7} {'':>17} {'':>7}  {'baseline':<12}  {self.baseline.path}"]
        for c in self.candidates:
            verdict = "PROMOTED" if c.promoted else "passes gate" if c.passes_gate else "not promoted"
            lines.append(f"{_arm_line(c)} {_num(c.delta, '+.3f'):>7} {_pair(c.ci_low, c.ci_high, '+.3f'):>17} {format_p(c.p_value):>7}  {verdict:<12}  {c.path}")
        return "\n".join(lines)


def _arm_line(arm: ArmSummary) -> str:
    return f"{arm.arm:<13} {_num(arm.success_rate, '.3f'):>8} {_pair(*arm.success_ci, '.3f'):>15} {arm.n:>5} {arm.errors:>4}"


def format_p(p: float | None) -> str:
    """A p-value for a table: three decimals, or two significant digits below 0.001."""
    return "-" if p is None else f"{p:.1e}" if 0 < p < 0.001 else f"{p:.3f}"


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _pair(low: float | None, high: float | None, fmt: str) -> str:
    return "-" if low is None or high is None else f"[{format(low, fmt)}, {format(high, fmt)}]"


def task_means(rows: Sequence[RunRow], arm: str) -> dict[str, float]:
    """Per task, the mean outcome of ``arm``'s runs that have one (trials averaged)."""
    per_task: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row.arm == arm and row.status == "ok":
            per_task[row.task].append(float(bool(row.outcome)))
    return {task: sum(v) / len(v) for task, v in per_task.items()}


def arm_summary(rows: Sequence[RunRow], arm: str, path: str, level: float) -> ArmSummary:
    """Rate, mean reward, intervals and counts of one arm."""
    mine = [r for r in rows if r.arm == arm]
    ok = [r for r in mine if r.status == "ok"]
    successes = sum(bool(r.outcome) for r in ok)
    rewards = [r.reward for r in ok if r.reward is not None]
    return ArmSummary(
        arm=arm,
        path=path,
        success_rate=successes / len(ok) if ok else None,
        success_ci=wilson_interval(successes, len(ok), level),
        mean_reward=sum(rewards) / len(rewards) if rewards else None,
        reward_ci=mean_interval(rewards, level),
        n=len(ok),
        errors=len(mine) - len(ok),
    )


def summarize(
    rows: Sequence[RunRow], *, baseline: str, candidates: Sequence[str], tasks: int, trials: int, alpha: float = 0.05, min_gain: float = 0.0, seed: int = 0
) -> EvaluationSummary:
    """The evaluation's verdict from all its run rows; ``candidates`` are paths in arm order."""
    level = 1 - alpha / max(1, len(candidates))
    base_means = task_means(rows, BASELINE)
    scored = []
    for i, path in enumerate(candidates, 1):
        arm = candidate_arm(i)
        paired = paired_comparison(base_means, task_means(rows, arm), level=level, seed=seed)
        passes = paired.ci_low is not None and paired.ci_low > min_gain
        scored.append((arm_summary(rows, arm, path, 0.95), paired, passes))
    order = sorted(range(len(scored)), key=lambda i: (-_or(scored[i][1].delta), -_or(scored[i][1].ci_low), i))
    best = next((i for i in order if scored[i][2]), None)
    summaries = [
        CandidateSummary(**arm.model_dump(), **paired.model_dump(), rank=order.index(i) + 1, passes_gate=passes, promoted=i == best)
        for i, (arm, paired, passes) in enumerate(scored)
    ]
    return EvaluationSummary(
        tasks=tasks,
        trials=trials,
        alpha=alpha,
        min_gain=min_gain,
        ci_level=level,
        baseline=arm_summary(rows, BASELINE, baseline, 0.95),
        candidates=summaries,
        errors=sum(r.status == "error" for r in rows),
        promoted=None if best is None else candidates[best],
    )


def _or(value: float | None) -> float:
    return float("-inf") if value is None else value
