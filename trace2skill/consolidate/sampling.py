"""The topic fit's samples, drawn from the unit shards instead of a pass over every unit.

``write_units`` puts a unit in shard ``crc32(unit id) % shards``, so every shard is a random
subset of all units, independent of what the units say. The fitting sample is then the
first shards of a seeded shuffle, read until they hold ``size`` units, and ``size`` of
those at random: one or a few small reads, where a ``random_sample`` over the whole units
dataset decoded every embedding (at 1,000,000 trajectories, 1.9M units in 5,800 files, its
read tasks held ~5 GB each: docs/performance.md).

The rows far from every fitted centroid (topics the sample missed) have to be looked for in
every shard; each shard reports how many it has and a bounded random sample of them
(``far_in_shard``, one task a shard), and ``pick_far`` draws the refit's sample from those,
each row weighted by how many far rows of its shard it stands for.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trace2skill.consolidate.cluster import far_from, sample_indices
from trace2skill.consolidate.embed import WIDEN_ROWS, embedding_matrix

WEIGHT = "weight"  # far rows of its shard that a sampled far row stands for


def shard_sample(shards: list[Path], size: int, seed: int) -> np.ndarray:
    """About ``size`` stored embeddings at random (all of them if there are fewer), as a float32
    matrix, read from as few shards as hold them."""
    tables, rows = [], 0
    for i in np.random.default_rng(seed).permutation(len(shards)):
        tables.append(pq.read_table(shards[i], columns=["embedding"]))
        rows += tables[-1].num_rows
        if rows >= size:
            break
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    column = pa.concat_tables(tables).column("embedding")
    return embedding_matrix(column.take(pa.array(sample_indices(rows, size, seed))))


def far_cap(size: int, shards: int) -> int:
    """Far rows a shard sends at most: four times its fair share of a ``size`` sample (shards are
    random subsets, so each holds about its share of the far rows), and never more than ``size``."""
    return min(size, max(1, math.ceil(4 * size / max(shards, 1))))


def far_in_shard(shard: Path, centroids: np.ndarray, distance: float, cap: int, seed: int) -> pa.Table:
    """The units of ``shard`` farther than ``distance`` from every centroid: up to ``cap`` of their
    embeddings at random, each with the count of far rows it stands for (``WEIGHT``)."""
    column = pq.read_table(shard, columns=["embedding"]).column("embedding")
    masks = [far_from(embedding_matrix(column.slice(start, WIDEN_ROWS)), centroids, distance) for start in range(0, len(column), WIDEN_ROWS)]
    far = np.flatnonzero(np.concatenate(masks)) if masks else np.zeros(0, dtype=np.int64)
    kept = far[sample_indices(len(far), cap, seed)]
    weight = len(far) / len(kept) if len(kept) else 0.0
    return pa.table({"embedding": column.take(pa.array(kept, pa.int64())), WEIGHT: pa.array([weight] * len(kept), pa.float64())})


def pick_far(far: pa.Table, size: int, seed: int) -> np.ndarray:
    """At most ``size`` of the shards' far rows (``far_in_shard`` tables, concatenated), drawn
    with probability proportional to their weight: about a uniform sample of every far row."""
    if far.num_rows <= size:
        return embedding_matrix(far.column("embedding"))
    weights = far.column(WEIGHT).to_numpy()
    picked = np.random.default_rng(seed).choice(far.num_rows, size=size, replace=False, p=weights / weights.sum())
    return embedding_matrix(far.column("embedding").take(pa.array(np.sort(picked))))
