"""The statistics of the gate: intervals per arm and the paired comparison of a candidate with the baseline.

Rates get Wilson score intervals (right at 0 % and 100 % and for small n, where the
normal approximation is not); mean rewards a Student-t interval. A candidate is compared
with the baseline task by task: each task's trials are averaged per arm, the difference
is taken per task, and the mean difference gets a percentile interval from a paired
bootstrap over tasks (numpy, seeded) and a p-value from the exact two-sided sign test on
the per-task differences (ties dropped). With one trial per task and binary outcomes the
sign test is exactly McNemar's exact test on the discordant tasks.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel
from scipy import stats

BOOTSTRAP_RESAMPLES = 10_000
_CHUNK = 1_000  # resamples drawn at once: bounds the index matrix at _CHUNK x tasks


def wilson_interval(successes: int, n: int, level: float) -> tuple[float | None, float | None]:
    """Wilson score interval of a rate at confidence ``level``; (None, None) when ``n`` is 0."""
    if n == 0:
        return None, None
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def mean_interval(values: list[float], level: float) -> tuple[float | None, float | None]:
    """Student-t interval of a mean; the value itself when all values agree, (None, None) for fewer than 2."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (None, None)
    arr = np.asarray(values, dtype=float)
    sem = stats.sem(arr)
    if sem == 0:
        return float(arr.mean()), float(arr.mean())
    low, high = stats.t.interval(level, len(arr) - 1, loc=arr.mean(), scale=sem)
    return float(low), float(high)


class PairedResult(BaseModel):
    """A candidate against the baseline over the tasks both have outcomes for."""

    n_tasks: int
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    wins: int
    losses: int
    ties: int


def paired_comparison(baseline: Mapping[str, float], candidate: Mapping[str, float], *, level: float, seed: int, resamples: int = BOOTSTRAP_RESAMPLES) -> PairedResult:
    """Mean per-task difference ``candidate - baseline`` with its paired bootstrap interval and sign-test p-value.

    ``baseline`` and ``candidate`` map task ids to that task's mean outcome in the arm;
    tasks missing from either side (every run of it an error) are left out.
    """
    tasks = sorted(set(baseline) & set(candidate))
    diffs = np.array([candidate[t] - baseline[t] for t in tasks], dtype=float)
    wins, losses = int((diffs > 0).sum()), int((diffs < 0).sum())
    if not tasks:
        return PairedResult(n_tasks=0, delta=None, ci_low=None, ci_high=None, p_value=None, wins=0, losses=0, ties=0)
    low, high = bootstrap_interval(diffs, level=level, seed=seed, resamples=resamples)
    p_value = float(stats.binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else 1.0
    return PairedResult(
        n_tasks=len(tasks), delta=float(diffs.mean()), ci_low=low, ci_high=high, p_value=p_value, wins=wins, losses=losses, ties=len(tasks) - wins - losses
    )


def bootstrap_interval(diffs: np.ndarray, *, level: float, seed: int, resamples: int) -> tuple[float, float]:
    """Percentile interval of the mean of ``diffs`` over ``resamples`` resamples of the tasks with replacement."""
    rng = np.random.default_rng(seed)
    means = np.concatenate(
        [diffs[rng.integers(0, len(diffs), size=(min(_CHUNK, resamples - start), len(diffs)))].mean(axis=1) for start in range(0, resamples, _CHUNK)]
    )
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)
