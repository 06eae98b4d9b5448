"""Collapse near-duplicate units before any LLM merge: one representative, provenance unioned.

Greedy leader clustering in a fixed order: each unit joins the most similar existing
representative when their cosine is at least the threshold and both say the same thing
the same way round (a lesson and its negation embed close together, but they are a
conflict for the merge to resolve, not a duplicate); otherwise it becomes a
representative itself. Units with edits lead before units without, so a representative
always carries content when any member does; among them the most specific leads
(``specificity``), so the kept wording is the one with the concrete values, commands and
conditions, as the merge prompt asks. The folded members' distinct edits go with the
representative to the merge as ``alternatives`` (``with_alternatives``), not discarded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import islice

import numpy as np
from pydantic import BaseModel

from trace2skill.consolidate.units import Unit
from trace2skill.schema import Edit

_NEGATION = re.compile(r"\b(never|not|no|don't|dont|do not|avoid|cannot|can't|without)\b", re.IGNORECASE)
_CODE_SPAN = re.compile(r"`[^`\n]+`")
_NUMBER = re.compile(r"\b\d+(?:[.,:/]\d+)*%?")
_TOOL_NAME = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b|\b[A-Za-z_][A-Za-z0-9_.]*\(\)")
_CONDITION = re.compile(r"\b(if|when|unless|before|after|only|except|until|whenever|otherwise)\b", re.IGNORECASE)
SCORED_CHARS = 500  # the text specificity reads: the first characters of a unit's text (a shard stores as much)
MAX_ALTERNATIVES = 4  # folded members' distinct edits one representative hands to the merge (most specific first)


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


def specificity(text: str) -> float:
    """How concrete a piece of guidance is, for choosing among near-duplicates: 3 per code
    span, 2 per tool or function name (``snake_case`` or ``name()``), 2 per number (a
    limit, an amount, a count), 1 per conditional word (if, when, unless, before, only ...),
    and a point per 100 characters as the tie-breaker (a longer paraphrase usually says
    more). Reads the first ``SCORED_CHARS`` characters."""
    text = text[:SCORED_CHARS]
    return (
        3 * len(_CODE_SPAN.findall(text))
        + 2 * len(_TOOL_NAME.findall(text))
        + 2 * len(_NUMBER.findall(text))
        + len(_CONDITION.findall(text))
        + len(text) / 100
    )


def leaders(order: list[int], polarity: np.ndarray, embeddings: np.ndarray, threshold: float) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    """Greedy leader clustering of the rows of ``embeddings`` visited in ``order``: the
    representatives (row indices, in the order they arose), for each row the row it folds
    into (itself for a representative) and that cosine, and the representatives' float32 rows.

    A row joins the most similar representative of the same ``polarity`` when their cosine
    is at least ``threshold``. ``embeddings`` may be float16: rows are widened one at a time."""
    into = np.arange(len(embeddings))
    cosine = np.ones(len(embeddings), dtype=np.float64)
    reps: list[int] = []
    rep_vecs = np.empty((min(len(embeddings), 256), embeddings.shape[1] if embeddings.ndim == 2 else 0), dtype=np.float32)
    rep_pol = np.empty(len(embeddings), dtype=bool)
    for i in order:
        n = len(reps)
        row = embeddings[i].astype(np.float32)
        if n:
            sims = rep_vecs[:n] @ row
            sims = np.where(rep_pol[:n] == polarity[i], sims, -1.0)
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                into[i], cosine[i] = reps[best], float(sims[best])
                continue
        if n == len(rep_vecs):  # grown by doubling: a cluster of near-duplicates needs few rows
            rep_vecs = np.concatenate([rep_vecs, np.empty_like(rep_vecs)])
        rep_vecs[n] = row
        rep_pol[n] = polarity[i]
        reps.append(i)
    return reps, into, cosine, rep_vecs[: len(reps)].copy()


def collapse_order(has_edits: list[bool], scores: list[float], ids: list[str]) -> list[int]:
    """The order rows are visited in: units with edits first (so a representative carries
    content when any member does), the most specific first (so it leads its near-duplicates),
    then by id (the result does not depend on input order)."""
    return sorted(range(len(ids)), key=lambda i: (not has_edits[i], -scores[i], ids[i]))


def collapse(units: list[Unit], embeddings: np.ndarray, threshold: float) -> tuple[list[Unit], np.ndarray, list[Collapsed]]:
    """The representatives (with unioned ``lesson_ids``/``trajectory_ids``), their embeddings
    (float32), and one ``Collapsed`` record per folded unit. Deterministic for a given input set.

    ``embeddings`` may be float16 (as stored): only the representatives' rows are held as float32."""
    if len(units) != len(embeddings):
        raise ValueError("one embedding per unit")
    order = collapse_order([bool(u.edits) for u in units], [specificity(u.text) for u in units], [u.id for u in units])
    polarity = np.array([negated(u.text) for u in units], dtype=bool)
    reps, into, cosine, rep_vecs = leaders(order, polarity, embeddings, threshold)
    members: dict[int, list[int]] = {r: [] for r in reps}
    folded: list[Collapsed] = []
    for i in order:
        members[int(into[i])].append(i)
        if into[i] != i:
            u = units[i]
            folded.append(
                Collapsed(
                    unit_id=u.id,
                    into=units[int(into[i])].id,
                    cosine=round(float(cosine[i]), 4),
                    lesson_ids=u.lesson_ids,
                    trajectory_ids=u.trajectory_ids,
                    content=u.text[:500],
                )
            )
    out = []
    for r in reps:
        group = [units[m] for m in members[r]]
        rep = with_members(units[r], [u.lesson_ids for u in group], [u.trajectory_ids for u in group], [u.kinds for u in group])
        out.append(with_alternatives(rep, group[1:]))
    return out, rep_vecs, folded


def with_members(rep: Unit, lesson_ids: list[list[str]], trajectory_ids: list[list[str]], kinds: list[list[str]]) -> Unit:
    """``rep`` standing for its members: the union of their lesson ids, trajectory ids and kinds."""
    return rep.model_copy(
        update={
            "lesson_ids": sorted({x for ids in lesson_ids for x in ids}),
            "trajectory_ids": sorted({x for ids in trajectory_ids for x in ids}),
            "kinds": sorted({x for ks in kinds for x in ks}),
        }
    )


def with_alternatives(rep: Unit, members: Iterable[Unit]) -> Unit:
    """``rep`` with up to ``MAX_ALTERNATIVES`` edits of its folded ``members`` (visited in
    collapse order, most specific first) whose content none of its own edits or earlier
    alternatives has: the merge may take a detail from them. ``members`` is read lazily and
    at most ``4 * MAX_ALTERNATIVES`` of them, so a shard parses few folded units."""
    seen = {_key(e) for e in rep.edits}
    found: list[Edit] = []
    for member in islice(members, 4 * MAX_ALTERNATIVES):
        for edit in member.edits:
            if _key(edit) not in seen and len(found) < MAX_ALTERNATIVES:
                seen.add(_key(edit))
                found.append(edit)
    return rep.model_copy(update={"alternatives": found}) if found else rep


def _key(edit: Edit) -> str:
    return " ".join(edit.content.split()).casefold()
