"""Consolidation on Ray: analysis parts -> units -> embed -> ``units/`` (in shards) -> topic
centroids -> assign and collapse each shard -> groupby(cluster) reduce -> finish.

Units are split and embedded in the workers (from ``embed_pool_min_trajectories`` results,
while the analysis runs: ``pipeline.units``) and written once, with float16 embeddings, to
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
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from ray import serve
from ray.data import ActorPoolStrategy
from ray.serve.handle import DeploymentHandle

from trace2skill.consolidate.anchors import BoundedRestater
from trace2skill.consolidate.cluster import fit_centroids, refine
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.embed import embedding_matrix
from trace2skill.consolidate.finalize import Fixer
from trace2skill.consolidate.instance import RestateInstance
from trace2skill.consolidate.merge import MergeManyFn, MergeOutcome, single
from trace2skill.consolidate.reduce import ClusterResult, ReduceParams, reduce_cluster, share_ids
from trace2skill.consolidate.run import Consolidation, cluster_distance, finish, resolve_params
from trace2skill.consolidate.sampling import far_cap, far_in_shard, pick_far, shard_sample
from trace2skill.consolidate.shards import SHARD, collapse_shard, folded_table, merged_topics, unit_counts
from trace2skill.consolidate.units import Unit
from trace2skill.consolidate.view import consolidation_view
from trace2skill.llm.base import LLMError
from trace2skill.pipeline.tuning import paths_dataset, releasing, trim
from trace2skill.pipeline.units import streamed_dir, write_units
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
    streamed = streamed_dir(analysis_dir.parent, c)
    copied, embedded = write_units(analysis_dir, units_dir, c, streamed)
    shutil.rmtree(streamed.parent, ignore_errors=True)  # now in units/; a rerun of this stage embeds again
    if copied:
        progress(f"lesson units of {copied} of {copied + embedded} analysis part(s) embedded during the analysis")
    if not any(units_dir.glob(f"{SHARD}=*/*.parquet")):
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

