"""Scale corpus: N synthetic agent trajectories with K latent topics, sharded on disk.

Unlike ``synth.py`` (two fixed families, for ingest), this corpus is shaped for the
whole pipeline at 10k-1M trajectories:

- **length**: steps (tool calls) per trajectory are lognormal with median
  15 and sigma 0.8 in the ``standard`` shape, so the 99th percentile is near 100 and the
  tail reaches 250; each tool result is lognormal in characters (median 350, tail to
  12,000: tables, logs, file dumps), assistant text median 120 characters; the
  ``compact`` shape (``SHAPES``) keeps everything else and makes runs short;
- **topics**: topic ``k`` of ``K`` has its own task phrasing, a noun, and three tools
  (``<verb>_<noun>``), so a trajectory of topic ``k`` mostly calls the same few tools as
  every other trajectory of topic ``k`` (the redundancy consolidation feeds on); topics
  are Zipf-distributed (exponent 1), a fifth of the calls go to generic tools
  shared by all topics;
- **outcome**: ``success_ratio`` of trajectories succeed, the rest fail, decided per
  record.

Formats: ``openai_chat`` (JSONL, one record a line) and ``tau_bench`` (one JSON array
per shard, the tau-bench v1 ``run.py`` result shape). Record ``i`` depends only on
``(seed, i)``; shards are written by a process pool.

    .venv/bin/python benchmarks/corpus.py --n 100000 --format openai_chat --out /tmp/c100k
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

FORMATS = {"openai_chat": ".jsonl", "tau_bench": ".json"}


@dataclass(frozen=True)
class Shape:
    """Lognormal sizes of a corpus's trajectories: (median, sigma, cap) of the steps (tool
    calls), of a tool result's characters and of an assistant text's characters."""

    steps: tuple[float, float, int]
    observation: tuple[float, float, int]
    text: tuple[float, float, int]


SHAPES = {
    # Agent runs as they come (~24 KB a trajectory as openai_chat JSONL).
    "standard": Shape(steps=(15, 0.8, 250), observation=(350, 1.1, 12_000), text=(120, 0.9, 3_000)),
    # The same topics, tools and outcomes in short runs (~2.5 KB a trajectory), so a
    # 1,000,000-trajectory corpus fits a laptop's disk and measures the orchestration.
    "compact": Shape(steps=(4, 0.5, 20), observation=(60, 0.6, 400), text=(40, 0.5, 200)),
}
GENERIC_TOOLS = ("search_docs", "read_file", "run_shell", "calculate")
GENERIC_SHARE = 0.2
VERBS = ("get", "update", "cancel", "list", "create", "validate", "refund", "transfer", "search", "check")
NOUNS = (
    "reservation", "invoice", "shipment", "account", "ticket", "subscription", "order", "payment", "refund",
    "booking", "claim", "policy", "deployment", "repository", "container", "dataset", "schedule", "inventory",
    "warranty", "prescription", "lease", "voucher", "profile", "appointment",
)
FILLER = (
    "the user asked whether the change is allowed under the current policy and what it would cost "
    "first I will look up the record then confirm the details with the user before any write "
    "the previous call returned an error so the arguments need checking against the schema "
    "according to the rules only the owner may modify this item and the fee applies after the window"
).split()


@dataclass(frozen=True)
class Topic:
    """One latent topic: the tools its trajectories mostly call and how its tasks are phrased."""

    key: int
    noun: str
    tools: tuple[str, str, str]
    tasks: tuple[str, ...]


def topic(k: int) -> Topic:
    """Topic ``k``: deterministic; topics past ``len(NOUNS)`` reuse a noun with other verbs."""
    noun = NOUNS[k % len(NOUNS)]
    rng = random.Random(k)
    verbs = rng.sample(VERBS, 3)
    suffix = f"_v{k // len(NOUNS)}" if k >= len(NOUNS) else ""
    tools = (f"{verbs[0]}_{noun}{suffix}", f"{verbs[1]}_{noun}{suffix}", f"{verbs[2]}_{noun}{suffix}")
    tasks = (
        f"Please help me {verbs[1]} my {noun} {{ref}}; the id is {{ref}}.",
        f"I need to {verbs[1]} {noun} {{ref}} before Friday, can you do it?",
        f"Something is wrong with my {noun} {{ref}}. Can you {verbs[2]} it?",
        f"My {noun} {{ref}} shows the wrong status, please {verbs[0]} and fix it.",
    )
    return Topic(k, noun, tools, tasks)


def zipf_weights(k: int) -> list[float]:
    """Topic weights 1, 1/2, ..., 1/k: a few topics dominate, the tail stays populated."""
    return [1.0 / (r + 1) for r in range(k)]


def _lognormal(rng: random.Random, median: float, sigma: float, cap: int, floor: int = 1) -> int:
    return max(floor, min(cap, round(rng.lognormvariate(math.log(median), sigma))))


def _text(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    size = 0
    while size < chars:
        w = rng.choice(FILLER)
        words.append(w)
        size += len(w) + 1
    return " ".join(words)[:chars]


def _observation(rng: random.Random, tool: str, ref: str, chars: int) -> str:
    head = json.dumps({"tool": tool, "id": ref, "status": rng.choice(("ok", "ok", "ok", "error"))})
    rows = []
    size = len(head)
    while size < chars:
        row = f"{rng.randrange(10**5):05d} | {rng.choice(FILLER)} | {rng.random() * 1000:.2f} | {rng.choice(('open', 'closed', 'pending'))}"
        rows.append(row)
        size += len(row) + 1
    return (head + "\n" + "\n".join(rows))[:max(chars, len(head))]


def messages(rng: random.Random, t: Topic, ref: str, shape: Shape = SHAPES["standard"]) -> tuple[str, list[dict]]:
    """One conversation of topic ``t``: system, user task, then tool calls with results."""
    task = rng.choice(t.tasks).format(ref=ref)
    msgs: list[dict] = [
        {"role": "system", "content": f"You are a support agent for {t.noun} requests. Follow the {t.noun} policy; confirm before any write."},
        {"role": "user", "content": task},
    ]
    for n in range(_lognormal(rng, *shape.steps)):
        tool = rng.choice(GENERIC_TOOLS) if rng.random() < GENERIC_SHARE else rng.choice(t.tools)
        cid = f"call_{rng.getrandbits(64):016x}"
        if rng.random() < 0.5:
            msgs.append({"role": "assistant", "content": _text(rng, _lognormal(rng, *shape.text))})
        args = json.dumps({"id": ref, "step": n, "note": _text(rng, rng.randrange(5, 40))})
        msgs.append({"role": "assistant", "content": None, "tool_calls": [{"id": cid, "type": "function", "function": {"name": tool, "arguments": args}}]})
        msgs.append({"role": "tool", "tool_call_id": cid, "name": tool, "content": _observation(rng, tool, ref, _lognormal(rng, *shape.observation, 20))})
        if rng.random() < 0.15:
            msgs.append({"role": "user", "content": rng.choice(("yes", "Yes, go ahead.", "No, wait.", "What would that cost?"))})
    msgs.append({"role": "assistant", "content": "Done. Is there anything else?"})
    return task, msgs


def record(index: int, fmt: str, *, seed: int = 0, k: int = 12, success_ratio: float = 0.5, shape: str = "standard") -> dict:
    """Record ``index`` of the corpus ``seed`` in format ``fmt``, sized by ``SHAPES[shape]``."""
    rng = random.Random(seed * 1_000_003 + index)
    t = topic(rng.choices(range(k), weights=zipf_weights(k))[0])
    ref = f"{t.noun[:3].upper()}{rng.randrange(10**6):06d}"
    task, msgs = messages(rng, t, ref, SHAPES[shape])
    reward = 1.0 if rng.random() < success_ratio else 0.0
    if fmt == "openai_chat":
        return {"id": f"r{index}", "messages": msgs, "reward": reward, "metadata": {"topic": t.key}}
    if fmt == "tau_bench":
        return {"task_id": index, "trial": 0, "reward": reward, "info": {"task": {"instruction": task}, "topic": t.key}, "traj": msgs}
    raise ValueError(f"unknown format {fmt!r}; choose from {sorted(FORMATS)}")


def records(start: int, stop: int, fmt: str, *, seed: int = 0, k: int = 12, success_ratio: float = 0.5, shape: str = "standard") -> Iterator[dict]:
    """Records ``start`` to ``stop - 1`` of the corpus."""
    for i in range(start, stop):
        yield record(i, fmt, seed=seed, k=k, success_ratio=success_ratio, shape=shape)


def _write_shard(path: str, start: int, stop: int, fmt: str, seed: int, k: int, success_ratio: float, shape: str) -> tuple[int, list[int], list[int]]:
    """Write one shard; return its bytes and, for a 1-in-50 sample of records, the tool calls
    and the characters of each non-system message (a turn with only tool calls counts 0)."""
    steps: list[int] = []
    chars: list[int] = []
    size = 0
    with open(path, "w", encoding="utf-8") as fh:
        if fmt == "tau_bench":
            fh.write("[\n")
        for i, rec in enumerate(records(start, stop, fmt, seed=seed, k=k, success_ratio=success_ratio, shape=shape)):
            line = json.dumps(rec, ensure_ascii=False)
            if fmt == "tau_bench":
                line = ("" if i == 0 else ",\n") + line
            else:
                line += "\n"
            fh.write(line)
            size += len(line)
            if (start + i) % 50 == 0:
                msgs = rec.get("messages") or rec["traj"]
                steps.append(sum(1 for m in msgs if m.get("tool_calls")))
                chars += [len(m["content"] or "") for m in msgs if m["role"] != "system"]
        if fmt == "tau_bench":
            fh.write("\n]\n")
            size += 4
    return size, steps, chars


def write_corpus(
    out: Path, n: int, fmt: str = "openai_chat", *, shard_size: int = 5_000, seed: int = 0, k: int = 12, success_ratio: float = 0.5, shape: str = "standard", workers: int = 2
) -> dict:
    """Write ``n`` records as ``part-XXXXX`` shards under ``out``; return size and shape statistics.

    The statistics go to ``<out>.corpus.json`` beside the folder (a file inside it would be
    read as input); a folder that already holds this exact corpus is reused."""
    spec = {"n": n, "format": fmt, "shard_size": shard_size, "seed": seed, "k": k, "success_ratio": success_ratio}
    if shape != "standard":  # a standard corpus written before shapes existed is still reused
        spec["shape"] = shape
    meta_path = out.parent / f"{out.name}.corpus.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta["spec"] == spec:
            return meta
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    bounds = [(s, min(n, s + shard_size)) for s in range(0, n, shard_size)]
    paths = [str(out / f"part-{i:05d}{FORMATS[fmt]}") for i in range(len(bounds))]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        parts = list(pool.map(_write_shard, paths, *zip(*bounds), *([x] * len(bounds) for x in (fmt, seed, k, success_ratio, shape))))
    steps = sorted(s for p in parts for s in p[1])
    chars = sorted(c for p in parts for c in p[2])
    meta = {
        "spec": spec,
        "files": len(paths),
        "mb": sum(p[0] for p in parts) / 1e6,
        "seconds": time.perf_counter() - t0,
        "steps": _quantiles(steps),
        "message_chars": _quantiles(chars),
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _quantiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    pick = {q: values[min(len(values) - 1, int(q / 100 * len(values)))] for q in (50, 90, 99)}
    return {"mean": statistics.fmean(values), "p50": pick[50], "p90": pick[90], "p99": pick[99], "max": values[-1]}


def describe(meta: dict) -> str:
    """A markdown table of a corpus's size and shape."""
    s, c = meta["steps"], meta["message_chars"]
    spec = meta["spec"]
    return "\n".join(
        [
            "| N | format | K | files | MB | KB/traj | steps p50 / p90 / p99 / max | message chars p50 / p90 / p99 / max | gen s |",
            "|---:|---|---:|---:|---:|---:|---|---|---:|",
            f"| {spec['n']:,} | {spec['format']} | {spec['k']} | {meta['files']} | {meta['mb']:,.0f} | {meta['mb'] * 1e3 / spec['n']:.1f} | "
            f"{s['p50']} / {s['p90']} / {s['p99']} / {s['max']} | {c['p50']} / {c['p90']} / {c['p99']} / {c['max']} | {meta['seconds']:.0f} |",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--format", choices=sorted(FORMATS), default="openai_chat")
    parser.add_argument("--topics", type=int, default=12, help="K latent topics")
    parser.add_argument("--success-ratio", type=float, default=0.5)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="standard", help="trajectory sizes (compact: short runs, for 1M on one disk)")
    parser.add_argument("--shard-size", type=int, default=5_000, help="records per file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="writer processes")
    parser.add_argument("--out", type=Path, required=True, help="folder for the shards")
    args = parser.parse_args()
    meta = write_corpus(args.out, args.n, args.format, shard_size=args.shard_size, seed=args.seed, k=args.topics, success_ratio=args.success_ratio, shape=args.shape, workers=args.workers)
    print(describe(meta))


if __name__ == "__main__":
    main()
