"""Consolidate one topic cluster: collapse near-duplicates, tier it by support, merge its patches.

A plain function of the cluster's units and embeddings; the Ray pipeline calls it once per
``groupby(cluster).map_groups`` group, the in-process runner once per cluster.

Rare lessons are not dropped by a count: a unit that no unit of another trajectory
corroborates (a one-off) never goes into SKILL.md, but it is merged like the rest (alone,
it is still shown to a merger, one call) and goes to ``references/`` when the merger
keeps it. In a ``skill`` cluster the one-offs are merged
on their own (``rare``), so that what reaches SKILL.md has the support SKILL.md needs; in a
``reference`` cluster everything merges together. What the merger drops is recorded with
its stated reason; assembly may still drop reference content when the reference budget
is full (also recorded).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from pydantic import BaseModel, Field

from trace2skill.consolidate.cluster import cluster_label, label_of
from trace2skill.consolidate.collapse import Collapsed, collapse
from trace2skill.consolidate.contradict import drop_contradictions
from trace2skill.consolidate.merge import MERGER_DROP, MergeManyFn, TreeStats, merge_tree
from trace2skill.consolidate.models import Dropped, Proposal
from trace2skill.consolidate.prevalence import Tier, corroboration, tier
from trace2skill.consolidate.units import Unit

__all__ = ["ClusterResult", "Dropped", "ReduceParams", "reduce_cluster", "share_ids"]


class ReduceParams(BaseModel):
    """The thresholds one cluster is reduced with (resolved from ``ConsolidateConfig`` and the run size)."""

    fan_in: int = 8
    max_levels: int = 8
    dedup_threshold: float
    corroboration_cosine: float
    skill_support: int
    reference_support: int
    review_one_offs: bool = True


class ClusterResult(BaseModel):
    """One cluster after reduction: its tier, merged patch(es) and the full evidence trail.

    ``rare`` holds the merged one-offs of a ``skill`` cluster, bound for references/."""

    cluster_id: int
    label: str
    tier: Tier
    support: int
    description: str = ""
    lesson_ids: list[str] = Field(default_factory=list)
    trajectory_ids: list[str] = Field(default_factory=list)
    patches: list[Proposal] = Field(default_factory=list)
    rare: list[Proposal] = Field(default_factory=list)
    resolutions: list[str] = Field(default_factory=list)
    dropped: list[Dropped] = Field(default_factory=list)
    collapsed: list[Collapsed] = Field(default_factory=list)
    units_in: int = 0
    units_merged: int = 0
    stats: TreeStats = Field(default_factory=TreeStats)


def share_ids(result: ClusterResult) -> ClusterResult:
    """``result`` with every id one string object, shared by each list that names it (in
    place). A topic's own lists and its patches' name the same lessons and trajectories,
    but parsed from JSON each list has its own strings: at 1M trajectories the two cluster
    results held 5.9M id strings for 2.9M ids (374 MB), on the driver, until the run ends."""
    first: dict[str, str] = {}
    holders = [result, *result.patches, *result.rare, *result.dropped, *(d for p in (*result.patches, *result.rare) for d in p.dropped)]
    for holder in holders:
        for ids in (holder.lesson_ids, holder.trajectory_ids):
            ids[:] = [first.setdefault(i, i) for i in ids]
    return result


def reduce_cluster(
    cluster_id: int,
    units: list[Unit],
    embeddings: np.ndarray,
    params: ReduceParams,
    merge_many: MergeManyFn,
    *,
    topics: Counter[str] | None = None,
    units_in: int | None = None,
) -> ClusterResult:
    """Collapse, tier the cluster by its corroborated support, merge what it holds (see the module doc).

    When ``units`` are the representatives of shards already collapsed (``shards``),
    ``topics`` counts the topics of all the units they stand for and ``units_in`` their number."""
    label = label_of(topics) if topics is not None else cluster_label([u.topic for u in units])
    reps, rep_emb, folded = collapse(units, embeddings, params.dedup_threshold)
    counts = corroboration(reps, rep_emb, params.corroboration_cosine)
    core = [u for u, c in zip(reps, counts) if c >= params.reference_support]
    level = tier(len({t for u in core for t in u.trajectory_ids}), params.skill_support, params.reference_support)
    if level == "skill":
        main, rare = core, [u for u, c in zip(reps, counts) if c < params.reference_support]
    else:  # below the SKILL.md bar everything is reference material, one-offs included
        level, main, rare = "reference", reps, []
    trajectories = sorted({t for u in main for t in u.trajectory_ids})
    base = {
        "cluster_id": cluster_id,
        "label": label,
        "tier": level,
        "support": len(trajectories),
        "description": _description(main),
        "lesson_ids": sorted({l for u in main for l in u.lesson_ids}),
        "trajectory_ids": trajectories,
        "collapsed": folded,
        "units_in": len(units) if units_in is None else units_in,
    }
    mergeable = [u.to_patch() for u in main if u.edits]
    rare_mergeable = [u.to_patch() for u in rare if u.edits]
    if mergeable or rare_mergeable:  # a one-off without an edit has nothing to write, but its lesson is on record
        dropped = [_dropped(cluster_id, label, u, f"one-off in topic '{label}' with no edit: evidence only") for u in rare if not u.edits]
    else:
        dropped = [_dropped(cluster_id, label, u, f"topic '{label}' has support {len(trajectories)} but no lesson of it came with an edit") for u in main + rare]
    stats, resolutions = TreeStats(), []
    merged: list[Proposal] = []
    merged_rare: list[Proposal] = []
    # Content bound for references/ passes a merger even when it is alone, so that a one-off
    # is kept or dropped by its judgement, never by default (unless the recipe turns it off).
    for group, out, review in ((mergeable, merged, level == "reference"), (rare_mergeable, merged_rare, True)):
        review = review and params.review_one_offs
        if not group:
            continue
        if len(group) == 1 and (review or group[0].alternatives):  # folded near-duplicates' details wait for a merger
            patches, tree = review_alone(group[0], merge_many)
        else:
            patches, tree = merge_tree(group, params.fan_in, merge_many=merge_many, max_levels=params.max_levels)
        stats = stats + tree
        patches = [as_cluster(p, cluster_id, label) for p in patches]
        dropped += [d for p in patches for d in p.dropped]
        resolutions += [line for p in patches for line in p.notes.splitlines() if line.strip()]
        if len(patches) > 1:  # merges failed: plain contradictions are still settled by support
            patches, settled = drop_contradictions(patches)
            resolutions += settled
        out.extend(p.model_copy(update={"dropped": []}) for p in patches)
    # evidence a merger dropped no longer stands behind the cluster's SKILL.md content
    kept = {i for p in merged for i in (*p.lesson_ids, *p.trajectory_ids)}
    gone = {i for d in dropped if d.reason.startswith(MERGER_DROP) for i in (*d.lesson_ids, *d.trajectory_ids)} - kept
    base["lesson_ids"] = [i for i in base["lesson_ids"] if i not in gone]
    base["trajectory_ids"] = [i for i in base["trajectory_ids"] if i not in gone]
    base["support"] = len(base["trajectory_ids"])
    return ClusterResult(
        **base, patches=merged, rare=merged_rare, resolutions=resolutions, dropped=dropped, units_merged=len(mergeable) + len(rare_mergeable), stats=stats
    )


def review_alone(patch: Proposal, merge_many: MergeManyFn) -> tuple[list[Proposal], TreeStats]:
    """One merge call on a lone patch (the merger may drop it); a failed call keeps it."""
    (outcome,) = merge_many([[patch]])
    stats = TreeStats(merge_calls=1, failed_merges=int(outcome.patch is None), levels=1, calls_per_level=[1], usage=outcome.usage)
    return [outcome.patch if outcome.patch is not None else patch], stats


def as_cluster(patch: Proposal, cluster_id: int, label: str) -> Proposal:
    """``patch`` with its merger drops labelled by the cluster they happened in."""
    drops = [d.model_copy(update={"cluster_id": cluster_id, "cluster_label": label}) for d in patch.dropped]
    return patch.model_copy(update={"dropped": drops})


def _dropped(cluster_id: int, label: str, unit: Unit, reason: str) -> Dropped:
    return Dropped(reason=reason, cluster_id=cluster_id, cluster_label=label, lesson_ids=unit.lesson_ids, trajectory_ids=unit.trajectory_ids, content=_content(unit))


def _content(unit: Unit) -> str:
    text = "\n".join(e.content for e in unit.edits) or unit.text
    return text[:500]


def _description(units: list[Unit]) -> str:
    ranked = sorted(units, key=lambda u: (-u.support, u.id))
    return next((u.description.strip() for u in ranked if u.description.strip()), "")
