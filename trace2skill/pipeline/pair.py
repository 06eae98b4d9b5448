"""Contrastive pairs on Ray Data: group runs by task key, give each failure its successful sibling.

The pairing works over the dataset, never in the driver: a ``map_batches`` computes each
run's pairing key, ``groupby(key).map_groups`` picks one sibling per task by the rule in
``trace2skill.analysts.contrast`` and writes it next to every failure of that task as a
``pairing`` column (JSON; null for the others); runs without a key or outcome skip the
shuffle. The analysis stage reads the column and hands it to the analyst with the run.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import ray
from ray.data.context import ShuffleStrategy

from trace2skill.analysts.batch import PAIRING
from trace2skill.analysts.contrast import pair_group, pairing_key

KEY = "pair_key"


def with_pairing_key(batch: pa.Table) -> pa.Table:
    """``batch`` with its rows' pairing keys (null for a run of unknown outcome: it pairs with nothing)."""
    # A run dir written before task keys existed (a resumption) pairs by task text alone.
    task_keys = batch["task_key"].to_pylist() if "task_key" in batch.column_names else [None] * batch.num_rows
    keys = [
        pairing_key(task_key, task) if success is not None else None
        for task_key, task, success in zip(task_keys, batch["task"].to_pylist(), batch["success"].to_pylist())
    ]
    return batch.append_column(KEY, pa.array(keys, pa.string()))


def attach_pairings(group: pa.Table) -> pa.Table:
    """``map_groups``: the runs of one task key, each failure with its pairing."""
    key = group[KEY][0].as_py()
    return group.append_column(PAIRING, pa.array(pair_group(group.to_pylist(), key), pa.string()))


def _keyed(batch: pa.Table) -> pa.Table:
    return batch.filter(pc.is_valid(batch[KEY]))


def _unkeyed(batch: pa.Table) -> pa.Table:
    rest = batch.filter(pc.is_null(batch[KEY]))
    return rest.append_column(PAIRING, pa.nulls(rest.num_rows, pa.string()))


ROWS_PER_PARTITION = 1000  # shuffle partitions: one per this many runs, at most MAX_PARTITIONS
MAX_PARTITIONS = 64


def pair_siblings(rows: ray.data.Dataset, num_rows: int) -> ray.data.Dataset:
    """``rows`` (``num_rows`` trajectory rows) with a ``pairing`` column: a failure's sibling,
    if it has one."""
    partitions = max(1, min(MAX_PARTITIONS, num_rows // ROWS_PER_PARTITION))
    keyed = rows.map_batches(with_pairing_key, batch_format="pyarrow", zero_copy_batch=True)
    # A task-based (sort) shuffle: the hash shuffle's aggregator actors reserve CPUs, and
    # next to a replica holding most of a node's CPUs (the embedded engine) they starve the
    # reads that feed them.
    keyed.context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    paired = keyed.map_batches(_keyed, batch_format="pyarrow").groupby(KEY, num_partitions=partitions).map_groups(attach_pairings, batch_format="pyarrow")
    return paired.union(keyed.map_batches(_unkeyed, batch_format="pyarrow"))
