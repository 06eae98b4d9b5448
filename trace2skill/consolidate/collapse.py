"""Collapse near-duplicate units before any LLM merge: one representative, provenance unioned.

Greedy leader clustering in a fixed order: each unit joins the most similar existing
representative when their cosine is at least the threshold and both say the same thing
the same way round (a lesson and its negation embed close together, but they are a
conflict for the merge to resolve, not a duplicate); otherwise it becomes a
representative itself. Units with edits lead before units without, so a representative
always carries content when any member does.
"""

from __future__ import annotations

import re

import numpy as np
from pydantic import BaseModel

from trace2skill.consolidate.units import Unit

_NEGATION = re.compile(r"\b(never|not|no|don't|dont|do not|avoid|cannot|can't|without)\b", re.IGNORECASE)


class Collapsed(BaseModel):
    """A unit folded into a representative: its edits are not merged, its evidence is."""

    unit_id: str
    into: str
    cosine: float
    lesson_ids: list[str]
    trajectory_ids: list[str]
    content: str


def negated(text: str) -> bool:
    """Whether ``text`` states its guidance negatively (never / do not / avoid ...)."""
    return _NEGATION.search(text) is not None


def collapse(units: list[Unit], embeddings: np.ndarray, threshold: float) -> tuple[list[Unit], np.ndarray, list[Collapsed]]:
    """The representatives (with unioned ``lesson_ids``/``trajectory_ids``), their embeddings
    (float32), and one ``Collapsed`` record per folded unit. Deterministic for a given input set.

    ``embeddings`` may be float16 (as stored): rows are widened one at a time, and only the
    representatives' rows are held as float32."""
    if len(units) != len(embeddings):
        raise ValueError("one embedding per unit")
    order = sorted(range(len(units)), key=lambda i: (not units[i].edits, units[i].id))
    reps: list[int] = []
    members: dict[int, list[int]] = {}
    polarity = np.array([negated(u.text) for u in units], dtype=bool)
    folded: list[Collapsed] = []
    rep_vecs = np.empty((min(len(units), 256), embeddings.shape[1] if embeddings.ndim == 2 else 0), dtype=np.float32)
    rep_pol = np.empty(len(units), dtype=bool)
    for i in order:
        n = len(reps)
        row = embeddings[i].astype(np.float32)
        if n:
            sims = rep_vecs[:n] @ row
            sims = np.where(rep_pol[:n] == polarity[i], sims, -1.0)
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                rep = reps[best]
                members[rep].append(i)
                u = units[i]
                folded.append(
                    Collapsed(
                        unit_id=u.id,
                        into=units[rep].id,
                        cosine=round(float(sims[best]), 4),
                        lesson_ids=u.lesson_ids,
                        trajectory_ids=u.trajectory_ids,
                        content=u.text[:500],
                    )
                )
                continue
        if n == len(rep_vecs):  # grown by doubling: a cluster of near-duplicates needs few rows
            rep_vecs = np.concatenate([rep_vecs, np.empty_like(rep_vecs)])
        rep_vecs[n] = row
        rep_pol[n] = polarity[i]
        reps.append(i)
        members[i] = [i]
    out = []
    for r in reps:
        group = [units[m] for m in members[r]]
        out.append(
            units[r].model_copy(
                update={
                    "lesson_ids": sorted({x for u in group for x in u.lesson_ids}),
                    "trajectory_ids": sorted({x for u in group for x in u.trajectory_ids}),
                    "kinds": sorted({x for u in group for x in u.kinds}),
                }
            )
        )
    return out, rep_vecs[: len(reps)].copy(), folded
