"""Which existing skill a group deepens: the one whose description fits its tasks best.

As an agent chooses a skill from descriptions alone, a group is matched on the cosine of
each existing skill's description to the group's task centroid (the mean of its
trajectories' task embeddings). The best-fitting description wins when its cosine
reaches the match threshold. An existing skill takes at most one group: where several
groups choose the same skill, the best score wins and the others start new skills, with
the reason in their note.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel


class Match(BaseModel):
    """A group's existing skill (None: a new skill), its score, and why a fit was not taken."""

    matched: str | None = None
    score: float | None = None
    note: str = ""


def match_groups(centroids: np.ndarray, keys: list[str], names: list[str], descriptions: np.ndarray, threshold: float) -> list[Match]:
    """For each group (its unit task centroid in ``centroids``, its key in ``keys``), the
    existing skill of ``names`` (their unit description vectors in ``descriptions``) it deepens."""
    if not names or not len(centroids):
        return [Match() for _ in keys]
    scores = centroids @ descriptions.T
    best = np.argmax(scores, axis=1)
    winner: dict[int, int] = {}  # existing skill -> the group that takes it
    for g in sorted(range(len(keys)), key=lambda g: (-scores[g, best[g]], keys[g])):
        if scores[g, best[g]] >= threshold:
            winner.setdefault(int(best[g]), g)
    out = []
    for g, key in enumerate(keys):
        e, score = int(best[g]), float(scores[g, best[g]])
        if winner.get(e) == g:
            out.append(Match(matched=names[e], score=round(score, 4)))
        elif score >= threshold:
            other = winner[e]
            out.append(Match(note=f"fits existing skill {names[e]!r} ({score:.2f}), but group {keys[other]!r} fits it better ({scores[other, e]:.2f}): a new skill"))
        else:
            out.append(Match(note=f"no existing description fits (best {names[e]!r}: {score:.2f}, under {threshold}): a new skill"))
    return out
