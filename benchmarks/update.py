"""What ``distill --update`` costs against the run it updates, with an instant fake LLM.

    .venv/bin/python benchmarks/update.py               # N = 10,000, then N + N/10
    .venv/bin/python benchmarks/update.py --n 1000      # a quick look

``benchmarks/corpus.py`` writes N trajectories and, beside them, the same corpus grown by
``--new`` (default a tenth) more: record ``i`` depends only on ``(seed, i)`` and the shards
keep their names, so the first N records are the same runs with the same ids. A full distill
runs over the N (the ``fake`` backend at zero latency, the ``hashing`` embedder, a local Ray
instance of ``--num-cpus`` CPUs), then ``distill --update`` of it over the grown corpus.
Reported: trajectories, seen / changed / new, analysis calls, merge calls, wall seconds and
the seconds of each stage (``start`` is Ray and Serve start-up; the update's ``read`` holds its
seen split, a Ray Data join with the previous manifest) of each run, and the update's analysis calls against what a full run over the grown corpus
makes (the update's own estimate: its calls per analysed trajectory times every one; the
issue's target: at most 15%). Prints a table and writes ``benchmarks/results/update.json``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from corpus import write_corpus  # noqa: E402  (benchmarks/ is not a package)
from pipeline import environment  # noqa: E402
from results import save_result  # noqa: E402

from trace2skill.consolidate.config import ConsolidateConfig  # noqa: E402
from trace2skill.pipeline.run import distill  # noqa: E402
from trace2skill.run.options import DistillConfig  # noqa: E402
from trace2skill.run.summary import RunSummary  # noqa: E402
from trace2skill.run.update import update_config  # noqa: E402

STAGES = ("start", "read", "analyze", "merge")
HEADER = f"{'run':<8} {'trajectories':>12} {'seen':>7} {'changed':>7} {'new':>7} {'analysis calls':>14} {'merge calls':>11} {'wall s':>8} " + " ".join(f"{s + ' s':>9}" for s in STAGES)


def run(cfg: DistillConfig) -> tuple[RunSummary, float]:
    t0 = time.perf_counter()
    summary = distill(cfg, progress=lambda _: None)
    return summary, round(time.perf_counter() - t0, 1)


def row(name: str, s: RunSummary, wall: float) -> str:
    u = s.update
    seen, changed, new = (u.seen, u.changed, u.new) if u else ("-", "-", "-")
    stages = " ".join(f"{s.stage_seconds.get(stage, 0):>9.1f}" for stage in STAGES)
    return f"{name:<8} {s.read:>12,} {seen:>7} {changed:>7} {new:>7} {s.analysis_usage.calls:>14,} {s.merge_calls:>11,} {wall:>8} {stages}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000, help="trajectories of the first run")
    parser.add_argument("--new", type=float, default=0.1, help="new trajectories of the update, as a share of N")
    parser.add_argument("--shape", default="compact", choices=("standard", "compact"), help="corpus.SHAPES")
    parser.add_argument("--shard-size", type=int, default=5_000, help="trajectories per corpus file")
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray instance")
    parser.add_argument("--workdir", default="/tmp/t2s-bench-update", help="corpora (reused) and run outputs (written anew)")
    parser.add_argument("--out", default=str(HERE / "results" / "update.json"), help="result JSON")
    args = parser.parse_args()

    work = Path(args.workdir)
    grown = args.n + round(args.n * args.new)
    corpora = {}
    for n in (args.n, grown):
        corpora[n] = work / f"corpus-{args.shape}-{n}"
        write_corpus(corpora[n], n, "openai_chat", shard_size=args.shard_size, shape=args.shape)
    for name in ("first", "update"):
        shutil.rmtree(work / name, ignore_errors=True)
    settings = {
        "backend": {"backend": "fake"},
        "consolidate": ConsolidateConfig(embedder="hashing").model_dump(),
        "num_cpus": args.num_cpus,
        "redact": {"personal_data": False},  # synthetic corpus: no person in it
    }
    first_cfg = DistillConfig.model_validate({**settings, "inputs": [corpora[args.n]], "out_dir": work / "first", "name": "bench-skill"})
    first, first_wall = run(first_cfg)
    update, update_wall = run(update_config(work / "first", [corpora[grown]], work / "update", {}))
    u = update.update
    share = u.calls / u.full_calls if u.full_calls else 0.0
    print("\n" + HEADER)
    print(row("full", first, first_wall))
    print(row("update", update, update_wall))
    print(f"\nupdate's analysis calls: {u.calls:,} of a full run's ~{u.full_calls:,} over {grown:,} ({share:.1%}; target <= 15%)")
    save_result(
        {
            "meta": {**environment(), "num_cpus": args.num_cpus, "shape": args.shape, "llm": "fake backend, zero latency", "embedder": "hashing"},
            "results": {"n": args.n, "grown": grown, "full": {"calls": first.analysis_usage.calls, "wall_s": first_wall, "stage_seconds": first.stage_seconds},
            "update": {**u.model_dump(), "wall_s": update_wall, "stage_seconds": update.stage_seconds, "share": share}},
        },
        Path(args.out),
    )


if __name__ == "__main__":
    main()
