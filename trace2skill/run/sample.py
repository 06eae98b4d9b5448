"""A stratified sample that fits a token budget, chosen up front and deterministic per seed.

Every item has a stratum (for trajectories: task x outcome) and an estimated cost. The
items are put in one *sampling order* in which every prefix is proportional to the strata
sizes: inside a stratum the order is a seeded shuffle, and the r-th item (0-based) of a
stratum of n items gets the key (r + 0.5) / n; sorting by key interleaves the strata the
way Webster's (Sainte-Laguë) apportionment does, so a prefix of m items holds about
m x n_s / N items of stratum s (ties between strata are broken by a seeded draw). The
sample is the longest prefix whose costs fit the budget; zero-cost items (no LLM call)
are always in it. Items stay whole: none is taken partly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sample:
    """Which items a budget admits (a boolean mask over the items), and what they cost."""

    selected: np.ndarray
    strata: int
    estimated_cost: int  # of every item
    selected_cost: int

    @property
    def selected_count(self) -> int:
        return int(self.selected.sum())


def sampling_order(strata: Sequence[str], seed: int) -> np.ndarray:
    """Item indices in the sampling order of this module's docstring."""
    n = len(strata)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    names, group = np.unique(np.asarray(strata, dtype=object).astype(str), return_inverse=True)
    rng = np.random.default_rng(seed)
    draw = rng.random(n)
    tie = rng.random(len(names))[group]  # one draw per stratum: which goes first among equal keys
    by_group = np.lexsort((draw, group))  # each stratum's items together, in a seeded order
    sizes = np.bincount(group, minlength=len(names))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[by_group] = np.arange(n) - starts[group[by_group]]
    key = (rank + 0.5) / sizes[group]
    return np.lexsort((draw, tie, key))


def budget_sample(strata: Sequence[str], costs: Sequence[int], budget: int, seed: int) -> Sample:
    """The items that fit ``budget``: the longest prefix of the sampling order whose costs
    sum to at most ``budget``, plus every zero-cost item."""
    cost = np.asarray(costs, dtype=np.int64)
    order = sampling_order(strata, seed)
    fits = np.cumsum(cost[order]) <= budget
    selected = np.zeros(len(cost), dtype=bool)
    selected[order[: int(np.argmin(fits)) if not fits.all() else len(order)]] = True
    selected |= cost == 0
    return Sample(
        selected=selected,
        strata=len(set(strata)),
        estimated_cost=int(cost.sum()),
        selected_cost=int(cost[selected].sum()),
    )
