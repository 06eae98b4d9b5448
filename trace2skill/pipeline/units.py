"""Consolidation's lesson units on Ray: analysis results -> units (a row each) with their
embeddings -> ``RUN_DIR/units/shard=K/`` (Parquet, float16 embeddings, written once).

From ``embed_pool_min_trajectories`` results up, for a model embedder (``streams_units``),
the units are split and embedded *while the analysis runs*: ``with_streamed_units`` chains
an embedding op after the analysis actors, which writes each analysis part's units to
``RUN_DIR/streamed_units/<embedder>-<precision>/<part name>``; the analysis leaves a core
idle with an instant LLM, and the cores wait on an engine's requests with a real one
(docs/performance.md).
The merge stage's ``write_units`` then only embeds the parts without such a file (those
analysed before a resumption, or seen by an update) and copies the rest into the shards:
the shard count depends on how many results the run ends with, known only then.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import ray
from ray.data import ActorPoolStrategy

from trace2skill import parts as part_files
from trace2skill.analysts.models import AnalysisResult
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.embed import Embedder, available_cpus, make_embedder, stored_embeddings
from trace2skill.consolidate.shards import SHARD, shard_count, unit_columns
from trace2skill.consolidate.units import Unit, split_units
from trace2skill.pipeline.tuning import paths_dataset, releasing
from trace2skill.run.buckets import stable_bucket
from trace2skill.run.checkpoint import STREAMED_UNITS_DIR
# What splitting, reading and writing tasks reserve beside an embedding actor pool: they parse
# JSON and move Arrow batches, and must not wait for the cores the pool and the replicas hold.
LIGHT_TASK_CPUS = 0.25
RESULTS_PER_BLOCK = 512  # analysis results split and embedded per task batch (about 1,000 units a block)


def embed_args(c: ConsolidateConfig, threads: int) -> dict[str, Any]:
    """``make_embedder``'s arguments for the run's embedder with ``threads`` intra-op threads."""
    return {"name": c.embedder, "device": c.embed_device, "batch_size": c.embed_batch_size, "threads": threads, "precision": c.embed_precision}


def embed_threads(c: ConsolidateConfig) -> int:
    """Intra-op threads of an embedding actor: ``embed_threads``, or the actors' share of the node's cores."""
    return c.embed_threads or max(1, available_cpus() // c.embed_concurrency)


def streamed_dir(run_dir: Path, c: ConsolidateConfig) -> Path:
    """Where the analysis stage writes the units of its parts for the run's embedder: a folder
    per embedder and precision, so a resumption with another embedder finds none to reuse."""
    return run_dir / STREAMED_UNITS_DIR / f"{c.embedder}-{c.embed_precision}"


@releasing
def read_results(batch: pa.Table) -> pa.Table:
    """Ray Data ``map_batches``: the ``result`` column of the analysis parts named in ``path``."""
    return pa.concat_tables([pq.read_table(p, columns=["result"]) for p in batch.column("path").to_pylist()])


def result_units(batch: pa.Table) -> pa.Table:
    """Analysis results (a ``result`` row a trajectory) -> their units (a row each) with the
    text to embed and what a shard collapses by (``unit_columns``); ``opens`` is 1 on a
    trajectory's first unit, so summing it counts the trajectories that gave units."""
    split: list[Unit] = []
    opens: list[int] = []
    for raw in batch.column("result").to_pylist():
        result = AnalysisResult.model_validate_json(raw)
        units = split_units([result.patch] if result.patch is not None else [], result.lessons)
        split += units
        opens += [int(i == 0) for i in range(len(units))]
    return pa.table(
        {
            "unit_id": pa.array([u.id for u in split], pa.string()),
            "unit": pa.array([u.model_dump_json() for u in split], pa.string()),
            "text": pa.array([u.text for u in split], pa.string()),
            "opens": pa.array(opens, pa.int8()),
            **unit_columns(split),
        }
    )


def embedded(units: pa.Table, embedder: Embedder) -> pa.Table:
    """``units`` with float16 embeddings in place of their text."""
    return units.drop_columns(["text"]).append_column("embedding", stored_embeddings(embedder.embed(units.column("text").to_pylist()), sparse=embedder.sparse))


def sharded(units: pa.Table, shards: int) -> pa.Table:
    """``units`` with their shard last: a stable hash of the unit id (``consolidate.shards``)."""
    return units.append_column(SHARD, stable_bucket(units.column("unit_id").to_pylist(), shards))


@cache
def cached_embedder(**embed: Any) -> Embedder:
    """The embedder of a task's worker process, made once per process."""
    return make_embedder(**embed)


@releasing
def embedded_units(batch: pa.Table, shards: int, **embed: Any) -> pa.Table:
    """Ray Data ``map_batches`` task: the sharded, embedded units of a batch of analysis results
    (one task does it all, so a block is a batch of results' units, not a block per embedding
    batch); ``embed``: ``make_embedder``'s arguments."""
    return sharded(embedded(result_units(batch), cached_embedder(**embed)), shards)


class EmbedBatch:
    """Ray Data actor: embeds and shards batches of units (the model loads once per actor)."""

    def __init__(self, shards: int, **embed: Any):
        self.shards = shards
        self.embedder = make_embedder(**embed)

    def __call__(self, batch: pa.Table) -> pa.Table:
        return sharded(embedded(batch, self.embedder), self.shards)


def write_part_units(batch: pa.Table, folder: Path, embedder: Embedder) -> pa.Table:
    """For each analysis part named in ``batch``'s ``part`` column, its units embedded and
    written to ``folder/<part name>`` (atomically: a file there is a whole part's units);
    ``batch`` itself passes on unchanged, for the driver's progress."""
    for part in dict.fromkeys(p for p in batch.column("part").to_pylist() if p):
        part_files.write_part(embedded(result_units(pq.read_table(part, columns=["result"])), embedder), folder, Path(part).name)
    return batch


class StreamUnits:
    """Ray Data actor after the analysis actors: ``write_part_units`` with the embedder made once."""

    def __init__(self, folder: str, **embed: Any):
        self.folder = Path(folder)
        self.embedder = make_embedder(**embed)

    def __call__(self, batch: pa.Table) -> pa.Table:
        return write_part_units(batch, self.folder, self.embedder)


def streams_units(c: ConsolidateConfig, trajectories: int) -> bool:
    """Whether the analysis of ``trajectories`` embeds their units as it goes: with
    ``stream_units``, from ``embed_pool_min_trajectories``, for a model embedder. ``hashing``
    has no model: its embedding costs less than the copy it would save the merge stage (the
    compact corpus at 10k: analysis 14.7 -> 18.0 s for a merge 0.6 s shorter)."""
    return c.stream_units and c.embedder != "hashing" and trajectories >= c.embed_pool_min_trajectories


def with_streamed_units(analyzed: ray.data.Dataset, run_dir: Path, c: ConsolidateConfig) -> ray.data.Dataset:
    """``analyzed`` (the analysis actors' progress rows, with the ``part`` each wrote) followed
    by the op that embeds each part's units as it arrives: an actor pool of
    ``embed_concurrency`` (``StreamUnits``), each on its share of the cores, as in the merge
    stage: on one thread it fell behind a fast analysis (the compact corpus at 10k: the
    stage 14.6 -> 43.1 s). It reserves no CPU, as the analysis actors do not: a reservation
    beside the read's and the pairing's tasks (a CPU each on 2) let only one of them run at
    a time and stalled the stream at 10k."""
    return analyzed.map_batches(
        StreamUnits,
        fn_constructor_kwargs={"folder": str(streamed_dir(run_dir, c)), **embed_args(c, embed_threads(c))},
        batch_size=None,
        batch_format="pyarrow",
        compute=ActorPoolStrategy(size=c.embed_concurrency),
        num_cpus=0,
        num_gpus=c.embed_num_gpus,
    )


@releasing
def read_streamed(batch: pa.Table, shards: int) -> pa.Table:
    """Ray Data ``map_batches``: the streamed units files named in ``path``, sharded."""
    return sharded(pa.concat_tables([pq.read_table(p) for p in batch.column("path").to_pylist()]), shards)


def write_units(analysis_dir: Path, units_dir: Path, c: ConsolidateConfig, streamed: Path | None = None) -> tuple[int, int]:
    """Split every analysis result of ``analysis_dir/part-*.parquet`` into units and write them
    with their embeddings to ``units_dir/shard=K/`` (Parquet, from the workers; a shard per
    ``collapse_shard_trajectories`` results, by a hash of the unit id). A part whose units the
    analysis stage already embedded (a file of the same name in ``streamed``) is copied, not
    embedded again. Returns the parts copied and the parts embedded here.

    Below ``embed_pool_min_trajectories`` results the embedding is one task. Above it, a model embedder runs in an
    actor pool and the light tasks around it reserve a fraction of a CPU; the ``hashing`` embedder has no model to load,
    so it runs in plain tasks (a pool and its fractional-CPU neighbours made the step ~20% slower at 10k: docs/performance.md)."""
    shutil.rmtree(units_dir, ignore_errors=True)
    parts = sorted(analysis_dir.glob("part-*.parquet"))
    if not parts:
        return 0, 0
    results = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    shards = shard_count(results, c.collapse_shard_trajectories)
    found = {p: streamed / p.name for p in parts if streamed is not None and (streamed / p.name).is_file()}
    done = [str(f) for f in found.values()]
    todo = [str(p) for p in parts if p not in found]
    units = _embedding(todo, results, shards, c) if todo else None
    if done:
        per_task = max(1, round(RESULTS_PER_BLOCK * len(parts) / results))
        copied = paths_dataset(done).map_batches(read_streamed, fn_kwargs={"shards": shards}, batch_size=per_task, batch_format="pyarrow", num_cpus=LIGHT_TASK_CPUS)
        units = copied if units is None else units.union(copied)
    units.write_parquet(str(units_dir), partition_cols=[SHARD], ray_remote_args={"num_cpus": LIGHT_TASK_CPUS if done else _light_cpus(results, c)})
    return len(done), len(todo)


def _pooled(results: int, c: ConsolidateConfig) -> bool:
    return results >= c.embed_pool_min_trajectories and c.embedder != "hashing"


def _light_cpus(results: int, c: ConsolidateConfig) -> float:
    return min(c.embed_num_cpus, LIGHT_TASK_CPUS) if _pooled(results, c) else c.embed_num_cpus


def _embedding(parts: list[str], results: int, shards: int, c: ConsolidateConfig) -> ray.data.Dataset:
    """The sharded, embedded units of the analysis ``parts`` (of a run of ``results``)."""
    cpus = _light_cpus(results, c)
    if results < c.embed_pool_min_trajectories:  # a few MB: one block from here costs less than read_parquet's file-listing task
        units = ray.data.from_arrow(pa.concat_tables([pq.read_table(p, columns=["result"]) for p in parts]))
    else:  # the parts are ours and their row counts known: read_parquet's footer-reading tasks cost more than the split (100k: 38 s CPU)
        per_task = max(1, round(RESULTS_PER_BLOCK * len(parts) / results))
        units = paths_dataset(parts).map_batches(read_results, batch_size=per_task, batch_format="pyarrow", num_cpus=cpus)
    embed = embed_args(c, embed_threads(c))
    if not _pooled(results, c):
        return units.map_batches(embedded_units, fn_kwargs={"shards": shards, **embed}, batch_size=RESULTS_PER_BLOCK, batch_format="pyarrow", num_cpus=cpus, num_gpus=c.embed_num_gpus)
    return units.map_batches(result_units, batch_format="pyarrow", num_cpus=cpus).map_batches(
        EmbedBatch,
        fn_constructor_kwargs={"shards": shards, **embed},
        batch_size=c.embed_batch_size,
        compute=ActorPoolStrategy(size=c.embed_concurrency),
        num_cpus=c.embed_num_cpus, num_gpus=c.embed_num_gpus,
        batch_format="pyarrow",
    )  # fmt: skip
