"""MiniLM's encoder alone on the CPU: PyTorch fp32 (sentence-transformers) against the int8 ONNX
Runtime embedder, on distinct lesson texts (no duplicates to skip), alternately.

``.venv/bin/python benchmarks/embedder_speed.py [--units 400] [--rounds 3] [--threads 1 2]``

The units are ``benchmarks/consolidation_corpus.py``'s (title, description and content, as
consolidation embeds them), made distinct. Each round embeds them once with every
embedder and thread count in turn, so a machine's changing load hits all alike; the table
gives the median units/s and the ratio to PyTorch at the same thread count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.consolidation_corpus import make_corpus  # noqa: E402  (run as a script: the repository root on the path first)
from benchmarks.results import save_result  # noqa: E402
from trace2skill.consolidate.embed import make_embedder  # noqa: E402
from trace2skill.consolidate.units import split_units  # noqa: E402


def distinct_texts(n: int) -> list[str]:
    """``n`` distinct lesson texts of the consolidation corpus."""
    texts: list[str] = []
    trajectories = 200
    while len(texts) < n:
        corpus = make_corpus(trajectories, seed=0)
        texts = list(dict.fromkeys(u.text for u in split_units(corpus.patches, corpus.lessons)))
        trajectories *= 2
    return texts[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", default="benchmarks/results/embedder_speed.json")
    args = parser.parse_args()
    texts = distinct_texts(args.units)
    embedders = {("torch-fp32", t): make_embedder("minilm", device="torch-cpu") for t in args.threads}
    embedders |= {("onnx-int8", t): make_embedder("minilm", threads=t) for t in args.threads}
    seconds: dict[tuple[str, int], list[float]] = {key: [] for key in embedders}
    for _ in range(args.rounds):
        for (name, threads), embedder in embedders.items():
            torch.set_num_threads(threads)  # the PyTorch model's threads; the ONNX session has its own
            t0 = time.perf_counter()
            embedder.embed(texts)
            seconds[name, threads].append(time.perf_counter() - t0)
    rows = []
    for name, threads in embedders:
        rate = len(texts) / statistics.median(seconds[name, threads])
        rows.append({"embedder": name, "threads": threads, "units_per_s": round(rate, 1), "vs_torch": round(rate * statistics.median(seconds["torch-fp32", threads]) / len(texts), 2)})
    print(f"{len(texts)} distinct units, {args.rounds} rounds, median\n\n| embedder | threads | units/s | x PyTorch fp32 |\n|---|---:|---:|---:|")
    print("\n".join(f"| {r['embedder']} | {r['threads']} | {r['units_per_s']:,.1f} | {r['vs_torch']:.2f} |" for r in rows))
    save_result({"units": len(texts), "rounds": args.rounds, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
