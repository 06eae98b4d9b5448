"""Consolidation on Ray: analysis parts -> units -> embed -> ``units/`` (in shards) -> topic
centroids -> assign and collapse each shard -> groupby(cluster) reduce -> finish.

Units are split and embedded in the workers and written once, with float16 embeddings, to
``RUN_DIR/units/shard=K/``; the centroid sample is read from a few shards and the
far-row refit's from one task a shard (``consolidate.sampling``);
each shard is then assigned and collapsed by one task, which writes its folded units to
``RUN_DIR/folded/`` (``consolidate.shards``), so that only the shards' representatives
are shuffled to the per-cluster reduce, which writes each cluster's result to
``RUN_DIR/clusters/``. Only the (bounded) sample reaches the driver: the cluster results
hold every id behind what a topic keeps, and are read where the skill is finished
(``finish_topics``; in ``distill``, a worker).
The LLM calls of merges and fixes go to the Serve analyst; what each stage does is in
``trace2skill.consolidate`` (plain functions, tested without Ray).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray
from ray import serve
from ray.data import ActorPoolStrategy
from ray.serve.handle import DeploymentHandle

from trace2skill.analysts.models import AnalysisResult
from trace2skill.consolidate.anchors import BoundedRestater
from trace2skill.consolidate.cluster import fit_centroids, refine
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.embed import Embedder, available_cpus, embedding_matrix, make_embedder, stored_embeddings
from trace2skill.consolidate.finalize import Fixer
from trace2skill.consolidate.instance import RestateInstance
from trace2skill.consolidate.merge import MergeManyFn, MergeOutcome, single
from trace2skill.consolidate.reduce import ClusterResult, ReduceParams, reduce_cluster, share_ids
from trace2skill.consolidate.run import Consolidation, cluster_distance, finish, resolve_params
from trace2skill.consolidate.sampling import far_cap, far_in_shard, pick_far, shard_sample
from trace2skill.consolidate.shards import SHARD, collapse_shard, folded_table, merged_topics, shard_count, unit_columns, unit_counts
from trace2skill.consolidate.units import Unit, split_units
from trace2skill.consolidate.view import consolidation_view
from trace2skill.llm.base import LLMError
from trace2skill.pipeline.tuning import paths_dataset, releasing, trim
from trace2skill.run.buckets import stable_bucket
from trace2skill.run.options import DistillConfig
from trace2skill.run.outputs import TRAJECTORIES, trajectory_graders, trajectory_texts
from trace2skill.run.progress import Console
from trace2skill.safety.model_review import ModelReviewer, ModelVerdict, model_review_on
from trace2skill.schema import Edit, Patch, Usage
from trace2skill.skill.anchors import Restatement
from trace2skill.skill.model import Skill

Progress = Callable[[str], None]
UNITS_DIR = "units"  # under the run dir: every unit with its embedding, written once per consolidation
FOLDED_DIR = "folded"  # under the run dir: the near-duplicates folded, a file per shard and one per topic cluster
CLUSTERS_DIR = "clusters"  # under the run dir: each topic cluster's result (JSON), written by the reduce
SHARD_COLUMNS = ["unit_id", "unit", "embedding", "has_edits", "negated", "topic", "kinds", "lesson_ids", "trajectory_ids", "content"]
# What splitting, reading and writing tasks reserve beside an embedding actor pool: they parse
# JSON and move Arrow batches, and must not wait for the cores the pool and the replicas hold.
LIGHT_TASK_CPUS = 0.25
RESULTS_PER_BLOCK = 512  # analysis results split and embedded per task batch (about 1,000 units a block)


def serve_merge(handle: DeploymentHandle, skill_view: str) -> MergeManyFn:
    """A merge function whose LLM calls go to the Serve analyst: the merges of one call (one
    tree level) are all sent at once, then awaited (``consolidate.merge.single`` makes it a
    merge of one group)."""

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
            return MergeOutcome.model_validate_json(handle.fix.remote(patch.model_dump_json(), problems, consolidation_view(state)).result())
        except Exception as exc:  # the part is then withheld, the run goes on
            return MergeOutcome(error=f"fix call failed: {type(exc).__name__}: {exc}")

    return fix


def serve_restate(handle: DeploymentHandle, max_calls: int) -> BoundedRestater:
    """A bounded anchor and section restater whose LLM calls go to the Serve analyst."""

    def ask(asked: Restatement) -> tuple[str | None, Usage]:
        try:
            answer = json.loads(handle.restate.remote(asked.model_dump_json()).result())
            return answer["text"], Usage.model_validate(answer["usage"])
        except Exception:  # no restatement: the edit is refused with the reason
            return None, Usage()

    return BoundedRestater(ask, max_calls)


def serve_model_review(handle: DeploymentHandle) -> ModelReviewer:
    """The safety model reviewer whose calls go to the Serve analyst (the run's model); a
    call without a verdict raises ``LLMError``, so the edit is flagged and kept."""

    def ask(s0_text: str, edit: Edit) -> tuple[ModelVerdict, Usage]:
        try:
            answer = json.loads(handle.model_verdict.remote(s0_text, edit.model_dump_json()).result())
        except Exception as exc:  # no verdict: the edit is flagged and kept, the rules stand
            raise LLMError(f"model review call failed: {type(exc).__name__}: {exc}") from exc
        usage = Usage.model_validate(answer["usage"])
        if answer["verdict"] is None:
            raise LLMError(answer["error"], usage=usage)
        return ModelVerdict.model_validate(answer["verdict"]), usage

    return ask


def serve_restate_instance(handle: DeploymentHandle) -> RestateInstance:
    """The instance-detail guard's restatement round whose calls go to the Serve analyst:
    one bounded call per edit that carries instance detail."""

    def ask(edit: Edit, values: list[str]) -> tuple[Edit | None, Usage]:
        try:
            answer = json.loads(handle.restate_instance.remote(edit.model_dump_json(), values).result())
        except Exception:  # no restatement: what carries the values is refused with the reason
            return None, Usage()
        return (Edit.model_validate(answer["edit"]) if answer["edit"] else None), Usage.model_validate(answer["usage"])

    return ask


@releasing
def read_results(batch: pa.Table) -> pa.Table:
    """Ray Data ``map_batches``: the ``result`` column of the analysis parts named in ``path``."""
    return pa.concat_tables([pq.read_table(p, columns=["result"]) for p in batch.column("path").to_pylist()])


def result_units(batch: pa.Table, shards: int) -> pa.Table:
    """Ray Data ``map_batches``: analysis results (a row a trajectory) -> their units (a row
    each) with the text to embed, what a shard collapses by (``unit_columns``) and the shard;
    ``opens`` is 1 on a trajectory's first unit, so summing it counts the trajectories that gave units."""
    split: list[Unit] = []
    opens: list[int] = []
    for raw in batch.column("result").to_pylist():
        result = AnalysisResult.model_validate_json(raw)
        units = split_units([result.patch] if result.patch is not None else [], result.lessons)
        split += units
        opens += [int(i == 0) for i in range(len(units))]
    ids = [u.id for u in split]
    return pa.table(
        {
            "unit_id": pa.array(ids, pa.string()),
            "unit": pa.array([u.model_dump_json() for u in split], pa.string()),
            "text": pa.array([u.text for u in split], pa.string()),
            "opens": pa.array(opens, pa.int8()),
            **unit_columns(split),
            SHARD: stable_bucket(ids, shards),  # a shard is a stable hash of the unit id
        }
    )


def _embedded(batch: pa.Table, embedder: Embedder) -> pa.Table:
    return batch.drop_columns(["text"]).append_column("embedding", stored_embeddings(embedder.embed(batch.column("text").to_pylist()), sparse=embedder.sparse))


@cache
def _embedder(**embed: Any) -> Embedder:
    return make_embedder(**embed)  # once per worker process


@releasing
def embedded_units(batch: pa.Table, shards: int, **embed: Any) -> pa.Table:
    """Ray Data ``map_batches`` task: ``result_units`` of a batch of analysis results, with
    float16 embeddings in place of their text (one task does both, so a block is a batch of
    results' units, not a block per embedding batch); ``embed``: ``make_embedder``'s arguments."""
    return _embedded(result_units(batch, shards), _embedder(**embed))


class EmbedBatch:
    """Ray Data actor: embeds batches of units (the model loads once per actor)."""

    def __init__(self, **embed: Any):
        self.embedder = make_embedder(**embed)

    def __call__(self, batch: pa.Table) -> pa.Table:
        return _embedded(batch, self.embedder)


def write_units(analysis_dir: Path, units_dir: Path, c: ConsolidateConfig) -> bool:
    """Split every analysis result of ``analysis_dir/part-*.parquet`` into units and write them
    with their embeddings to ``units_dir/shard=K/`` (Parquet, from the workers; a shard per
    ``collapse_shard_trajectories`` results, by a hash of the unit id); whether any unit was.

    Below ``embed_pool_min_trajectories`` results the whole stage is one task. Above it, a model embedder runs in an
    actor pool and the light tasks around it reserve a fraction of a CPU; the ``hashing`` embedder has no model to load,
    so it runs in plain tasks (a pool and its fractional-CPU neighbours made the step ~20% slower at 10k: docs/performance.md)."""
    shutil.rmtree(units_dir, ignore_errors=True)
    parts = sorted(str(p) for p in analysis_dir.glob("part-*.parquet"))
    if not parts:
        return False
    results = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    shards, small = shard_count(results, c.collapse_shard_trajectories), results < c.embed_pool_min_trajectories
    pooled = not small and c.embedder != "hashing"
    cpus = min(c.embed_num_cpus, LIGHT_TASK_CPUS) if pooled else c.embed_num_cpus
    if small:  # a few MB: one block from here costs less than read_parquet's file-listing task
        units = ray.data.from_arrow(pa.concat_tables([pq.read_table(p, columns=["result"]) for p in parts]))
    else:  # the parts are ours and their row counts known: read_parquet's footer-reading tasks cost more than the split (100k: 38 s CPU)
        per_task = max(1, round(RESULTS_PER_BLOCK * len(parts) / results))
        units = paths_dataset(parts).map_batches(read_results, batch_size=per_task, batch_format="pyarrow", num_cpus=cpus)
    threads = c.embed_threads or max(1, available_cpus() // c.embed_concurrency)  # the analysis is over: the actors share all cores
    embed = dict(name=c.embedder, device=c.embed_device, batch_size=c.embed_batch_size, threads=threads, precision=c.embed_precision)
    if not pooled:
        units = units.map_batches(embedded_units, fn_kwargs={"shards": shards, **embed}, batch_size=RESULTS_PER_BLOCK, batch_format="pyarrow", num_cpus=cpus, num_gpus=c.embed_num_gpus)
    else:
        units = units.map_batches(result_units, fn_kwargs={"shards": shards}, batch_format="pyarrow", num_cpus=cpus).map_batches(
            EmbedBatch,
            fn_constructor_kwargs=embed,
            batch_size=c.embed_batch_size,
            compute=ActorPoolStrategy(size=c.embed_concurrency),
            num_cpus=c.embed_num_cpus, num_gpus=c.embed_num_gpus,
            batch_format="pyarrow",
        )
    units.write_parquet(str(units_dir), partition_cols=[SHARD], ray_remote_args={"num_cpus": cpus})
    return any(units_dir.glob(f"{SHARD}=*/*.parquet"))


@releasing
def far_in_shards(batch: pa.Table, centroids: np.ndarray, distance: float, cap: int, seed: int) -> pa.Table:
    """Ray Data ``map_batches`` over shard folders (``path``): each shard's far units, sampled
    (``sampling.far_in_shard``)."""
    return pa.concat_tables([far_in_shard(Path(path), centroids, distance, cap, seed) for path in batch.column("path").to_pylist()])


def fit_topics(units_dir: Path, shards: list[Path], n: int, c: ConsolidateConfig) -> np.ndarray:
    """Topic centroids fitted on a sample of at most ``cluster_sample_size`` stored embeddings
    (read from a few of the ``shards`` of ``units_dir``), refined on a sample of the same
    bound of the rows far from all of them (one task a shard finds them)."""
    distance, size = cluster_distance(c), c.cluster_sample_size
    if n <= size:  # the whole set is the sample: read it here rather than start a Ray Data job
        return fit_centroids(embedding_matrix(pq.read_table(units_dir, columns=["embedding"]).column("embedding")), distance, c.max_clusters)
    centroids = fit_centroids(shard_sample(shards, size, c.seed), distance, c.max_clusters)
    args = {"centroids": centroids, "distance": distance, "cap": far_cap(size, len(shards)), "seed": c.seed}
    found = paths_dataset([str(d) for d in shards]).map_batches(far_in_shards, fn_kwargs=args, batch_size=1, batch_format="pyarrow")
    far = [batch for batch in found.iter_batches(batch_size=None, batch_format="pyarrow") if batch.num_rows]
    if not far:
        return centroids
    return refine(centroids, pick_far(pa.concat_tables(far), size, c.seed), distance, c.max_clusters)


@releasing
def collapse_shards(batch: pa.Table, centroids: np.ndarray, threshold: float, folded_dir: str) -> pa.Table:
    """Ray Data ``map_batches``: for each shard folder of ``batch``'s ``path`` column, assign its
    units to the topic centroids and collapse each cluster's share (``collapse_shard``); the
    folded units go to ``folded_dir/<shard>.parquet`` from here, the representatives on."""
    out = []
    for path in batch.column("path").to_pylist():
        reps, folded = collapse_shard(pq.read_table(path, columns=SHARD_COLUMNS), centroids, threshold)
        pq.write_table(folded, Path(folded_dir) / f"{Path(path).name}.parquet")  # a retried task writes the same file
        out.append(reps)
    return pa.concat_tables(out)


class ConsolidateGroup:
    """Ray Data ``map_groups`` actor: one topic cluster's shard representatives -> collapse,
    prevalence, merge tree -> ``clusters_dir/cluster=K.json``, and one row with the cluster
    id. What the cluster's collapse folded goes to ``folded_dir/cluster=K.parquet``: each
    folded representative carries the evidence of every unit it stood for (at 100k
    trajectories, 365,666 of the 950,784 ids the result held). The result itself names
    every lesson and trajectory behind what the topic keeps (at 1M, the two results raised
    the driver from 745 to 1,291 MB): it stays in its file until the skill is finished."""

    def __init__(self, app: str, skill_view: str, params: dict, folded_dir: str, clusters_dir: str):
        self.merge_many = serve_merge(serve.get_app_handle(app), skill_view)
        self.params = ReduceParams.model_validate(params)
        self.folded_dir = Path(folded_dir)
        self.clusters_dir = Path(clusters_dir)

    def __call__(self, group: pa.Table) -> pa.Table:
        # By unit id: the rows come in the order the shards finished and the shuffle delivered
        # them, and the merge tree must not depend on either.
        group = group.take(pc.sort_indices(group, [("unit_id", "ascending")]))
        units = [Unit.model_validate_json(u) for u in group.column("unit").to_pylist()]
        embeddings = embedding_matrix(group.column("embedding"), np.float16)  # as stored; collapse widens row by row
        result = reduce_cluster(
            int(group.column("cluster")[0].as_py()),
            units,
            embeddings,
            self.params,
            self.merge_many,
            topics=merged_topics(group.column("topics").to_pylist()),
            units_in=pc.sum(group.column("members")).as_py(),
        )
        name = f"cluster={result.cluster_id}"  # a retry writes the same files
        pq.write_table(folded_table(result.cluster_id, result.collapsed), self.folded_dir / f"{name}.parquet")
        (self.clusters_dir / f"{name}.json").write_text(result.model_copy(update={"collapsed": []}).model_dump_json())
        return pa.table({"cluster": [result.cluster_id]})


@dataclass(frozen=True)
class Topics:
    """What the reduce left in the run dir for ``finish_topics``."""

    units: int  # lesson units split from the analysis results
    clusters: list[Path] = field(default_factory=list)  # a ``ClusterResult`` (JSON) per topic cluster
    folded: list[Path] = field(default_factory=list)  # the near-duplicates folded, a file per shard and per cluster


def reduce_topics(analysis_dir: Path, cfg: DistillConfig, app: str, skill_view: str, progress: Progress) -> Topics:
    """Units from the analysis results in ``analysis_dir`` (split and embedded in the workers,
    written in shards to ``units/`` beside it) -> topic centroids fitted on a bounded sample
    -> each shard assigned and collapsed (map_batches; its folded units written to
    ``folded/``) -> ``groupby(cluster).map_groups`` reduce of the representatives (what
    it folds written to ``folded/`` too, its result to ``clusters/``). The driver receives
    the sample and a cluster id a topic."""
    c = cfg.consolidate
    units_dir, folded_dir, clusters_dir = (analysis_dir.parent / d for d in (UNITS_DIR, FOLDED_DIR, CLUSTERS_DIR))
    for folder in (folded_dir, clusters_dir):
        shutil.rmtree(folder, ignore_errors=True)
    if not write_units(analysis_dir, units_dir, c):
        return Topics(units=0)
    shards = sorted(units_dir.glob(f"{SHARD}=*"))
    n_units, n_trajectories = unit_counts(shards)
    centroids = fit_topics(units_dir, shards, n_units, c)
    trim()  # the sample the centroids were fitted on
    params = resolve_params(c, n_trajectories)
    progress(f"{n_units} lesson unit(s) in {len(centroids)} topic cluster(s), {len(shards)} shard(s); merging within clusters")
    folded_dir.mkdir(parents=True)
    clusters_dir.mkdir(parents=True)
    reduced = (
        paths_dataset([str(d) for d in shards])
        .map_batches(
            collapse_shards,
            fn_kwargs={"centroids": centroids, "threshold": params.dedup_threshold, "folded_dir": str(folded_dir)},
            batch_size=1,
            batch_format="pyarrow",
        )
        .groupby("cluster", num_partitions=max(1, min(len(centroids), 64)))
        .map_groups(
            ConsolidateGroup,
            fn_constructor_args=(app, skill_view, params.model_dump(), str(folded_dir), str(clusters_dir)),
            compute=ActorPoolStrategy(size=min(2, len(centroids))),
            num_cpus=0,  # the actors wait on Serve
            batch_format="pyarrow",
        )
    )
    done = []
    with Console.of(progress).stage("merge", len(centroids), "topic") as bar:
        for row in reduced.iter_rows():
            done.append(row["cluster"])
            bar.advance()
    return Topics(units=n_units, clusters=[clusters_dir / f"cluster={k}.json" for k in sorted(done)], folded=sorted(folded_dir.glob("*.parquet")))


def finish_topics(s0: Skill, topics: Topics, cfg: DistillConfig, app: str, skill_view: str) -> Consolidation:
    """The skill finished from the cluster results of ``topics``: assembled, applied and
    validated (``consolidate.run.finish``), with its merges, fixes, anchor restatements and
    instance-detail restatements sent to the Serve analyst ``app``, and so are the safety
    model reviewer's verdicts when ``model_review_on`` for the run's backend. Runs where it
    is called: ``distill`` calls it in a worker (``pipeline.run``), so the results' ids never
    reach the driver."""
    c = cfg.consolidate
    handle = serve.get_app_handle(app)
    clusters = [share_ids(ClusterResult.model_validate_json(path.read_text())) for path in topics.clusters]
    merge, fixer, restate = single(serve_merge(handle, skill_view)), serve_fix(handle), serve_restate(handle, c.anchor_restate_calls)
    evidence = partial(trajectory_texts, cfg.resolved_run_dir / TRAJECTORIES)
    graders = partial(trajectory_graders, cfg.resolved_run_dir / TRAJECTORIES)
    model_review = serve_model_review(handle) if model_review_on(c.safety, cfg.backend.backend) else None
    return finish(
        s0, clusters, c, merge=merge, fixer=fixer, units=topics.units, restate=restate, folded=topics.folded,
        evidence=evidence, restate_instance=serve_restate_instance(handle), model_review=model_review, graders=graders,
    )  # fmt: skip

