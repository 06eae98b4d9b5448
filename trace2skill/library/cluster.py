"""Task families found by clustering the unique task texts' embeddings (no ``--group-by``).

KMeans on the L2-normalised vectors for each k of 2..``max_k``; the k with the best
silhouette (cosine) wins, and a best silhouette under the no-structure floor means one
group. With more than ``SAMPLE`` unique tasks, k is chosen and the centroids fitted on a
seeded sample of them, then every task goes to its nearest centroid (cosine): the cost
of choosing k does not grow with the pool. Everything is seeded: the same tasks and seed
give the same groups.
"""

from __future__ import annotations

import warnings

import numpy as np
from pydantic import BaseModel, ConfigDict

SAMPLE = 5000  # unique tasks k is chosen and the centroids fitted on
SILHOUETTE_SAMPLE = 2000  # points a silhouette is computed on (it is quadratic in them)
ASSIGN_ROWS = 8192  # tasks assigned to their nearest centroid at a time
SPARSE = 0.1  # vectors with fewer non-zero values than this share are clustered as a sparse matrix


class Clustering(BaseModel):
    """Each task's cluster (0 the largest) and the stated criterion that chose their number."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    labels: np.ndarray
    criterion: str


def cluster_tasks(vectors: np.ndarray, *, max_k: int, seed: int = 0, no_structure: float = 0.05) -> Clustering:
    """Cluster the unit rows of ``vectors`` (one per unique task) into 1..``max_k`` groups; see the module doc."""
    n = len(vectors)
    distinct = _distinct(vectors, max_k + 1)
    top = min(max_k, distinct - 1)
    if top < 2:
        why = f"{distinct} distinct task(s)" if distinct - 1 < 2 else f"at most {max_k} group(s) of the minimum size"
        return Clustering(labels=np.zeros(n, dtype=np.int64), criterion=f"1 group: {why}, too few to cluster")
    rng = np.random.default_rng(seed)
    sampled = n > SAMPLE
    sample = vectors[np.sort(rng.choice(n, SAMPLE, replace=False))] if sampled else vectors
    if np.count_nonzero(sample) < SPARSE * sample.size:  # hashing vectors: KMeans++ is ~50x faster on a float64 CSR matrix than dense float32
        from scipy.sparse import csr_matrix

        sample = csr_matrix(sample, dtype=np.float64)
    best: tuple[float, int, np.ndarray] | None = None
    for k in range(2, top + 1):
        centroids, labels = _kmeans(sample, k, seed)
        if len(set(labels.tolist())) < 2:
            continue
        score = _silhouette(sample, labels, seed)
        if best is None or score > best[0] + 1e-9:  # ties keep the smaller k
            best = (score, k, centroids)
    of = f" of 2..{top}"
    on = f", chosen on a seeded sample of {SAMPLE} of {n} unique tasks and every task assigned to its nearest centroid" if sampled else ""
    if best is None or best[0] < no_structure:
        said = f"best silhouette {best[0]:.2f} at k={best[1]}" if best else "no k split the tasks"
        return Clustering(labels=np.zeros(n, dtype=np.int64), criterion=f"1 group: no structure ({said}{of}, under {no_structure}){on}")
    score, k, centroids = best
    labels = _by_size(_nearest(vectors, centroids))
    return Clustering(labels=labels, criterion=f"k={k}{of} by silhouette {score:.2f} (cosine, KMeans on normalised task embeddings){on}")


def _distinct(vectors: np.ndarray, enough: int) -> int:
    """How many distinct rows ``vectors`` has, counting stopped at ``enough`` (texts may embed alike)."""
    seen: set[bytes] = set()
    for row in vectors:
        seen.add(row.tobytes())
        if len(seen) >= enough:
            break
    return len(seen)


def _kmeans(x, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.cluster import (
        KMeans,  # scikit-learn's import is slow; only clustering needs it
    )

    with warnings.catch_warnings():  # duplicate points may leave fewer distinct clusters than k: judged by the silhouette
        warnings.simplefilter("ignore")
        model = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(x)
    return unit_rows(model.cluster_centers_), model.labels_


def _silhouette(x, labels: np.ndarray, seed: int) -> float:
    from sklearn.metrics import silhouette_score

    size = min(x.shape[0], SILHOUETTE_SAMPLE)
    return float(silhouette_score(x, labels, metric="cosine", sample_size=size if size < x.shape[0] else None, random_state=seed))


def _nearest(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    out = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), ASSIGN_ROWS):
        out[start : start + ASSIGN_ROWS] = np.argmax(vectors[start : start + ASSIGN_ROWS] @ centroids.T, axis=1)
    return out


def _by_size(labels: np.ndarray) -> np.ndarray:
    # Cluster 0 is the largest (ties: the one whose first task comes first), so keys are stable.
    ids, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(ids)), key=lambda i: (-counts[i], first[i]))
    rename = {int(ids[i]): new for new, i in enumerate(order)}
    return np.array([rename[int(label)] for label in labels], dtype=np.int64)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """The rows of ``x`` scaled to unit length (zero rows stay zero), as float32."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms == 0, 1.0, norms)).astype(np.float32)
