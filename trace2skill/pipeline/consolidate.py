"""Consolidation on Ray: embed (actor pool) -> topic centroids -> assign -> groupby(cluster) reduce -> finish.

The LLM calls of merges and fixes go to the Serve analyst; what each stage does is
in ``trace2skill.consolidate`` (plain functions, tested without Ray).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import ray
from ray import serve
from ray.data import ActorPoolStrategy
from ray.serve.handle import DeploymentHandle

from trace2skill.config import DistillConfig
from trace2skill.consolidate.anchors import BoundedRestater
from trace2skill.consolidate.cluster import assign, far_from, fit_centroids, refine
from trace2skill.consolidate.embed import make_embedder
from trace2skill.consolidate.finalize import Fixer
from trace2skill.consolidate.merge import MergeFn, MergeManyFn, MergeOutcome
from trace2skill.consolidate.reduce import ClusterResult, ReduceParams, reduce_cluster
from trace2skill.consolidate.run import Consolidation, cluster_distance, finish, resolve_params, trajectory_count
from trace2skill.consolidate.units import Unit, split_units
from trace2skill.llm.base import Usage
from trace2skill.progress import Console
from trace2skill.schema import Lesson, Patch
from trace2skill.skill.folder import skill_prompt_view
from trace2skill.skill.model import Skill

Progress = Callable[[str], None]


def serve_merge(handle: DeploymentHandle, skill_view: str) -> MergeFn:
    """A merge function for ``merge_tree`` whose LLM calls go to the Serve analyst."""

    def merge(patches: list[Patch]) -> MergeOutcome:
        response = handle.merge.remote([p.model_dump_json() for p in patches], skill_view)
        try:
            return MergeOutcome.model_validate_json(response.result())
        except Exception as exc:  # the inputs stay unmerged; nothing is lost
            return MergeOutcome(error=f"merge call failed: {type(exc).__name__}: {exc}")

    return merge


def serve_merge_many(handle: DeploymentHandle, skill_view: str) -> MergeManyFn:
    """All merges of one tree level sent to the Serve analyst at once, then awaited."""

    def merge_many(groups: list[list[Patch]]) -> list[MergeOutcome]:
        pending = [handle.merge.remote([p.model_dump_json() for p in g], skill_view) for g in groups]
        out = []
        for response in pending:
            try:
                out.append(MergeOutcome.model_validate_json(response.result()))
            except Exception as exc:  # the inputs stay unmerged; nothing is lost
                out.append(MergeOutcome(error=f"merge call failed: {type(exc).__name__}: {exc}"))
        return out

    return merge_many


def serve_fix(handle: DeploymentHandle) -> Fixer:
    """A repair function for ``finalize`` whose LLM calls go to the Serve analyst, showing it
    the skill state the failing part was applied to."""

    def fix(patch: Patch, problems: list[str], state: Skill) -> MergeOutcome:
        try:
            return MergeOutcome.model_validate_json(handle.fix.remote(patch.model_dump_json(), problems, skill_prompt_view(state)).result())
        except Exception as exc:  # the part is then withheld, the run goes on
            return MergeOutcome(error=f"fix call failed: {type(exc).__name__}: {exc}")

    return fix


def serve_restate(handle: DeploymentHandle, max_calls: int) -> BoundedRestater:
    """A bounded anchor restater whose LLM calls go to the Serve analyst."""

    def ask(title: str, body: str, anchor: str) -> tuple[str | None, Usage]:
        try:
            answer = json.loads(handle.restate.remote(title, body, anchor).result())
            return answer["anchor"], Usage.model_validate(answer["usage"])
        except Exception:  # no restatement: the edit is refused with the reason
            return None, Usage()

    return BoundedRestater(ask, max_calls)


class EmbedBatch:
    """Ray Data actor: embeds a batch of lesson units (the model loads once per actor)."""

    def __init__(self, name: str, device: str | None, batch_size: int):
        self.embedder = make_embedder(name, device=device, batch_size=batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        return {"unit": batch["unit"], "embedding": self.embedder.embed([str(t) for t in batch["text"]])}


def _far_rows(batch: dict[str, np.ndarray], centroids: np.ndarray, distance: float) -> dict[str, Any]:
    embeddings = np.asarray(batch["embedding"], dtype=np.float32)
    return {"embedding": embeddings[far_from(embeddings, centroids, distance)]}


def assign_clusters(batch: dict[str, np.ndarray], centroids: np.ndarray) -> dict[str, Any]:
    """Ray Data ``map_batches``: the nearest topic centroid of each embedded unit."""
    labels, _ = assign(np.asarray(batch["embedding"], dtype=np.float32), centroids)
    return {"unit": batch["unit"], "embedding": batch["embedding"], "cluster": labels}


class ConsolidateGroup:
    """Ray Data ``map_groups`` actor: one topic cluster -> collapse, prevalence, merge tree -> one row."""

    def __init__(self, app: str, skill_view: str, params: dict):
        self.merge_many = serve_merge_many(serve.get_app_handle(app), skill_view)
        self.params = ReduceParams.model_validate(params)

    def __call__(self, group: dict[str, np.ndarray]) -> dict[str, list]:
        units = [Unit.model_validate_json(u) for u in group["unit"]]
        embeddings = np.asarray(np.stack(list(group["embedding"])), dtype=np.float32)
        result = reduce_cluster(int(group["cluster"][0]), units, embeddings, self.params, self.merge_many)
        return {"result": [result.model_dump_json()]}


def consolidate(
    s0: Skill, lessons: list[Lesson], patches: list[Patch], cfg: DistillConfig, app: str, skill_view: str, handle: DeploymentHandle, progress: Progress
) -> Consolidation:
    """Embed (actor pool) -> fit topic centroids on a sample -> assign (map_batches) ->
    ``groupby(cluster).map_groups`` reduce -> assemble, apply and validate (``finish``)."""
    c = cfg.consolidate
    merge, fixer, restate = serve_merge(handle, skill_view), serve_fix(handle), serve_restate(handle, c.anchor_restate_calls)
    units = split_units(patches, lessons)
    if not units:
        return finish(s0, [], c, merge=merge, fixer=fixer, units=0, restate=restate)
    embedded = (
        ray.data.from_items([{"unit": u.model_dump_json(), "text": u.text} for u in units])
        .map_batches(
            EmbedBatch,
            fn_constructor_kwargs={"name": c.embedder, "device": c.embed_device, "batch_size": c.embed_batch_size},
            batch_size=c.embed_batch_size,
            compute=ActorPoolStrategy(size=c.embed_concurrency),
            num_cpus=c.embed_num_cpus,
            batch_format="numpy",
        )
        .materialize()
    )
    sample = embedded if len(units) <= c.cluster_sample_size else embedded.random_sample(c.cluster_sample_size / len(units), seed=c.seed)
    vectors = [np.asarray(b["embedding"], dtype=np.float32) for b in sample.iter_batches(batch_format="numpy", batch_size=4096)]
    centroids = fit_centroids(np.concatenate(vectors), cluster_distance(c), c.max_clusters)
    if len(units) > c.cluster_sample_size:  # topics the sample missed get centroids of their own
        far = embedded.map_batches(_far_rows, fn_kwargs={"centroids": centroids, "distance": cluster_distance(c)}, batch_format="numpy").materialize()
        n_far = far.count()
        if n_far > c.cluster_sample_size:
            far = far.random_sample(c.cluster_sample_size / n_far, seed=c.seed)
        rows = [np.asarray(b["embedding"], dtype=np.float32) for b in far.iter_batches(batch_format="numpy", batch_size=4096)]
        centroids = refine(centroids, np.concatenate(rows) if rows else centroids[:0], cluster_distance(c), c.max_clusters)
    params = resolve_params(c, trajectory_count(units), cfg.fan_in)
    progress(f"{len(units)} lesson unit(s) in {len(centroids)} topic cluster(s); merging within clusters")
    reduced = (
        embedded.map_batches(assign_clusters, fn_kwargs={"centroids": centroids}, batch_format="numpy")
        .groupby("cluster", num_partitions=max(1, min(len(centroids), 64)))
        .map_groups(
            ConsolidateGroup,
            fn_constructor_args=(app, skill_view, params.model_dump()),
            compute=ActorPoolStrategy(size=2),
            num_cpus=0,  # the actors wait on Serve
            batch_format="numpy",
        )
    )
    clusters = []
    with Console.of(progress).stage("merge", len(centroids), "topic") as bar:
        for row in reduced.iter_rows():
            clusters.append(ClusterResult.model_validate_json(row["result"]))
            bar.advance()
    progress("assembling the skill from the topics, applying and validating it")
    return finish(s0, clusters, c, merge=merge, fixer=fixer, units=len(units), restate=restate)


