"""The inductive step: how much evidence content needs to enter SKILL.md or references/.

Two levels, both counted in distinct trajectories:

* a unit is *corroborated* when some unit of its cluster from another trajectory says
  something close to it (cosine at least the corroboration threshold), or when it
  already collapsed several trajectories' lessons; an uncorroborated unit is a one-off;
* a cluster's support is the number of distinct trajectories behind its corroborated
  units: ``>= skill_threshold`` puts them into SKILL.md; below it the cluster is
  reference material (``references/<topic>.md``, linked from SKILL.md).

No count drops content by itself: one-offs are merged like the rest and go to
references/ when the merger keeps them (``reduce``); they are dropped by the merger's
stated judgement or when the reference budget is full (``assemble``). The same
ordering by support decides what moves out of SKILL.md when it would pass its line
budget, and which reference content goes first when the reference budget is short.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from trace2skill.consolidate.units import Unit

Tier = Literal["skill", "reference", "drop"]


def skill_threshold(n_trajectories: int, min_support: int, min_share: float) -> int:
    """Support a topic needs for SKILL.md: the larger of the absolute and the relative bar."""
    return max(min_support, math.ceil(min_share * n_trajectories))


def tier(support: int, skill_support: int, reference_support: int) -> Tier:
    if support >= skill_support:
        return "skill"
    if support >= reference_support:
        return "reference"
    return "drop"


def corroboration(units: list[Unit], embeddings: np.ndarray, min_cosine: float) -> list[int]:
    """For each unit: distinct trajectories among itself and the units within ``min_cosine`` of it."""
    if not units:
        return []
    out = []
    for start in range(0, len(units), 1024):  # bounded memory for large clusters
        sims = embeddings[start : start + 1024] @ embeddings.T
        for row, i in enumerate(range(start, min(start + 1024, len(units)))):
            near = np.flatnonzero(sims[row] >= min_cosine)
            out.append(len({t for j in near for t in units[j].trajectory_ids} | set(units[i].trajectory_ids)))
    return out
