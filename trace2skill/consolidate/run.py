"""Consolidation end to end in one process: the same stages the Ray pipeline distributes.

``consolidate`` runs split -> embed -> cluster -> reduce each cluster -> ``finish``;
``pipeline.py`` runs embed, assign and reduce as Ray Data stages and then calls
``finish`` (assemble, guarded apply + validate with fix rounds, provenance).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from trace2skill.consolidate.anchors import BoundedRestater
from trace2skill.consolidate.assemble import Assembly, assemble
from trace2skill.consolidate.cluster import assign, far_from, fit_centroids, refine, sample_indices
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.embed import Embedder, thresholds
from trace2skill.consolidate.finalize import FinalSkill, Fixer, finalize
from trace2skill.consolidate.gold import GoldGuard, Graders
from trace2skill.consolidate.instance import Evidence, InstanceGuard, LineGuard, RestateInstance
from trace2skill.consolidate.merge import MERGER_DROP, MergeFn, MergeManyFn, MergeOutcome, add_per_level, sequential
from trace2skill.consolidate.models import ConsolidationStats
from trace2skill.consolidate.prevalence import skill_threshold
from trace2skill.consolidate.provenance import ProvenanceRow, provenance_rows
from trace2skill.consolidate.reduce import ClusterResult, ReduceParams, reduce_cluster
from trace2skill.consolidate.units import Unit, split_units
from trace2skill.safety import SafetyReview, start_review
from trace2skill.safety.model_review import ModelReviewer, model_check
from trace2skill.safety.review import skill_text
from trace2skill.schema import Lesson, Patch, Usage
from trace2skill.skill.model import Skill


class Consolidation(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    clusters: list[ClusterResult]
    assembly: Assembly
    final: FinalSkill
    provenance: list[ProvenanceRow]
    folded: list[Path] = Field(default_factory=list)  # the shards' folded units (``shards.FOLDED_SCHEMA``), not held here
    stats: ConsolidationStats
    safety: SafetyReview = Field(default_factory=SafetyReview)


def resolve_params(cfg: ConsolidateConfig, n_trajectories: int) -> ReduceParams:
    """Thresholds for ``reduce_cluster``: the config's, else the embedder's calibrated ones."""
    dedup, _, corroborate = thresholds(cfg.embedder)
    return ReduceParams(
        fan_in=cfg.fan_in,
        max_levels=cfg.max_levels,
        dedup_threshold=cfg.dedup_threshold or dedup,
        corroboration_cosine=cfg.corroboration_threshold or corroborate,
        skill_support=skill_threshold(n_trajectories, cfg.skill_min_support, cfg.skill_min_share),
        reference_support=cfg.reference_min_support,
        review_one_offs=cfg.review_one_offs,
    )


def cluster_distance(cfg: ConsolidateConfig) -> float:
    return cfg.cluster_distance_threshold or thresholds(cfg.embedder)[1]


def fit(embeddings: np.ndarray, cfg: ConsolidateConfig) -> np.ndarray:
    """Centroids fitted on the sample of ``embeddings`` the config asks for, refined on the
    rows far from all of them when the sample left lessons out."""
    distance, size = cluster_distance(cfg), cfg.cluster_sample_size
    centroids = fit_centroids(embeddings[sample_indices(len(embeddings), size, cfg.seed)], distance, cfg.max_clusters)
    if len(embeddings) <= size:
        return centroids
    far = embeddings[far_from(embeddings, centroids, distance)]
    return refine(centroids, far[sample_indices(len(far), size, cfg.seed)], distance, cfg.max_clusters)


def trajectory_count(units: list[Unit]) -> int:
    return len({t for u in units for t in u.trajectory_ids})


def consolidate(
    s0: Skill,
    lessons: list[Lesson],
    patches: list[Patch],
    *,
    cfg: ConsolidateConfig,
    embedder: Embedder,
    merge: MergeFn,
    merge_many: MergeManyFn | None = None,
    fixer: Fixer | None = None,
    restate: BoundedRestater | None = None,
    model_review: ModelReviewer | None = None,
) -> Consolidation:
    """All of consolidation without Ray (tests, benchmarks, small runs)."""
    units = split_units(patches, lessons)
    embeddings = embedder.embed([u.text for u in units]) if units else np.zeros((0, 1), dtype=np.float32)
    params = resolve_params(cfg, trajectory_count(units))
    labels, _ = assign(embeddings, fit(embeddings, cfg)) if units else (np.zeros(0, dtype=np.int64), None)
    clusters = [
        reduce_cluster(int(c), [units[i] for i in np.flatnonzero(labels == c)], embeddings[labels == c], params, merge_many or sequential(merge))
        for c in np.unique(labels)
    ]
    return finish(s0, clusters, cfg, merge=merge, fixer=fixer, units=len(units), restate=restate, model_review=model_review)


def finish(
    s0: Skill,
    clusters: list[ClusterResult],
    cfg: ConsolidateConfig,
    *,
    merge: MergeFn | None,
    fixer: Fixer | None,
    units: int,
    restate: BoundedRestater | None = None,
    folded: list[Path] | None = None,
    evidence: Evidence | None = None,
    restate_instance: RestateInstance | None = None,
    model_review: ModelReviewer | None = None,
    graders: Graders | None = None,
) -> Consolidation:
    """Assemble p* within the size rules, review it (the rules, then ``model_review`` on what
    they kept, when the run has one), apply it guarded (anchor repair with ``restate``,
    exactly once, fix rounds, fallback), and build the provenance rows (``folded``: the
    files of units the shards collapsed, counted here and streamed into provenance later).
    ``evidence`` gives the texts of trajectories by id for the instance-detail guard (without
    it only placeholders and noise are refused); ``restate_instance`` is its restatement round.
    ``graders`` gives the grader's views of trajectories by id for the grader guard, which
    runs first (``consolidate.gold``: a line quoting a grader's value is refused, not restated)."""
    clusters = sorted(clusters, key=lambda c: c.cluster_id)
    assembly = assemble(
        s0, clusters, max_skill_lines=cfg.max_skill_lines, max_reference_files=cfg.max_reference_files, max_reference_lines=cfg.max_reference_lines, merge=merge,
        whole_skill=cfg.whole_skill_pass,
    )
    assembly, safety = reviewed(s0, assembly, cfg, model_review)  # high-severity lines are split out and withheld
    gold = GoldGuard.of(s0, graders=graders)
    guard = InstanceGuard.of(
        s0, evidence=evidence, restate=restate_instance, min_trajectories=cfg.instance_min_trajectories, max_trajectories=cfg.instance_max_trajectories,
    )  # fmt: skip
    assembly = guarded(assembly, safety, [gold, guard])  # grader quotes, values of a few trajectories and noise are split out and refused
    final = finalize(
        s0, safety.kept, fixer=screened(fixer, safety, model_check(safety, model_review, skill_text(s0)), [gold, guard]), fix_rounds=cfg.fix_rounds, restate=restate, anchor_match=cfg.anchor_match,
        near_duplicate=cfg.near_duplicate,
    )  # fmt: skip
    final.refused[:0] = safety.record(final.applied_edits) + gold.record.refused + guard.record.refused
    rows = provenance_rows(clusters, assembly, final)
    merge_usage = sum((c.stats.usage for c in clusters), Usage()) + assembly.stats.usage + final.fix_stats.usage + safety.model_usage + guard.record.restate_usage
    stats = ConsolidationStats(
        units=units,
        clusters=len(clusters),
        collapsed=sum(len(c.collapsed) for c in clusters) + sum(pq.ParquetFile(f).metadata.num_rows for f in folded or []),
        units_merged=sum(c.units_merged for c in clusters),
        skill_clusters=sum(p.tier == "skill" for p in assembly.parts),
        reference_clusters=sum(p.tier == "reference" for p in assembly.parts),
        dropped_clusters=sum(c.tier == "drop" for c in clusters),
        dropped_items=sum(r.kind == "dropped" for r in rows),
        conflicts_resolved=sum(r.kind == "conflict" for r in rows),
        merge_calls=sum(c.stats.merge_calls for c in clusters),
        merge_calls_per_level=reduce(add_per_level, (c.stats.calls_per_level for c in clusters), []),
        failed_merges=sum(c.stats.failed_merges for c in clusters) + assembly.stats.failed_merges,
        forced_merges=sum(c.stats.forced_merges for c in clusters),
        final_merge_calls=assembly.stats.merge_calls,
        whole_skill_calls=assembly.whole_skill_calls,
        whole_skill_pass=assembly.whole_skill_notes,
        fix_calls=final.fix_stats.merge_calls,
        failed_fixes=final.fix_stats.failed_merges,
        demoted=len(assembly.demoted),
        anchor_repairs=len(final.repairs),
        anchor_restate_calls=restate.calls if restate else 0,
        folded_lines=len(final.folded),
        merger_dropped=sum(r.kind == "dropped" and r.reason.startswith(MERGER_DROP) for r in rows),
        refused_by_reason=gold.record.by_reason | guard.record.by_reason,
        instance_restated=guard.record.restated,
        instance_restate_calls=guard.record.restate_calls,
        model_review_calls=safety.model_usage.calls,
        merge_usage=merge_usage,
        usage=merge_usage + (restate.usage if restate else Usage()),
    )
    return Consolidation(clusters=clusters, assembly=assembly, final=final, provenance=rows, folded=folded or [], stats=stats, safety=safety)


def reviewed(s0: Skill, assembly: Assembly, cfg: ConsolidateConfig, model_review: ModelReviewer | None = None) -> tuple[Assembly, SafetyReview]:
    """The safety review of p*'s parts: the rules, then ``model_review`` (if any) on each
    edit they kept. The assembly's parts hold each edit split into the piece that passes
    and the piece the rules withheld, so provenance has a row for each (an edit the model
    withholds is one piece, refused whole)."""
    review, parts = start_review(s0, cfg.safety), []
    check = model_check(review, model_review, skill_text(s0))
    for part in assembly.parts:
        pieces, kept = review.screen(part.to_patch())
        parts.append(part.model_copy(update={"edits": pieces}))
        review.kept.append(check(kept))
    patch = assembly.patch.model_copy(update={"edits": [e for p in parts for e in p.edits]})
    return assembly.model_copy(update={"parts": parts, "patch": patch}), review


def guarded(assembly: Assembly, review: SafetyReview, guards: list[LineGuard]) -> Assembly:
    """The guards, one after the other, over the parts the safety review kept (``review.kept``
    is replaced by what passes them all); the assembly's parts hold the pieces each guard
    refused too, for provenance."""
    withheld = {w.edit.model_dump_json() for w in review.withheld}
    parts = []
    for i, part in enumerate(assembly.parts):
        refused = []
        for guard in guards:
            pieces, review.kept[i] = guard.screen(review.kept[i])
            refused += [e for e in pieces if e not in review.kept[i].edits]
        parts.append(part.model_copy(update={"edits": [e for e in part.edits if e.model_dump_json() in withheld] + refused + review.kept[i].edits}))
    patch = assembly.patch.model_copy(update={"edits": [e for p in parts for e in p.edits]})
    return assembly.model_copy(update={"parts": parts, "patch": patch})


def screened(fixer: Fixer | None, review: SafetyReview, check: Callable[[Patch], Patch] | None = None, guards: list[LineGuard] | None = None) -> Fixer | None:
    """``fixer`` whose repaired patches go through the same review, the rules and then
    ``check`` (``model_check``), then the line ``guards`` (their refusals counted in their
    records): a model asked to fix validation can re-introduce what was withheld."""
    if fixer is None:
        return None

    def fix(patch: Patch, problems: list[str], state: Skill) -> MergeOutcome:
        outcome = fixer(patch, problems, state)
        if outcome.patch is None:
            return outcome
        kept = review.screen(outcome.patch)[1]
        kept = check(kept) if check else kept
        for guard in guards or []:
            kept = guard.screen(kept)[1]
        return outcome.model_copy(update={"patch": kept})

    return fix
