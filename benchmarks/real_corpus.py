"""A real-shaped corpus: runs shaped like real tau-bench airline and SWE-agent runs, replicated
with fresh ids, as OpenAI-chat JSONL (~20 KB a run).

``synth.trajectory`` makes ``distinct`` runs (70% airline: a ~2k-token policy as the system
prompt, JSON tool calls and results; 30% SWE-agent: code views, test output, edits); run ``i``
of the corpus is run ``i % distinct`` under the id ``<id>-r<i>``. Replicas carry the same
text, so the analyst's lessons repeat as they do across runs of one agent on one
benchmark; what differs from ``corpus.py`` (short synthetic texts, K latent topics) is the
size and make-up of each run. Shards of ``shard_size`` runs; written once, then reused.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from synth import trajectory


def write_real_corpus(out: Path, n: int, *, shard_size: int = 5_000, distinct: int = 200, seed: int = 0) -> dict:
    """Write ``n`` runs as ``part-XXXXX.jsonl`` under ``out``; return ``{"spec", "files", "mb", "seconds"}``
    (also kept in ``<out>.corpus.json``, which marks the folder as reusable)."""
    spec = {"n": n, "shape": "real", "distinct": distinct, "seed": seed, "shard_size": shard_size}
    meta_path = out.parent / f"{out.name}.corpus.json"
    if meta_path.exists() and json.loads(meta_path.read_text())["spec"] == spec:
        return json.loads(meta_path.read_text())
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    runs = [trajectory(seed, i) for i in range(distinct)]
    size, files = 0, 0
    for start in range(0, n, shard_size):
        with open(out / f"part-{files:05d}.jsonl", "w", encoding="utf-8") as fh:
            for i in range(start, min(n, start + shard_size)):
                run = runs[i % distinct]
                line = json.dumps({**run, "id": f"{run['id']}-r{i}"}, ensure_ascii=False) + "\n"
                fh.write(line)
                size += len(line.encode("utf-8"))
        files += 1
    meta = {"spec": spec, "files": files, "mb": size / 1e6, "seconds": time.perf_counter() - t0}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta
