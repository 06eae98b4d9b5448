"""Choosing the number of groups: the silhouette, no structure, and a sample when tasks are many."""

from __future__ import annotations

import numpy as np

from trace2skill.library import cluster
from trace2skill.library.cluster import cluster_tasks, unit_rows


def blobs(n_per: int, k: int, dim: int = 32, spread: float = 0.05, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng.normal(size=(k, dim)))
    return unit_rows(np.concatenate([c + spread * rng.normal(size=(n_per, dim)) for c in centres]))


def test_separate_blobs_give_their_number_by_silhouette():
    found = cluster_tasks(blobs(10, 3), max_k=8)
    assert found.criterion.startswith("k=3 of 2..8 by silhouette") and sorted(np.bincount(found.labels)) == [10, 10, 10]


def test_vectors_without_structure_are_one_group_and_the_criterion_says_so():
    noise = unit_rows(np.random.default_rng(0).normal(size=(40, 256)))
    found = cluster_tasks(noise, max_k=6)
    assert found.criterion.startswith("1 group: no structure (best silhouette") and not found.labels.any()


def test_too_few_distinct_tasks_are_one_group():
    same = np.repeat(unit_rows(np.ones((1, 4))), 5, axis=0)
    assert cluster_tasks(same, max_k=4).criterion == "1 group: 1 distinct task(s), too few to cluster"


def test_many_tasks_choose_k_on_a_sample_and_assign_every_task(monkeypatch):
    monkeypatch.setattr(cluster, "SAMPLE", 30)
    x = blobs(40, 3)
    found = cluster_tasks(x, max_k=6, seed=2)
    assert "chosen on a seeded sample of 30 of 120 unique tasks" in found.criterion and found.criterion.startswith("k=3")
    assert sorted(np.bincount(found.labels)) == [40, 40, 40]  # every task, sampled or not, at its nearest centroid
    assert (cluster_tasks(x, max_k=6, seed=2).labels == found.labels).all()
