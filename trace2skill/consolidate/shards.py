"""Collapse near-duplicates shard by shard, so no worker ever holds a whole topic cluster.

At scale a topic cluster holds most of a run's units (at 100,000 trajectories of a
12-topic corpus: two clusters of 100,000 units each). Reducing it in one piece puts all
its units and their embeddings in one process. Instead the units are written in shards
(by a stable hash of the unit id, so a shard's members do not depend on the order analyses
finished), and each shard assigns its units to the topic centroids and collapses each
cluster's share with the same leader clustering ``collapse`` uses. What reaches the
per-cluster reduce is the shards' representatives, with their members' provenance
unioned, their member count and their members' topics; the folded units are written as a
table by the worker (``FOLDED_SCHEMA``), and stream into ``provenance.parquet`` at the end.

With one shard this is the same collapse ``reduce_cluster`` runs (which then finds nothing
more to fold). With several, a unit folds into the best representative of its own shard,
which may then fold into one of another shard: the record says so, two steps
(docs/consolidation.md).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trace2skill.consolidate.cluster import assign, topic_counts
from trace2skill.consolidate.collapse import SCORED_CHARS, Collapsed, collapse_order, leaders, negated, specificity, with_alternatives, with_members
from trace2skill.consolidate.embed import WIDEN_ROWS, embedding_matrix, stored_embeddings
from trace2skill.consolidate.units import Unit

SHARD = "shard"
FOLDED_SCHEMA = pa.schema(
    [
        ("cluster_id", pa.int64()),
        ("unit_id", pa.string()),
        ("into", pa.string()),
        ("cosine", pa.float64()),
        ("lesson_ids", pa.list_(pa.string())),
        ("trajectory_ids", pa.list_(pa.string())),
        ("content", pa.string()),
    ]
)
REP_COLUMNS = ["cluster", "unit_id", "unit", "embedding", "members", "topics"]


def shard_count(trajectories: int, per_shard: int) -> int:
    """Shards for a run of ``trajectories`` analysis results, ``per_shard`` results each."""
    return max(1, math.ceil(trajectories / per_shard))


def unit_counts(shards: list[Path]) -> tuple[int, int]:
    """Units in the shard folders, and the trajectories they come from (each trajectory's first
    unit ``opens`` it), read one shard at a time: one ``read_table`` over every shard's files
    at once held 6.2 GB at 1M trajectories (5,800 files) to sum one byte a unit."""
    units = trajectories = 0
    for shard in shards:
        opens = pq.read_table(shard, columns=["opens"]).column("opens")
        units, trajectories = units + len(opens), trajectories + (pc.sum(opens).as_py() or 0)
    return units, trajectories


def unit_columns(units: list[Unit]) -> dict[str, pa.Array]:
    """What a shard collapses by, stored beside each unit's JSON so that only the
    representatives' JSON is ever parsed again."""
    return {
        "has_edits": pa.array([bool(u.edits) for u in units], pa.bool_()),
        "negated": pa.array([negated(u.text) for u in units], pa.bool_()),
        "topic": pa.array([u.topic for u in units], pa.string()),
        "kinds": pa.array([u.kinds for u in units], pa.list_(pa.string())),
        "lesson_ids": pa.array([u.lesson_ids for u in units], pa.list_(pa.string())),
        "trajectory_ids": pa.array([u.trajectory_ids for u in units], pa.list_(pa.string())),
        "content": pa.array([u.text[:SCORED_CHARS] for u in units], pa.string()),
    }


def collapse_shard(table: pa.Table, centroids: np.ndarray, threshold: float) -> tuple[pa.Table, pa.Table]:
    """One shard's units (``unit_id``, ``unit``, ``embedding`` and ``unit_columns``) ->
    ``(representatives, folded)``: per topic cluster, the leader-clustering representatives
    (``REP_COLUMNS``) and one ``FOLDED_SCHEMA`` row per unit folded into one of them."""
    labels = np.concatenate(
        [assign(embedding_matrix(table.column("embedding").slice(i, WIDEN_ROWS)), centroids)[0] for i in range(0, len(table), WIDEN_ROWS)]
        or [np.zeros(0, dtype=np.int64)]
    )
    reps, folded = [], []
    for cluster in np.unique(labels):
        part = table.take(pa.array(np.flatnonzero(labels == cluster)))
        r, f = _collapse_cluster(int(cluster), part, threshold)
        reps.append(r)
        folded.append(f)
    empty_reps = pa.table({c: pa.array([], t) for c, t in zip(REP_COLUMNS, [pa.int64(), pa.string(), pa.string(), table.schema.field("embedding").type, pa.int64(), pa.string()])})
    return (pa.concat_tables(reps) if reps else empty_reps), (pa.concat_tables(folded) if folded else FOLDED_SCHEMA.empty_table())


def _collapse_cluster(cluster: int, part: pa.Table, threshold: float) -> tuple[pa.Table, pa.Table]:
    ids = part.column("unit_id").to_pylist()
    contents = part.column("content").to_pylist()  # the first SCORED_CHARS of each unit's text
    has_edits = part.column("has_edits").to_pylist()
    order = collapse_order(has_edits, [specificity(c) for c in contents], ids)
    polarity = part.column("negated").to_numpy(zero_copy_only=False)
    stored = part.schema.field("embedding").type
    reps, into, cosine, rep_vecs = leaders(order, polarity, embedding_matrix(part.column("embedding"), np.float16), threshold)
    members: dict[int, list[int]] = {r: [] for r in reps}
    for i in order:
        members[int(into[i])].append(i)
    lesson_ids, trajectory_ids, kinds = (part.column(c).to_pylist() for c in ("lesson_ids", "trajectory_ids", "kinds"))
    topics = part.column("topic").to_pylist()
    units = part.column("unit").to_pylist()
    rep_units = [
        with_alternatives(
            with_members(
                Unit.model_validate_json(units[r]), [lesson_ids[m] for m in members[r]], [trajectory_ids[m] for m in members[r]], [kinds[m] for m in members[r]]
            ),
            (Unit.model_validate_json(units[m]) for m in members[r][1:] if has_edits[m]),  # parsed lazily, a few per representative
        ).model_dump_json()
        for r in reps
    ]
    rep_table = pa.table(
        {
            "cluster": pa.array([cluster] * len(reps), pa.int64()),
            "unit_id": pa.array([ids[r] for r in reps], pa.string()),
            "unit": pa.array(rep_units, pa.string()),
            "embedding": stored_embeddings(rep_vecs, sparse=pa.types.is_struct(stored)).cast(stored),  # stored as the shard's are
            "members": pa.array([len(members[r]) for r in reps], pa.int64()),
            "topics": pa.array([json.dumps(topic_counts([topics[m] for m in members[r]])) for r in reps], pa.string()),
        }
    )
    gone = [i for i in order if into[i] != i]
    folded = pa.table(
        {
            "cluster_id": pa.array([cluster] * len(gone), pa.int64()),
            "unit_id": pa.array([ids[i] for i in gone], pa.string()),
            "into": pa.array([ids[int(into[i])] for i in gone], pa.string()),
            "cosine": pa.array([round(float(cosine[i]), 4) for i in gone], pa.float64()),
            "lesson_ids": part.column("lesson_ids").take(pa.array(gone, pa.int64())),
            "trajectory_ids": part.column("trajectory_ids").take(pa.array(gone, pa.int64())),
            "content": part.column("content").take(pa.array(gone, pa.int64())),
        },
        schema=FOLDED_SCHEMA,
    )
    return rep_table, folded


def folded_table(cluster: int, collapsed: list[Collapsed]) -> pa.Table:
    """``FOLDED_SCHEMA`` rows for the units a cluster's reduce folded (``reduce_cluster``'s
    ``collapsed``), so that they go to a file beside the shards' rather than to the driver."""
    return pa.Table.from_pylist([{"cluster_id": cluster, **c.model_dump()} for c in collapsed], schema=FOLDED_SCHEMA)


def merged_topics(column: list[str]) -> Counter[str]:
    """The topic counts of a cluster's representatives (their ``topics`` column) summed."""
    total: Counter[str] = Counter()
    for counts in column:
        total.update(json.loads(counts))
    return total
