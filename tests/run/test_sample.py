"""The stratified budget sample: proportional by stratum, within budget, deterministic per seed."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trace2skill.run.sample import budget_sample, sampling_order

items = st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(1, 50)), min_size=1, max_size=120)


def test_a_prefix_keeps_the_strata_proportions():
    strata = ["a"] * 30 + ["b"] * 10
    sample = budget_sample(strata, [1] * 40, budget=8, seed=0)
    assert Counter(s for s, keep in zip(strata, sample.selected) if keep) == {"a": 6, "b": 2}
    assert sample.selected_cost == 8 and sample.estimated_cost == 40 and sample.strata == 2


@settings(max_examples=200, deadline=None)
@given(items, st.integers(0, 2000), st.integers(0, 2**16))
def test_the_sample_fits_the_budget_and_is_proportional(rows, budget, seed):
    strata, costs = [s for s, _ in rows], np.array([c for _, c in rows])
    sample = budget_sample(strata, costs, budget, seed)
    assert sample.selected.shape == (len(rows),)
    assert sample.selected_cost == costs[sample.selected].sum() <= budget
    order = sampling_order(strata, seed)
    assert sorted(order.tolist()) == list(range(len(rows)))  # every item exactly once in the order
    taken = sample.selected[order]
    assert not (taken[1:] & ~taken[:-1]).any()  # the sample is a prefix of the order
    if not taken.all():  # ... the longest one that fits
        assert sample.selected_cost + costs[order[taken.sum()]] > budget
    # Webster's criterion: no stratum is more than half a step ahead of another
    size, chosen = Counter(strata), Counter(s for s, keep in zip(strata, sample.selected) if keep)
    ahead = max((chosen[s] - 0.5) / size[s] for s in size)
    behind = min(((chosen[s] + 0.5) / size[s] for s in size if chosen[s] < size[s]), default=np.inf)
    assert ahead <= behind


@given(items, st.integers(0, 2**16))
def test_zero_cost_items_are_always_in_and_the_seed_decides(rows, seed):
    strata, costs = [s for s, _ in rows], [0 if i % 3 == 0 else c for i, (_, c) in enumerate(rows)]
    sample = budget_sample(strata, costs, 0, seed)
    assert sample.selected.tolist() == [c == 0 for c in costs]
    assert sampling_order(strata, seed).tolist() == sampling_order(strata, seed).tolist()


def test_another_seed_draws_another_sample():
    strata = [str(i % 4) for i in range(200)]
    picks = {tuple(np.flatnonzero(budget_sample(strata, [1] * 200, 20, seed).selected)) for seed in range(5)}
    assert len(picks) == 5
