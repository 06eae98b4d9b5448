"""The cosines routing decides by, per embedder (cosines mean different things in the two spaces).

Calibrated on the test families (tests/library/families.py: airline, coding, data and
browsing tasks; docs/library.md gives the numbers): ``match`` separates a description
written for a family (its cosine to the family's task centroid) from the other families'
centroids; ``attach`` separates a task's cosine to its own family's centroid from its
cosine to another family's; ``claim`` is the floor a single task must reach for a
description to claim it (overlap check).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel


class RouteThresholds(BaseModel):
    match: float  # a group deepens an existing skill when its description's cosine to the group's centroid reaches this
    attach: float  # a small group joins the nearest group when their centroids' cosine reaches this
    claim: float  # a description claims a task (overlaps) from this cosine up
    no_structure: float = 0.05  # a best silhouette under this: the tasks are one group


THRESHOLDS: dict[str, RouteThresholds] = {
    "hashing": RouteThresholds(match=0.12, attach=0.15, claim=0.02),
    "minilm": RouteThresholds(match=0.25, attach=0.4, claim=0.15),
}
DEFAULT_EMBEDDER = "minilm"


def embedder_name(embed: Callable) -> str:
    """The name of the embedder behind ``embed`` (a bound ``Embedder.embed``), else the default."""
    name = getattr(getattr(embed, "__self__", None), "name", None)
    return name if name in THRESHOLDS else DEFAULT_EMBEDDER
