"""Routing: every trajectory to one skill of the library, or to ``unrouted`` with a reason.

Groups are given (``group_by``: ``format`` is the source format, any other name a key of
the records' fields) or found by clustering the unique task texts (``library.cluster``).
Only unique task texts are embedded: many runs share a task, and a million runs of ten
thousand tasks make ten thousand embeddings. A group smaller than ``min_group_size``
joins the group whose task centroid is nearest when the cosine reaches the attach
threshold, else its trajectories are unrouted with the reason. Then each group deepens an
existing skill (``library.match``) or starts a new one, named from its keywords
(``library.naming``), and the descriptions are checked for overlaps (``library.overlap``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

from trace2skill.library.cluster import cluster_tasks, unit_rows
from trace2skill.library.match import match_groups
from trace2skill.library.models import (
    ExistingSkill,
    Routing,
    SkillRoute,
    TaskRecord,
    Unrouted,
)
from trace2skill.library.naming import keywords, new_description, skill_name
from trace2skill.library.overlap import overlaps
from trace2skill.library.thresholds import THRESHOLDS, embedder_name

FORMAT = "format"  # the group-by name that means the source format
EMBED_BATCH = 4096  # task texts embedded per call


def route(
    records: list[TaskRecord],
    *,
    embed: Callable[[list[str]], np.ndarray],
    group_by: str | None = None,
    existing: Iterable[ExistingSkill] = (),
    min_group_size: int = 3,
    max_groups: int = 12,
    match_threshold: float | None = None,
    seed: int = 0,
    embedder: str | None = None,
    attach_threshold: float | None = None,
) -> Routing:
    """Route ``records`` to skills (see the module doc). ``embed`` gives unit rows; the
    thresholds default to those of ``embedder`` (by default the one ``embed`` is bound to)."""
    existing = list(existing)
    name = embedder or embedder_name(embed)
    if name not in THRESHOLDS:
        raise ValueError(f"no routing thresholds for embedder {name!r}: use one of {', '.join(THRESHOLDS)}")
    if min_group_size < 1 or max_groups < 1:
        raise ValueError(f"min_group_size and max_groups must be at least 1 (got {min_group_size}, {max_groups})")
    repeated = [i for i, n in Counter(r.id for r in records).items() if n > 1]
    if repeated:
        raise ValueError(f"trajectory ids must be unique; repeated: {', '.join(sorted(repeated)[:5])}")
    limits = THRESHOLDS[name]
    match = limits.match if match_threshold is None else match_threshold
    attach = limits.attach if attach_threshold is None else attach_threshold
    texts = list(dict.fromkeys(r.task for r in records if r.task.strip()))
    vectors = _embed(embed, texts)
    row = {t: i for i, t in enumerate(texts) if vectors[i].any()}
    unrouted: list[Unrouted] = []
    if group_by is not None:
        groups, criterion = _given_groups(records, group_by, unrouted)
    else:
        groups, criterion = _clustered_groups(records, row, vectors, min_group_size, max_groups, seed, limits.no_structure, unrouted)
    centroid = {key: _centroid(records, members, row, vectors) for key, members in groups.items()}
    groups, joined = _settle_small(groups, centroid, [r.id for r in records], min_group_size, attach, unrouted)
    keys = sorted(groups, key=lambda k: (-len(groups[k]), k))
    criterion += f"; min group size {min_group_size}"
    if not keys:
        return Routing(skills=[], unrouted=unrouted, criterion=criterion)
    centroids = np.stack([_centroid(records, groups[k], row, vectors) for k in keys])  # with the small groups that joined
    skills = _skills(records, keys, groups, centroids, existing, embed, match, joined)
    tasks = {s.skill: list(dict.fromkeys(records[i].task for i in groups[s.group] if records[i].task.strip())) for s in skills}
    found = overlaps(skills, tasks, embed=embed, claim=limits.claim, seed=seed)
    return Routing(skills=skills, unrouted=unrouted, criterion=criterion, overlaps=found)


def _embed(embed: Callable[[list[str]], np.ndarray], texts: list[str]) -> np.ndarray:
    if not texts:  # asked all the same: the width of its vectors
        return np.asarray(embed([]), dtype=np.float32)
    return np.concatenate([np.asarray(embed(texts[i : i + EMBED_BATCH]), dtype=np.float32) for i in range(0, len(texts), EMBED_BATCH)])


def _given_groups(records: list[TaskRecord], group_by: str, unrouted: list[Unrouted]) -> tuple[dict[str, list[int]], str]:
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        value = r.source_format if group_by == FORMAT else r.fields.get(group_by, "").strip()
        if value:
            groups.setdefault(value, []).append(i)
        else:
            unrouted.append(Unrouted(trajectory_id=r.id, reason=f"no value for the group-by field {group_by!r}"))
    what = "the source format" if group_by == FORMAT else f"metadata field {group_by!r}"
    return groups, f"group-by {what}: {len(groups)} value(s)"


def _clustered_groups(
    records: list[TaskRecord], row: dict[str, int], vectors: np.ndarray, min_size: int, max_groups: int, seed: int, no_structure: float, unrouted: list[Unrouted]
) -> tuple[dict[str, list[int]], str]:
    routable = [i for i, r in enumerate(records) if r.task in row]
    for r in records:
        if r.task not in row:
            why = "it has no task text" if not r.task.strip() else "its task text has no word the embedder knows"
            unrouted.append(Unrouted(trajectory_id=r.id, reason=f"cannot be clustered: {why}"))
    texts = list(dict.fromkeys(records[i].task for i in routable))
    if not texts:
        return {}, "no task text to cluster"
    found = cluster_tasks(vectors[[row[t] for t in texts]], max_k=min(max_groups, len(routable) // max(1, min_size)), seed=seed, no_structure=no_structure)
    label = dict(zip(texts, found.labels.tolist(), strict=True))
    groups: dict[str, list[int]] = {}
    for i in routable:
        groups.setdefault(f"cluster-{label[records[i].task]}", []).append(i)
    return groups, f"{found.criterion}; {len(texts)} unique tasks of {len(records)} trajectories embedded"


def _centroid(records: list[TaskRecord], members: list[int], row: dict[str, int], vectors: np.ndarray) -> np.ndarray:
    # The mean of the members' task vectors, each task weighted by its runs: the group as its trajectories see it.
    counts = Counter(row[records[i].task] for i in members if records[i].task in row)
    if not counts:
        return np.zeros(vectors.shape[1], dtype=np.float32)
    idx = list(counts)
    total = (vectors[idx] * np.array([counts[i] for i in idx], dtype=np.float32)[:, None]).sum(axis=0)
    return unit_rows(total[None, :])[0]


def _settle_small(
    groups: dict[str, list[int]], centroid: dict[str, np.ndarray], ids: list[str], min_size: int, attach: float, unrouted: list[Unrouted]
) -> tuple[dict[str, list[int]], dict[str, list[str]]]:
    """Groups of at least ``min_size``, with the small ones that fit one joined to it; a
    sole group is kept whatever its size (there is nothing to split from or join)."""
    if len(groups) <= 1:
        return groups, {}
    large = sorted(k for k, m in groups.items() if len(m) >= min_size)
    kept = {k: list(groups[k]) for k in large}
    joined: dict[str, list[str]] = {}
    for key in sorted(k for k in groups if k not in kept):
        members, size = groups[key], len(groups[key])
        scores = [(float(centroid[key] @ centroid[k]), k) for k in large]
        score, best = max(scores, key=lambda s: s[0]) if scores else (0.0, "")  # the first of equals: large is sorted
        if scores and score >= attach:
            kept[best].extend(members)
            joined.setdefault(best, []).append(f"group {key!r} ({size} trajectories, cosine {score:.2f}) joined it")
            continue
        where = f"its best cosine to a larger group is {score:.2f} ({best!r}), under {attach}" if scores else "no group reaches the minimum size to join"
        reason = f"group {key!r} has {size} trajectories, fewer than the minimum group size {min_size}, and {where}"
        unrouted.extend(Unrouted(trajectory_id=ids[i], reason=reason) for i in members)
    return kept, joined


def _skills(records, keys, groups, centroids, existing, embed, threshold, joined) -> list[SkillRoute]:
    descriptions = _embed(embed, [e.description for e in existing]) if existing else np.zeros((0, centroids.shape[1]), dtype=np.float32)
    matches = match_groups(centroids, keys, [e.name for e in existing], unit_rows(descriptions), threshold)
    words = keywords([list(dict.fromkeys(records[i].task for i in groups[k])) for k in keys])
    by_name = {e.name: e for e in existing}
    taken = set(by_name)
    out = []
    for key, found, kw in zip(keys, matches, words, strict=True):
        name = found.matched or skill_name(kw, taken)
        taken.add(name)
        note = "; ".join(filter(None, [found.note, *joined.get(key, [])]))
        description = by_name[found.matched].description if found.matched else new_description(kw)
        ids = [records[i].id for i in groups[key]]
        out.append(SkillRoute(skill=name, group=key, matched=found.matched, match_score=found.score, description=description, trajectory_ids=ids, keywords=kw, note=note))
    return out
