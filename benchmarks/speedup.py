"""The pipeline against a plain sequential loop over the same stages, same fake latency, same corpus.

    .venv/bin/python benchmarks/speedup.py                    # N = 200, 50 ms + 0.5 ms/token per call
    .venv/bin/python benchmarks/speedup.py --n 400 --repeats 3

Both sides use the ``fake`` backend with the same latency model (``--latency-s`` per call
plus ``--latency-per-token-s`` per completion token, slept by the engine) and the same
corpus (``corpus.py``), in this one invocation, alternating:

- **sequential**: in one process, no Ray: read and normalise every file
  (``trace2skill.ingest.read_file``), analyse each trajectory in turn
  (``analysts.analyze.analyze``), then edit the skill one patch at a time, the way a
  single agent refines a skill trajectory by trajectory: the running patch is merged
  with the next one (``merge_patches([current, next])``, N-1 LLM calls), and the result
  is applied guarded (``consolidate.finalize.finalize``);
- **pipeline**: ``distill`` as in ``pipeline.py`` (fresh process, Ray Data + Serve) with
  ``--replicas`` analyst replicas of ``--max-ongoing`` requests each, and enough Ray Data
  actors x batch size to keep them all busy (``--analyze-concurrency`` x ``--batch-size``).

The speedup is sequential wall time / pipeline wall time (with and without Ray and Serve
start-up). Prints a table and writes ``benchmarks/results/speedup.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from corpus import write_corpus  # noqa: E402  (benchmarks/ is not a package)
from pipeline import environment, run_child  # noqa: E402
from results import save_result  # noqa: E402


def sequential(corpus: Path, latency_s: float, per_token_s: float) -> dict:
    """Ingest -> analyse each trajectory -> merge patches one by one -> apply, in one process."""
    from trace2skill.analysts.analyze import analyze
    from trace2skill.analysts.context import SkillContext
    from trace2skill.consolidate.finalize import finalize
    from trace2skill.consolidate.merge import merge_patches
    from trace2skill.ingest import discover_files, read_file
    from trace2skill.llm.config import FakeConfig
    from trace2skill.llm.factory import make_llm
    from trace2skill.pipeline.run import load_starting_skill
    from trace2skill.run.options import DistillConfig
    from trace2skill.schema import Trajectory, Usage
    from trace2skill.skill.folder import skill_prompt_view

    llm = make_llm(FakeConfig(latency_s=latency_s, latency_per_token_s=per_token_s))
    s0 = load_starting_skill(DistillConfig(inputs=[corpus], out_dir=corpus, name="bench-skill"))
    view = skill_prompt_view(s0)
    clock: dict[str, float] = {}
    t = time.perf_counter()
    trajs = [r for f in discover_files([str(corpus)]) for r in read_file(f) if isinstance(r, Trajectory)]
    clock["read"], t = time.perf_counter() - t, time.perf_counter()
    results = [analyze(traj, SkillContext.of(s0), llm) for traj in trajs]
    clock["analyze"], t = time.perf_counter() - t, time.perf_counter()
    usage = sum((r.usage for r in results), Usage())
    current = None
    merges = Usage()
    for patch in (r.patch for r in results if r.patch is not None):
        if current is None:
            current = patch
            continue
        outcome = merge_patches([current, patch], view, llm)
        merges = merges + outcome.usage
        current = outcome.patch or current
    clock["merge"], t = time.perf_counter() - t, time.perf_counter()
    final = finalize(s0, [current] if current else [])
    clock["apply"] = time.perf_counter() - t
    return {
        "stage_seconds": clock,
        "wall_s": sum(clock.values()),
        "analysis_calls": usage.calls,
        "merge_calls": merges.calls,
        "edits_applied": final.applied,
    }


def pipeline(corpus: Path, args: argparse.Namespace) -> dict:
    spec = {
        "corpus": str(corpus),
        "out": str(Path(args.workdir) / f"out-speedup-{args.n}"),
        "embedder": "hashing",
        "fan_in": args.fan_in,
        "num_cpus": args.num_cpus,
        "analyze_concurrency": args.analyze_concurrency,
        "batch_size": args.batch_size,
        "replicas": args.replicas,
        "max_ongoing_requests": args.max_ongoing,
        "latency_s": args.latency_s,
        "latency_per_token_s": args.latency_per_token_s,
    }
    r = run_child(spec, interval=1.0)
    s = r["summary"]
    return {
        "stage_seconds": s["stage_seconds"],
        "wall_s": s["wall_seconds"],
        "wall_after_start_s": s["wall_seconds"] - s["stage_seconds"].get("start", 0.0),
        "analysis_calls": s["analysis_usage"]["calls"],
        "merge_calls": s["merge_calls"],
        "edits_applied": s["edits_applied"],
    }


def table(res: dict) -> str:
    seq, pipe = res["sequential"], res["pipeline"]
    lines = [
        "| run | wall s (median) | read | analyze | merge | apply | analysis calls | merge calls | speedup (wall) | speedup (after start) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in (("sequential loop", seq), ("pipeline", pipe)):
        st = r["stage_seconds"]
        extra = f" (start {st.get('start', 0):.1f})" if name == "pipeline" else ""
        speed = f"{res['speedup_wall']:.1f}x | {res['speedup_after_start']:.1f}x" if name == "pipeline" else "1.0x | 1.0x"
        lines.append(
            f"| {name} | {r['wall_s']:.1f}{extra} | {st.get('read', 0):.1f} | {st.get('analyze', 0):.1f} | {st.get('merge', 0):.1f} | "
            f"{st.get('apply', 0):.1f} | {r['analysis_calls']} | {r['merge_calls']} | {speed} |"
        )
    return "\n".join(lines)


def _median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--topics", type=int, default=12)
    parser.add_argument("--latency-s", type=float, default=0.05, help="fake engine: seconds per call")
    parser.add_argument("--latency-per-token-s", type=float, default=0.0005, help="fake engine: seconds per completion token")
    parser.add_argument("--replicas", type=int, default=4, help="analyst replicas")
    parser.add_argument("--max-ongoing", type=int, default=8, help="requests in flight per replica")
    parser.add_argument("--analyze-concurrency", type=int, default=4, help="Ray Data actors sending analyses")
    parser.add_argument("--batch-size", type=int, default=8, help="trajectories per batch (in flight per actor)")
    parser.add_argument("--fan-in", type=int, default=8)
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs of each side; medians are reported")
    parser.add_argument("--workdir", default="/tmp/t2s-bench")
    parser.add_argument("--out", default=str(HERE / "results" / "speedup.json"))
    args = parser.parse_args()

    corpus = Path(args.workdir) / f"corpus-openai_chat-{args.n}-k{args.topics}"
    write_corpus(corpus, args.n, "openai_chat", k=args.topics)
    env = environment()  # before the runs: the load they started under
    seq_runs, pipe_runs = [], []
    for i in range(args.repeats):
        seq_runs.append(sequential(corpus, args.latency_s, args.latency_per_token_s))
        pipe_runs.append(pipeline(corpus, args))
        print(f"repeat {i + 1}: sequential {seq_runs[-1]['wall_s']:.1f} s, pipeline {pipe_runs[-1]['wall_s']:.1f} s", flush=True)
    seq_wall = statistics.median(r["wall_s"] for r in seq_runs)
    res = {
        "meta": {
            "n": args.n,
            "latency": f"{args.latency_s * 1e3:.0f} ms + {args.latency_per_token_s * 1e3:.2f} ms/completion token per call",
            "concurrency": {"replicas": args.replicas, "max_ongoing_requests": args.max_ongoing, "in_flight_analyses": args.analyze_concurrency * args.batch_size},
            **env,
        },
        "sequential": _median_run(seq_runs),
        "pipeline": _median_run(pipe_runs),
        "speedup_wall": seq_wall / statistics.median(r["wall_s"] for r in pipe_runs),
        "speedup_after_start": seq_wall / statistics.median(r["wall_after_start_s"] for r in pipe_runs),
        "runs": {"sequential": seq_runs, "pipeline": pipe_runs},
    }
    print("\n" + table(res))
    save_result(res, args.out)


if __name__ == "__main__":
    main()
