"""Embeddings stored as float16, and MiniLM run as int8 ONNX, against float32: same topic
clusters, same near-duplicate collapse?

On the units of ``benchmarks/consolidation_corpus.py`` (split as consolidation splits them),
for each embedder: the float32 embeddings and their float16 round trip (what
``RUN_DIR/units/`` stores) are clustered and collapsed as consolidation does, and compared.
``minilm-int8`` compares the default CPU embedder (int8 ONNX, then float16 as stored) with
the PyTorch float32 model (``device="torch-cpu"``) the same way:

- ``same_cluster``: share of units whose nearest centroid (fitted on float32) is the same
  from their float16 vector;
- ``adjusted_rand_refit``: agreement of the float32 clustering with one fitted on float16
  (sample, far-unit refit and assignment all on float16; 1.0 = the same partition);
- ``same_collapse``: share of units whose collapse decision (kept as a representative, or
  folded into which one) is unchanged, within the float32 clusters, and ``_refit`` within
  each side's own clusters.

``python -m benchmarks.embedding_precision [--trajectories N ...] [--embedder hashing,minilm,minilm-int8]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import adjusted_rand_score

from benchmarks.consolidation_corpus import make_corpus
from benchmarks.results import save_result
from trace2skill.consolidate.cluster import assign
from trace2skill.consolidate.collapse import collapse
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.embed import embedding_matrix, make_embedder, stored_embeddings, thresholds
from trace2skill.consolidate.run import fit
from trace2skill.consolidate.units import Unit, split_units


def collapse_decisions(units: list[Unit], embeddings: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, str]:
    """Unit id -> the id of the representative it ends in (itself when it leads), per cluster."""
    out: dict[str, str] = {}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        reps, _, folded = collapse([units[i] for i in idx], embeddings[idx], threshold)
        out.update({r.id: r.id for r in reps} | {f.unit_id: f.into for f in folded})
    return out


def compare(units: list[Unit], x32: np.ndarray, cfg: ConsolidateConfig, other: np.ndarray | None = None) -> dict:
    """The agreement figures of the module doc for embeddings ``x32`` of ``units`` against
    ``other`` (default: ``x32``) as stored, in float16."""
    x16 = embedding_matrix(stored_embeddings(x32 if other is None else other))
    c32 = fit(x32, cfg)
    l32, l16 = assign(x32, c32)[0], assign(x16, fit(x16, cfg))[0]
    dedup = cfg.dedup_threshold or thresholds(cfg.embedder)[0]
    d32 = collapse_decisions(units, x32, l32, dedup)
    d16 = collapse_decisions(units, x16, l32, dedup)
    d16_refit = collapse_decisions(units, x16, l16, dedup)
    return {
        "units": len(units),
        "dim": int(x32.shape[1]),
        "clusters_f32": len(np.unique(l32)),
        "clusters_f16": len(np.unique(l16)),
        "same_cluster": float(np.mean(assign(x16, c32)[0] == l32)),
        "adjusted_rand_refit": float(adjusted_rand_score(l32, l16)),
        "same_collapse": float(np.mean([d16[k] == v for k, v in d32.items()])),
        "same_collapse_refit": float(np.mean([d16_refit[k] == v for k, v in d32.items()])),
        "folded_f32": sum(v != k for k, v in d32.items()),
        "folded_f16": sum(v != k for k, v in d16.items()),
        "max_cosine_error": float(np.abs((x16 * x32).sum(axis=1) - (x32 * x32).sum(axis=1)).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, nargs="+", default=[120, 1500])
    parser.add_argument("--embedder", default="hashing,minilm,minilm-int8")
    parser.add_argument("--out", default="benchmarks/results/embedding_precision.json")
    args = parser.parse_args()
    rows = []
    for name in args.embedder.split(","):
        model = name.removesuffix("-int8")
        reference = make_embedder(model, device="torch-cpu")  # minilm: PyTorch fp32
        int8 = make_embedder(model) if name.endswith("-int8") else None  # minilm: ONNX Runtime, int8
        for n in args.trajectories:
            corpus = make_corpus(n, seed=0)
            units = split_units(corpus.patches, corpus.lessons)
            texts = [u.text for u in units]
            t0 = time.perf_counter()
            other = int8.embed(texts) if int8 else None
            row = {"embedder": name, "trajectories": n} | compare(units, reference.embed(texts), ConsolidateConfig(embedder=model), other)
            rows.append(row | {"seconds": round(time.perf_counter() - t0, 1)})
            print(rows[-1], flush=True)
    save_result(rows, args.out)


if __name__ == "__main__":
    main()
