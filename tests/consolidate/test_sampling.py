"""The topic fit's samples drawn from unit shards: bounded reads, every far row findable."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trace2skill.consolidate.cluster import assign, fit_centroids
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.embed import embedding_matrix, stored_embeddings
from trace2skill.consolidate.run import cluster_distance
from trace2skill.consolidate.sampling import WEIGHT, far_cap, far_in_shard, pick_far, shard_sample

DIM = 64


def topic_rows(rng: np.random.Generator, topic: int, n: int) -> np.ndarray:
    """``n`` unit vectors near axis ``topic`` (one topic a direction, slightly perturbed)."""
    x = np.zeros((n, DIM), dtype=np.float32)
    x[:, topic] = 1.0
    x[:, DIM - 1 - topic] = rng.uniform(0.0, 0.05, n)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def write_shards(root, x: np.ndarray, shards: int, sparse: bool = True) -> list:
    """``x`` spread over ``shards`` shard folders at random (as the unit-id hash spreads units)."""
    owner = np.random.default_rng(7).integers(0, shards, len(x))
    folders = []
    for k in range(shards):
        folder = root / f"shard={k}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"embedding": stored_embeddings(x[owner == k], sparse=sparse)}), folder / "part-0.parquet")
        folders.append(folder)
    return folders


def test_shard_sample_reads_few_shards_and_returns_size_rows(tmp_path):
    rng = np.random.default_rng(0)
    x = np.vstack([topic_rows(rng, t, 300) for t in range(3)])
    shards = write_shards(tmp_path, x, shards=10)
    sample = shard_sample(shards, 50, seed=1)
    assert sample.shape == (50, DIM)
    stored = {row.tobytes() for row in embedding_matrix(stored_embeddings(x, sparse=True))}
    assert all(row.tobytes() in stored for row in sample)  # stored rows, not made-up ones
    assert np.array_equal(sample, shard_sample(shards, 50, seed=1))  # seeded
    assert len(shard_sample(shards, 5000, seed=1)) == len(x)  # fewer rows than asked: all of them
    assert shard_sample([], 50, seed=1).shape[0] == 0


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "dense"])
def test_far_in_shard_counts_every_far_row_and_keeps_at_most_cap(tmp_path, sparse):
    rng = np.random.default_rng(0)
    x = np.vstack([topic_rows(rng, 0, 200), topic_rows(rng, 5, 30)])
    (shard,) = write_shards(tmp_path, x, shards=1, sparse=sparse)
    centroids = fit_centroids(topic_rows(rng, 0, 5), 0.3, 8)  # knows topic 0 only
    far = far_in_shard(shard, centroids, 0.3, cap=10, seed=0)
    assert far.num_rows == 10 and far[WEIGHT].to_pylist() == [3.0] * 10  # 30 far rows, 10 sent, each standing for 3
    assert (embedding_matrix(far.column("embedding"))[:, 5] > 0.9).all()  # they are the topic-5 rows
    none = far_in_shard(shard, np.vstack([centroids, fit_centroids(topic_rows(rng, 5, 5), 0.3, 8)]), 0.3, cap=10, seed=0)
    assert none.num_rows == 0
    assert far_cap(2000, 200) == 40 and far_cap(2000, 1) == 2000 and far_cap(10, 1000) == 1


def test_pick_far_draws_by_weight():
    a = stored_embeddings(np.eye(DIM, dtype=np.float32)[[1] * 10], sparse=True)
    b = stored_embeddings(np.eye(DIM, dtype=np.float32)[[2] * 10], sparse=True)
    # shard A had 1,000 far rows (10 sent, weight 100), shard B 10 (weight 1)
    far = pa.table({"embedding": pa.concat_arrays([a, b]), WEIGHT: [100.0] * 10 + [1.0] * 10})
    picks = np.vstack([pick_far(far, 5, seed) for seed in range(40)])
    assert picks.shape == (200, DIM) and 0.8 < (picks[:, 1] > 0).mean()  # ~99% from A, not the 50% of a row-uniform draw
    assert pick_far(far, 50, 0).shape == (20, DIM)  # fewer than asked: all


@pytest.mark.ray
def test_fit_topics_finds_a_topic_the_sample_missed(ray_session, tmp_path):
    from trace2skill.pipeline.consolidate import fit_topics

    rng = np.random.default_rng(0)
    x = np.vstack([topic_rows(rng, 0, 600), topic_rows(rng, 1, 600), topic_rows(rng, 2, 3)])  # topic 2: 3 rows of 1,203
    units = tmp_path / "units"
    shards = write_shards(units, x, shards=4)
    c = ConsolidateConfig(cluster_sample_size=20)
    centroids = fit_topics(units, shards, len(x), c)
    _, sims = assign(x, centroids)
    assert (sims >= 1.0 - cluster_distance(c)).all()  # every row, the rare topic's too, is near a centroid
