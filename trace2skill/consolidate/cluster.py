"""Topic clusters of lesson embeddings: fit on a sample, assign everything to the nearest centroid.

Agglomerative clustering (cosine distance, average linkage) with a distance threshold
lets the data choose the number of topics. It needs the full pairwise-distance matrix,
so it is fitted on at most ``sample_size`` lessons; every lesson (the sample included,
so there is one rule) then goes to its nearest centroid, which is a cheap
``map_batches`` step at any scale. A rare topic can be missing from the sample, so when
one was drawn, the lessons far from every centroid get a second fit of their own
(``refine``). Past ``max_clusters``, only the largest clusters keep a centroid and the
rest are absorbed by their nearest one.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

_SLUG = re.compile(r"[^a-z0-9]+")


def sample_indices(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of the fitting sample: all of ``range(n)`` or ``size`` of them at random."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def fit_centroids(sample: np.ndarray, distance_threshold: float, max_clusters: int) -> np.ndarray:
    """Unit-norm centroids ``(k, dim)``, largest cluster first, ``1 <= k <= max_clusters``."""
    if len(sample) == 0:
        return np.zeros((0, sample.shape[1] if sample.ndim == 2 else 0), dtype=np.float32)
    if len(sample) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        unit = _nonzero(sample)
        unit = unit / np.linalg.norm(unit, axis=1, keepdims=True)
        distances = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)  # one BLAS call instead of pdist
        np.fill_diagonal(distances, 0.0)
        # Imported here: scikit-learn's import (~1.5 s) would otherwise be paid at the start of every
        # run by the driver, which imports this module through the provenance it writes at the end.
        from sklearn.cluster import AgglomerativeClustering

        model = AgglomerativeClustering(
            n_clusters=None, metric="precomputed", linkage="average", distance_threshold=distance_threshold
        )
        labels = model.fit_predict(distances)
    groups = sorted(
        (np.flatnonzero(labels == c) for c in np.unique(labels)), key=lambda idx: (-len(idx), int(idx[0]))
    )[:max_clusters]
    centroids = np.stack([sample[idx].mean(axis=0) for idx in groups]).astype(np.float32)
    return centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)


def assign(embeddings: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(cluster index, cosine to its centroid)`` for every row of ``embeddings``."""
    if len(embeddings) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    sims = embeddings @ centroids.T
    labels = np.argmax(sims, axis=1)
    return labels.astype(np.int64), sims[np.arange(len(labels)), labels].astype(np.float32)


def far_from(embeddings: np.ndarray, centroids: np.ndarray, distance_threshold: float) -> np.ndarray:
    """Mask of the rows whose nearest centroid is farther than ``distance_threshold``."""
    _, sims = assign(embeddings, centroids)
    return sims < 1.0 - distance_threshold


def refine(centroids: np.ndarray, far: np.ndarray, distance_threshold: float, max_clusters: int) -> np.ndarray:
    """``centroids`` plus centroids fitted on the far rows ``far`` (topics the sample missed),
    as many as ``max_clusters`` leaves room for."""
    room = max_clusters - len(centroids)
    if room <= 0 or len(far) == 0:
        return centroids
    return np.vstack([centroids, fit_centroids(far, distance_threshold, room)])


def cluster_label(topics: list[str]) -> str:
    """A short label: the most common lesson topic of the cluster (ties: alphabetical)."""
    return label_of(topic_counts(topics))


def topic_counts(topics: list[str]) -> Counter[str]:
    """How many lessons name each topic (as the label compares them: stripped, lower case)."""
    return Counter(t.strip().lower() for t in topics if t and t.strip())


def label_of(counts: Counter[str]) -> str:
    """The label of a cluster whose lessons' topics are counted in ``counts``."""
    ranked = sorted(((t, n) for t, n in counts.items() if n > 0), key=lambda kv: (-kv[1], kv[0]))
    return ranked[0][0][:40] if ranked else "general"


def slug(label: str, fallback: str = "topic") -> str:
    """A file-name-safe form of ``label`` for ``references/<slug>.md``."""
    return _SLUG.sub("-", label.lower()).strip("-")[:40].strip("-") or fallback


def purity(predicted: list[int], truth: list[str]) -> float:
    """Share of items whose cluster's majority true label is their own (1.0 = every cluster one topic)."""
    if not predicted:
        return 1.0
    by_cluster: dict[int, Counter] = {}
    for p, t in zip(predicted, truth):
        by_cluster.setdefault(p, Counter())[t] += 1
    return sum(c.most_common(1)[0][1] for c in by_cluster.values()) / len(predicted)


def _nonzero(x: np.ndarray) -> np.ndarray:
    # A text with no known word embeds to zeros, whose cosine distance is undefined.
    zero = ~np.any(x, axis=1)
    if not zero.any():
        return x
    x = x.copy()
    x[zero, 0] = 1.0
    return x
