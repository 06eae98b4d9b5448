"""Contrastive pairs on Ray Data: give each failure the successful sibling of its task.

The trajectories themselves are never shuffled (at 100k they are 2.3 GB, and a shuffle is a
barrier that holds them all before the first analysis starts: docs/performance.md). Instead:

1. a ``groupby`` over compact rows (key, id, outcome, length, file: a few dozen bytes a run,
   read from their own columns; the steps are not decoded), by buckets of task keys, ranks
   each task's successful runs, shortest first, for the tasks that have a failure;
2. a streaming pass over the files that hold a candidate builds the view of each task's
   first candidate (the next one where it cannot be read, in a further pass of the few
   tasks left);
3. the analysis stream gets a ``pairing`` column by a lookup of the run's key in the
   resulting table: one Pairing a paired task, on the driver and in each worker.

The rule (shortest readable success, ties by id: ``SIBLING_ORDER``, at most
``MAX_CANDIDATES`` tried) and the task key (``schema.task_key``) are defined once, in
``trace2skill.analysts.contrast`` and ``trace2skill.schema``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray
from ray.data.context import ShuffleStrategy

from trace2skill.analysts.batch import PAIRING
from trace2skill.analysts.contrast import MAX_CANDIDATES, SIBLING_ORDER, Pairing, SiblingView, sibling_view
from trace2skill.parts import parts
from trace2skill.pipeline.tuning import paths_dataset, releasing
from trace2skill.run.buckets import stable_bucket
from trace2skill.schema import task_key

KEY = "pair_key"
BUCKET = "pair_bucket"  # the shuffle's group: many tasks, so the ranking is one vectorised call a bucket
NO_SIBLING = Pairing().model_dump_json()  # a failure of a task with no successful run
ROWS_PER_PARTITION = 1000  # shuffle partitions: one per this many runs, at most MAX_PARTITIONS
MAX_PARTITIONS = 64
FILES_PER_COMPACT_TASK = 16  # part files of ~1,000 runs: the compact pass reads a few small columns of each

# What the compact pass reads of each run: the step count stored at read time, not the steps.
COMPACT_COLUMNS = ["id", "task", "task_key", "success", "counted_steps"]

def _keys(batch: pa.Table) -> list[str | None]:
    """The rows' pairing keys (None for a run of unknown outcome: it pairs with nothing)."""
    return [
        task_key(stored, task) if success is not None else None
        for stored, task, success in zip(batch["task_key"].to_pylist(), batch["task"].to_pylist(), batch["success"].to_pylist())
    ]


def task_runs(batch: pa.Table, buckets: int = 1) -> pa.Table:
    """``map_batches``: the compact row of each run with a key (key, id, outcome, length, the
    file it is in where the batch says, and its bucket of tasks: a stable hash of the key
    modulo ``buckets``)."""
    has = set(batch.column_names)
    keys = _keys(batch)
    columns = {KEY: pa.array(keys, pa.string()), BUCKET: stable_bucket(keys, buckets), "id": batch["id"], "success": batch["success"], "length": batch["counted_steps"]}
    if "path" in has:
        columns["path"] = batch["path"]
    table = pa.table(columns)
    return table.filter(pc.is_valid(table[KEY]))


def rank_candidates(runs: pa.Table) -> pa.Table:
    """``map_groups`` over a bucket of tasks (whole tasks, any number of them): each task with
    a failure -> its successful runs in ``SIBLING_ORDER``, at most ``MAX_CANDIDATES`` (and,
    where the runs have them, the files they are in). Tasks with no failure or no success
    get no row. Vectorised: one call a bucket, not one a task."""
    failed = pc.unique(runs.filter(pc.equal(runs["success"], False))[KEY])
    wins = runs.filter(pc.and_(pc.equal(runs["success"], True), pc.is_in(runs[KEY], failed)))
    wins = wins.sort_by([(KEY, "ascending"), *SIBLING_ORDER])
    listed = [("id", "list")] + ([("path", "list")] if "path" in runs.column_names else [])
    grouped = wins.group_by(KEY, use_threads=False).aggregate(listed)  # single-threaded: lists keep the sorted order
    ranked = {KEY: grouped[KEY], "candidates": pc.list_slice(grouped["id_list"], 0, MAX_CANDIDATES)}
    if "path" in runs.column_names:
        ranked["files"] = pc.list_slice(grouped["path_list"], 0, MAX_CANDIDATES)
    return pa.table(ranked)


def candidate_views(batch: pa.Table, wanted: dict[str, str]) -> pa.Table:
    """``map_batches``: for each run in ``wanted`` (id -> task key), its sibling view as JSON, or why it has none."""
    ids, views, errors = [], [], []
    for row in batch.filter(pc.is_in(batch["id"], pa.array(list(wanted), pa.string()))).to_pylist():
        ids.append(row["id"])
        try:
            views.append(sibling_view(row, wanted[row["id"]]).model_dump_json())
            errors.append(None)
        except ValueError as exc:
            views.append(None)
            errors.append(f"sibling {row['id']} skipped: {exc}")
    return pa.table({"id": pa.array(ids, pa.string()), "view": pa.array(views, pa.string()), "error": pa.array(errors, pa.string())})


def attach_pairings(batch: pa.Table, pairings: dict[str, str]) -> pa.Table:
    """``map_batches``: the batch with a ``pairing`` column: a failure's Pairing (JSON), else null."""
    out = [pairings.get(key, NO_SIBLING) if key is not None and success is False else None for key, success in zip(_keys(batch), batch["success"].to_pylist())]
    return batch.append_column(PAIRING, pa.array(out, pa.string()))


@releasing
def compact_runs(batch: pa.Table, columns: list[str], buckets: int) -> pa.Table:
    """``map_batches`` over part files (``path``): the compact rows of their runs (``task_runs``),
    each with the file it is in."""
    tables = []
    for path in batch.column("path").to_pylist():
        table = pq.read_table(path, columns=columns)
        tables.append(table.append_column("path", pa.array([path] * table.num_rows, pa.string())))
    return task_runs(pa.concat_tables(tables), buckets)


@releasing
def file_candidates(batch: pa.Table, wanted: dict[str, str]) -> pa.Table:
    """``map_batches`` over part files (``path``): ``candidate_views`` of the wanted runs in them."""
    return pa.concat_tables([candidate_views(pq.read_table(path), wanted) for path in batch.column("path").to_pylist()])


def task_pairings(trajectories: Path, num_rows: int) -> dict[str, str]:
    """Task key -> the Pairing JSON of its failures, for every task with a failure and a
    successful run (a failure of any other task has no sibling), over the trajectory
    dataset at ``trajectories`` (``num_rows`` runs)."""
    partitions = max(1, min(MAX_PARTITIONS, num_rows // ROWS_PER_PARTITION))
    files = [str(p) for p in parts(trajectories)]
    compact = paths_dataset(files).map_batches(
        compact_runs, fn_kwargs={"columns": COMPACT_COLUMNS, "buckets": partitions}, batch_size=FILES_PER_COMPACT_TASK, batch_format="pyarrow"
    )
    # A task-based (sort) shuffle: the hash shuffle's aggregator actors reserve CPUs, and
    # next to a replica holding most of a node's CPUs (the embedded engine) they starve the
    # reads that feed them. The rows it moves are a few dozen bytes each. Grouped by bucket,
    # not by task: map_groups calls its function once a group, and a call (and an output
    # table) per task cost 5.7 s and ~0.5 GB of worker heap at 100k.
    compact.context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    ranked = compact.groupby(BUCKET, num_partitions=partitions).map_groups(rank_candidates, batch_format="pyarrow")
    queue = {row[KEY]: list(zip(row["candidates"], row["files"])) for row in ranked.iter_rows()}
    pairings: dict[str, str] = {}
    skipped: dict[str, list[str]] = {key: [] for key in queue}
    while queue:  # one pass in the common case: a task's shortest success can be read
        wanted = {candidates[0][0]: key for key, candidates in queue.items()}
        holding = sorted({candidates[0][1] for candidates in queue.values()})  # only the files that hold a candidate are decoded
        # A task a file: these tasks decode whole trajectories.
        found = paths_dataset(holding).map_batches(file_candidates, fn_kwargs={"wanted": wanted}, batch_size=1, batch_format="pyarrow")
        for row in found.iter_rows():
            key = wanted[row["id"]]
            if row["view"] is not None:
                pairings[key] = Pairing(sibling=SiblingView.model_validate_json(row["view"]), skipped=skipped.pop(key)).model_dump_json()
            else:
                skipped[key].append(row["error"])
        queue = {key: candidates[1:] for key, candidates in queue.items() if key not in pairings and len(candidates) > 1}
    pairings.update((key, Pairing(skipped=reasons).model_dump_json()) for key, reasons in skipped.items() if key not in pairings)
    return pairings


def with_pairings(rows: ray.data.Dataset, pairings: dict[str, str]) -> ray.data.Dataset:
    """The trajectory dataset ``rows`` with a ``pairing`` column: a failure's sibling, if its
    task has one in ``pairings`` (``task_pairings``), looked up by its task key as the runs
    stream by once."""
    return rows.map_batches(attach_pairings, fn_kwargs={"pairings": pairings}, batch_format="pyarrow")
