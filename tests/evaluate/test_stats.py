"""Intervals and the paired comparison, checked against values computed by hand and by scipy."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from trace2skill.evaluate.stats import bootstrap_interval, mean_interval, paired_comparison, wilson_interval


def test_wilson_matches_the_formula():
    k, n, z = 7, 20, stats.norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = wilson_interval(k, n, 0.95)
    assert low == pytest.approx(centre - half) and high == pytest.approx(centre + half)


def test_wilson_edges():
    assert wilson_interval(0, 0, 0.95) == (None, None)
    low, high = wilson_interval(10, 10, 0.95)
    assert high == pytest.approx(1.0) and 0.6 < low < 0.8  # not the degenerate [1, 1] of the normal approximation


def test_mean_interval():
    assert mean_interval([], 0.95) == (None, None)
    assert mean_interval([0.5], 0.95) == (0.5, 0.5)
    assert mean_interval([1.0, 1.0, 1.0], 0.95) == (1.0, 1.0)
    low, high = mean_interval([0.0, 1.0, 0.5, 0.5], 0.95)
    assert low < 0.5 < high


def test_paired_comparison_counts_and_sign_test():
    base = {**{f"t{i}": 0.0 for i in range(9)}, "t9": 1.0}
    cand = {**{f"t{i}": 1.0 for i in range(8)}, "t8": 0.0, "t9": 0.0, "only-here": 1.0}  # 8 wins, a tie, a loss
    result = paired_comparison(base, cand, level=0.95, seed=0)
    assert (result.n_tasks, result.wins, result.losses, result.ties) == (10, 8, 1, 1)
    assert result.delta == pytest.approx(0.7)
    assert result.p_value == pytest.approx(stats.binomtest(8, 9, 0.5).pvalue)
    assert 0 < result.ci_low < 0.7 < result.ci_high <= 1.0


def test_paired_comparison_without_pairs_or_differences():
    assert paired_comparison({"a": 1.0}, {"b": 1.0}, level=0.95, seed=0).delta is None
    same = paired_comparison({"a": 1.0, "b": 0.0}, {"a": 1.0, "b": 0.0}, level=0.95, seed=0)
    assert (same.delta, same.ci_low, same.ci_high, same.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_bootstrap_is_seeded():
    import numpy as np

    diffs = np.array([1.0, 0.0, 0.5, -0.5, 1.0, 0.0])
    assert bootstrap_interval(diffs, level=0.95, seed=3, resamples=2500) == bootstrap_interval(diffs, level=0.95, seed=3, resamples=2500)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]), min_size=1, max_size=30))
def test_bootstrap_interval_brackets_the_mean(diffs):
    result = paired_comparison({str(i): 0.0 for i in range(len(diffs))}, {str(i): d for i, d in enumerate(diffs)}, level=0.9, seed=1, resamples=500)
    assert min(diffs) <= result.ci_low <= result.delta + 1e-9 and result.delta - 1e-9 <= result.ci_high <= max(diffs)
    assert 0.0 <= result.p_value <= 1.0
