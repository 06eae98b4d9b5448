"""Consolidation on Ray: analysis parts -> units -> embed -> ``units/`` -> topic centroids ->
assign -> groupby(cluster) reduce -> finish.

Units are split and embedded in the workers and written once, with float16 embeddings, to
``RUN_DIR/units/``; the centroid sample, the far-row refit and the assign + groupby pass
read that dataset, and only the (bounded) sample and the cluster results reach the driver.
The LLM calls of merges and fixes go to the Serve analyst; what each stage does is in
``trace2skill.consolidate`` (plain functions, tested without Ray).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray
from ray import serve
from ray.data import ActorPoolStrategy
from ray.serve.handle import DeploymentHandle

from trace2skill.analysts.analyze import AnalysisResult
from trace2skill.config import DistillConfig
from trace2skill.consolidate.anchors import BoundedRestater
from trace2skill.consolidate.cluster import assign, far_from, fit_centroids, refine, sample_indices
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.embed import Embedder, embedding_matrix, make_embedder, stored_embeddings
from trace2skill.consolidate.finalize import Fixer
from trace2skill.consolidate.merge import MergeFn, MergeManyFn, MergeOutcome
from trace2skill.consolidate.reduce import ClusterResult, ReduceParams, reduce_cluster
from trace2skill.consolidate.run import Consolidation, cluster_distance, finish, resolve_params
from trace2skill.consolidate.units import Unit, split_units
from trace2skill.llm.base import Usage
from trace2skill.progress import Console
from trace2skill.schema import Patch
from trace2skill.skill.folder import skill_prompt_view
from trace2skill.skill.model import Skill

Progress = Callable[[str], None]
UNITS_DIR = "units"  # under the run dir: every unit with its embedding, written once per consolidation
# What splitting, reading and writing tasks reserve beside an embedding actor pool: they parse
# JSON and move Arrow batches, and must not wait for the cores the pool and the replicas hold.
LIGHT_TASK_CPUS = 0.25


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


def result_units(batch: pa.Table) -> pa.Table:
    """Ray Data ``map_batches``: analysis results (a row a trajectory) -> their units (a row
    each) with the text to embed; ``opens`` is 1 on a trajectory's first unit, so summing it
    counts the trajectories that gave units."""
    ids, units, texts, opens = [], [], [], []
    for raw in batch.column("result").to_pylist():
        result = AnalysisResult.model_validate_json(raw)
        split = split_units([result.patch] if result.patch is not None else [], result.lessons)
        ids += [u.id for u in split]
        units += [u.model_dump_json() for u in split]
        texts += [u.text for u in split]
        opens += [int(i == 0) for i in range(len(split))]
    return pa.table({"unit_id": pa.array(ids, pa.string()), "unit": pa.array(units, pa.string()), "text": pa.array(texts, pa.string()), "opens": pa.array(opens, pa.int8())})


def _embedded(batch: pa.Table, embedder: Embedder) -> pa.Table:
    vectors = embedder.embed(batch.column("text").to_pylist())
    return batch.drop_columns(["text"]).append_column("embedding", stored_embeddings(vectors))


@cache
def _embedder(name: str, device: str | None, batch_size: int) -> Embedder:
    return make_embedder(name, device=device, batch_size=batch_size)  # once per worker process


def embed_units(batch: pa.Table, name: str, device: str | None, batch_size: int) -> pa.Table:
    """Ray Data ``map_batches`` task: the batch's units with float16 embeddings, in place of their text."""
    return _embedded(batch, _embedder(name, device, batch_size))


class EmbedBatch:
    """Ray Data actor: embeds batches of units (the model loads once per actor)."""

    def __init__(self, name: str, device: str | None, batch_size: int):
        self.embedder = make_embedder(name, device=device, batch_size=batch_size)

    def __call__(self, batch: pa.Table) -> pa.Table:
        return _embedded(batch, self.embedder)


def write_units(analysis_dir: Path, units_dir: Path, c: ConsolidateConfig) -> bool:
    """Split every analysis result of ``analysis_dir/part-*.parquet`` into units and write them
    with their embeddings to ``units_dir`` (Parquet, from the workers); whether any unit was.

    Below ``embed_pool_min_trajectories`` results the whole stage is one task. Above it, a
    model embedder runs in an actor pool and the light tasks around it reserve a fraction of a
    CPU; the ``hashing`` embedder has no model to load, so it runs in plain tasks (a pool and
    its fractional-CPU neighbours cost 3x the time at 10k trajectories: docs/performance.md)."""
    shutil.rmtree(units_dir, ignore_errors=True)
    parts = sorted(str(p) for p in analysis_dir.glob("part-*.parquet"))
    if not parts:
        return False
    small = sum(pq.ParquetFile(p).metadata.num_rows for p in parts) < c.embed_pool_min_trajectories
    pooled = not small and c.embedder != "hashing"
    cpus = min(c.embed_num_cpus, LIGHT_TASK_CPUS) if pooled else c.embed_num_cpus
    if small:  # a few MB: one block from here costs less than read_parquet's file-listing task
        units = ray.data.from_arrow(pa.concat_tables([pq.read_table(p, columns=["result"]) for p in parts]))
    else:
        units = ray.data.read_parquet(parts, columns=["result"], ray_remote_args={"num_cpus": cpus})
    units = units.map_batches(result_units, batch_format="pyarrow", num_cpus=cpus)
    embed = {"name": c.embedder, "device": c.embed_device, "batch_size": c.embed_batch_size}
    if not pooled:
        units = units.map_batches(embed_units, fn_kwargs=embed, batch_size=c.embed_batch_size, batch_format="pyarrow", num_cpus=cpus)
    else:
        units = units.map_batches(
            EmbedBatch,
            fn_constructor_kwargs=embed,
            batch_size=c.embed_batch_size,
            compute=ActorPoolStrategy(size=c.embed_concurrency),
            num_cpus=c.embed_num_cpus,
            batch_format="pyarrow",
        )
    units.write_parquet(str(units_dir), ray_remote_args={"num_cpus": cpus})
    return any(units_dir.glob("*.parquet"))


def _matrix(ds: ray.data.Dataset, size: int, seed: int) -> np.ndarray:
    """The float32 embeddings of ``ds`` on the driver, at most ``size`` rows of them."""
    rows = [embedding_matrix(b.column("embedding")) for b in ds.iter_batches(batch_format="pyarrow", batch_size=4096)]
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    x = np.concatenate(rows)
    return x[sample_indices(len(x), size, seed)]


def _sample(ds: ray.data.Dataset, n: int, size: int, seed: int) -> np.ndarray:
    """About ``size`` rows of ``ds`` (``n`` rows) at random, never more."""
    return _matrix(ds if n <= size else ds.random_sample(size / n, seed=seed), size, seed)


def _far_rows(batch: pa.Table, centroids: np.ndarray, distance: float) -> pa.Table:
    mask = far_from(embedding_matrix(batch.column("embedding")), centroids, distance)
    return batch.select(["embedding"]).filter(pa.array(mask))


def _far_count(batch: pa.Table, centroids: np.ndarray, distance: float) -> pa.Table:
    return pa.table({"far": [int(far_from(embedding_matrix(batch.column("embedding")), centroids, distance).sum())]})


def fit_topics(units_dir: Path, n: int, c: ConsolidateConfig) -> np.ndarray:
    """Topic centroids fitted on a sample of at most ``cluster_sample_size`` stored embeddings,
    refined on a sample of the same bound of the rows far from all of them."""
    distance, size = cluster_distance(c), c.cluster_sample_size
    if n <= size:  # the whole set is the sample: read it here rather than start a Ray Data job
        return fit_centroids(embedding_matrix(pq.read_table(units_dir, columns=["embedding"]).column("embedding")), distance, c.max_clusters)
    vectors = ray.data.read_parquet(str(units_dir), columns=["embedding"])
    centroids = fit_centroids(_sample(vectors, n, size, c.seed), distance, c.max_clusters)
    args = {"centroids": centroids, "distance": distance}
    n_far = int(vectors.map_batches(_far_count, fn_kwargs=args, batch_format="pyarrow").sum("far") or 0)
    if n_far == 0:
        return centroids
    far = _sample(vectors.map_batches(_far_rows, fn_kwargs=args, batch_format="pyarrow"), n_far, size, c.seed)
    return refine(centroids, far, distance, c.max_clusters)


def assign_clusters(batch: pa.Table, centroids: np.ndarray) -> pa.Table:
    """Ray Data ``map_batches``: the nearest topic centroid of each embedded unit."""
    labels, _ = assign(embedding_matrix(batch.column("embedding")), centroids)
    return batch.append_column("cluster", pa.array(labels, pa.int64()))


class ConsolidateGroup:
    """Ray Data ``map_groups`` actor: one topic cluster -> collapse, prevalence, merge tree -> one row."""

    def __init__(self, app: str, skill_view: str, params: dict):
        self.merge_many = serve_merge_many(serve.get_app_handle(app), skill_view)
        self.params = ReduceParams.model_validate(params)

    def __call__(self, group: pa.Table) -> pa.Table:
        # By unit id: the rows come in the order analyses finished and the shuffle delivered
        # them, and the merge tree must not depend on either.
        group = group.take(pc.sort_indices(group, [("unit_id", "ascending")]))
        units = [Unit.model_validate_json(u) for u in group.column("unit").to_pylist()]
        embeddings = embedding_matrix(group.column("embedding"), np.float16)  # as stored; collapse widens row by row
        result = reduce_cluster(int(group.column("cluster")[0].as_py()), units, embeddings, self.params, self.merge_many)
        return pa.table({"result": [result.model_dump_json()]})


def consolidate(s0: Skill, analysis_dir: Path, cfg: DistillConfig, app: str, skill_view: str, handle: DeploymentHandle, progress: Progress) -> Consolidation:
    """Units from the analysis results in ``analysis_dir`` (split and embedded in the workers,
    written to ``units/`` beside it) -> topic centroids fitted on a bounded sample -> assign
    (map_batches) -> ``groupby(cluster).map_groups`` reduce -> assemble, apply and validate
    (``finish``) on the driver, which only receives the sample and one row per cluster."""
    c = cfg.consolidate
    merge, fixer, restate = serve_merge(handle, skill_view), serve_fix(handle), serve_restate(handle, c.anchor_restate_calls)
    units_dir = analysis_dir.parent / UNITS_DIR
    if not write_units(analysis_dir, units_dir, c):
        return finish(s0, [], c, merge=merge, fixer=fixer, units=0, restate=restate)
    opens = pq.read_table(units_dir, columns=["opens"]).column("opens")  # one byte a unit
    n_units, n_trajectories = len(opens), pc.sum(opens).as_py() or 0
    centroids = fit_topics(units_dir, n_units, c)
    params = resolve_params(c, n_trajectories, cfg.fan_in)
    progress(f"{n_units} lesson unit(s) in {len(centroids)} topic cluster(s); merging within clusters")
    columns = ["unit_id", "unit", "embedding"]
    # Up to the sample size the units are a bounded table: one block from the driver, no listing task.
    stored = ray.data.from_arrow(pq.read_table(units_dir, columns=columns)) if n_units <= c.cluster_sample_size else ray.data.read_parquet(str(units_dir), columns=columns)
    reduced = (
        stored.map_batches(assign_clusters, fn_kwargs={"centroids": centroids}, batch_format="pyarrow")
        .groupby("cluster", num_partitions=max(1, min(len(centroids), 64)))
        .map_groups(
            ConsolidateGroup,
            fn_constructor_args=(app, skill_view, params.model_dump()),
            compute=ActorPoolStrategy(size=min(2, len(centroids))),
            num_cpus=0,  # the actors wait on Serve
            batch_format="pyarrow",
        )
    )
    clusters = []
    with Console.of(progress).stage("merge", len(centroids), "topic") as bar:
        for row in reduced.iter_rows():
            clusters.append(ClusterResult.model_validate_json(row["result"]))
            bar.advance()
    progress("assembling the skill from the topics, applying and validating it")
    return finish(s0, clusters, c, merge=merge, fixer=fixer, units=n_units, restate=restate)
