"""End-to-end pipeline throughput and memory with an instant fake LLM (pure orchestration cost).

    .venv/bin/python benchmarks/pipeline.py                        # N = 10,000
    .venv/bin/python benchmarks/pipeline.py --n 1000 --n 10000     # several sizes, one table
    .venv/bin/python benchmarks/pipeline.py --shape compact --n 10000 --n 100000 --n 1000000
    .venv/bin/python benchmarks/pipeline.py --shape real --shape compact --embedder minilm --embedder hashing \
        --baseline /work/main                                      # both corpora, both embedders, before/after

For each N, ``benchmarks/corpus.py`` writes N trajectories (K latent topics, fixed seed;
reused from ``--workdir`` when already there; ``--shape compact`` makes the runs short,
~2.5 KB each, so 1M fits the disk; ``--shape real`` is ``real_corpus.py``: tau-bench airline and
SWE-agent shaped runs, ~20 KB each, replicated with fresh ids, what users run). Then a fresh Python process runs
``trace2skill.pipeline.run.distill`` over them with the ``fake`` backend at zero latency,
the ``hashing`` embedder (``--embedder minilm`` for the default one; both flags, repeated
or not, give one row each: shapes too) and a local Ray
instance of ``--num-cpus`` CPUs, while this process samples the PSS of that process and
all its descendants (the driver, GCS, raylet and every Ray worker: ``proctree.py``).

``--baseline DIR`` runs every configuration a second time with the ``trace2skill`` package of
another checkout (e.g. the base commit), alternately with this one, so before and after share
the machine's load; the ``code`` column says which.

Reported per N: trajectories/s over the whole run and per stage (from the run's
``summary.json``; ``start`` is Ray + Serve start-up), peak PSS of the tree (and per role),
LLM calls and prompt/completion tokens per trajectory, lessons, topic clusters and merge
calls against N. ``--stages read`` runs only the read stage (``trace2skill ingest``),
for sizes where the whole run does not fit the time at hand. Prints a table and writes
``benchmarks/results/pipeline.json`` (``pipeline-read.json`` for ``--stages read``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, os.environ.get("T2S_CODE", str(ROOT)))  # --baseline: the child imports another checkout's package
sys.path.insert(0, str(HERE))

from corpus import write_corpus  # noqa: E402  (benchmarks/ is not a package)
from proctree import TreeSampler  # noqa: E402
from real_corpus import write_real_corpus  # noqa: E402
from results import save_result  # noqa: E402

STAGES = ("start", "read", "analyze", "merge", "apply")


def run_read(spec: dict) -> dict:
    """The child's work in ``--stages read``: only the read stage (``trace2skill ingest``:
    Ray Data read, normalise, redact, stream to Parquet)."""
    from trace2skill.pipeline.run import ingest

    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    counts = ingest([spec["corpus"]], out / "trajectories.parquet", num_cpus=spec["num_cpus"])
    return {"counts": counts, "seconds": round(time.perf_counter() - t0, 2)}


def run_distill(spec: dict) -> dict:
    """The child's work: one distill run as ``spec`` says (the fake backend unless ``spec``
    names another); returns the progress lines with their seconds since the start."""
    from trace2skill.consolidate.config import ConsolidateConfig
    from trace2skill.pipeline.run import distill
    from trace2skill.run.options import DistillConfig

    fake = {"backend": "fake", "latency_s": spec.get("latency_s", 0.0), "latency_per_token_s": spec.get("latency_per_token_s", 0.0)}
    skill_dir = spec.get("skill_dir")
    cfg = DistillConfig(
        inputs=[Path(spec["corpus"])],
        out_dir=Path(spec["out"]),
        name=None if skill_dir else "bench-skill",
        skill_dir=Path(skill_dir) if skill_dir else None,
        limit=spec.get("limit"),
        backend=spec.get("backend", fake),
        analyst=spec.get("analyst", {}),
        consolidate=ConsolidateConfig(embedder=spec["embedder"], fan_in=spec["fan_in"]),
        num_cpus=spec["num_cpus"],
        analyze_concurrency=spec["analyze_concurrency"],
        batch_size=spec["batch_size"],
        replicas={"num_replicas": spec.get("replicas", 1), "max_ongoing_requests": spec.get("max_ongoing_requests", 8)},
        redact={"personal_data": spec.get("personal_data", False)},  # the corpus is synthetic: no person in it
    )
    t0, epoch = time.perf_counter(), time.time()
    events: list[tuple[float, str]] = []
    distill(cfg, progress=lambda msg: events.append((round(time.perf_counter() - t0, 2), msg)))
    return {"events": events, "start_epoch": epoch}


def environment() -> dict:
    """Where and on what a result was measured (the tree is shared: load and git state matter)."""
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "git": git,
    }


def run_child(spec: dict, interval: float, code: str | None = None) -> dict:
    """Run ``spec`` in a fresh process while sampling its process tree; return what the child
    printed, the memory report and, for a distill run, its summary.json and consolidation.json."""
    cmd = [sys.executable, __file__, "--_child", json.dumps(spec)]
    # Ray workers import the package from the driver's working directory and PYTHONPATH: both point at ``code``
    env = {**os.environ, "T2S_CODE": code, "PYTHONPATH": code} if code else None
    for _ in range(3):  # on a loaded machine Ray's raylet may miss its fixed 30 s to register: start again
        shutil.rmtree(spec["out"], ignore_errors=True)  # a fresh run, never a resumption of the last one
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=code or ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        with TreeSampler(proc.pid, interval=interval) as sampler:
            out, err = proc.communicate()
        wall = time.perf_counter() - t0
        if "node timed out during startup" not in err:
            break
    if proc.returncode:
        raise SystemExit(f"distill failed ({proc.returncode}):\n{err[-4000:]}")
    child = json.loads(out.strip().splitlines()[-1])
    run_dir = Path(spec["out"]) / "run"
    files = {}
    if spec.get("mode") != "read":
        files = {name: json.loads((run_dir / f"{name}.json").read_text()) for name in ("summary", "consolidation")}
    return {
        **files,
        "child": child,
        "memory": sampler.report(),
        "stage_peak_pss_mb": _stage_peaks(sampler, child.get("start_epoch"), files.get("summary", {}).get("stage_seconds", {})),
        "stage_peak_driver_mb": _stage_peaks(sampler, child.get("start_epoch"), files.get("summary", {}).get("stage_seconds", {}), driver=True),
        "stage_cpu_s": _stage_cpu(sampler, child.get("start_epoch"), files.get("summary", {}).get("stage_seconds", {})),
        "memory_timeline": sampler.timeline(),
        "process_wall_s": round(wall, 2),
    }


def _stage_peaks(sampler: TreeSampler, start: float | None, stages: dict[str, float], *, driver: bool = False) -> dict[str, float]:
    """Peak PSS of the tree (``driver``: of the driver) within each stage's window (stages run
    one after another from ``start``)."""
    if start is None:
        return {}
    peaks = {}
    for name, seconds in stages.items():
        peaks[name] = round(sampler.peak_between(start, start + seconds, driver=driver), 1)
        start += seconds
    return peaks


def _stage_cpu(sampler: TreeSampler, start: float | None, stages: dict[str, float]) -> dict[str, float]:
    """CPU seconds the tree used within each stage's window: unlike wall time, it hardly
    depends on what else the machine runs."""
    if start is None:
        return {}
    cpu = {}
    for name, seconds in stages.items():
        cpu[name] = round(sampler.cpu_between(start, start + seconds), 1)
        start += seconds
    return cpu


def _shape_suffix(shape: str) -> str:
    return "" if shape == "standard" else f"-{shape}"


def corpus_of(n: int, args: argparse.Namespace, shape: str) -> tuple[Path, dict]:
    """The corpus of ``n`` trajectories that ``args`` and ``shape`` describe (written once, then reused) and its statistics."""
    if shape == "real":
        corpus = Path(args.workdir) / f"corpus-real-{n}"
        return corpus, write_real_corpus(corpus, n, shard_size=args.shard_size)
    corpus = Path(args.workdir) / f"corpus-{args.format}-{n}-k{args.topics}{_shape_suffix(shape)}"
    return corpus, write_corpus(corpus, n, args.format, k=args.topics, shard_size=args.shard_size, shape=shape)


def measure(n: int, args: argparse.Namespace, shape: str, embedder: str, code: str | None = None) -> dict:
    """Corpus of ``n`` trajectories, one distill run on it (with the package at ``code``, default
    this checkout's), and the derived rates."""
    corpus, meta = corpus_of(n, args, shape)
    spec = {
        "corpus": str(corpus),
        "out": str(Path(args.workdir) / f"out-pipeline-{n}{_shape_suffix(shape)}"),
        "embedder": embedder,
        "fan_in": args.fan_in,
        "num_cpus": args.num_cpus,
        "analyze_concurrency": args.analyze_concurrency,
        "batch_size": args.batch_size,
    }
    print(f"N={n:,} {shape} {embedder} ({code or 'this checkout'}): corpus {meta['mb']:,.0f} MB in {meta['files']} file(s); running distill ...", flush=True)
    r = run_child(spec, args.sample_interval, code)
    s = r["summary"]
    usage = s["analysis_usage"]
    merge = s["merge_usage"]
    stages = s["stage_seconds"]
    work = sum(v for k, v in stages.items() if k != "start")
    result = {
        "n": n,
        "shape": shape,
        "embedder": embedder,
        "code": "baseline" if code else "this",
        "corpus": meta,
        "stage_seconds": stages,
        "stage_traj_per_s": {k: n / v for k, v in stages.items() if k != "start" and v > 0},
        "wall_s": s["wall_seconds"],
        "traj_per_s": n / s["wall_seconds"],
        "traj_per_s_after_start": n / work,
        "memory": r["memory"],
        "stage_peak_pss_mb": r["stage_peak_pss_mb"],
        "stage_peak_driver_mb": r["stage_peak_driver_mb"],
        "stage_cpu_s": r["stage_cpu_s"],
        "stage_cpu_ms_per_traj": {k: 1000 * v / n for k, v in r["stage_cpu_s"].items() if k != "start"},
        "analysis_calls_per_traj": usage["calls"] / n,
        "prompt_tokens_per_traj": usage["prompt_tokens"] / n,
        "completion_tokens_per_traj": usage["completion_tokens"] / n,
        "merge_calls": s["merge_calls"],
        "merge_prompt_tokens": merge["prompt_tokens"],
        "merge_completion_tokens": merge["completion_tokens"],
        "lessons": s["lessons"],
        "patches": s["patches"],
        "clusters": s["groups"],
        "units": r["consolidation"]["units"],
        "collapsed": r["consolidation"]["collapsed"],
        "statuses": {k: s[k] for k in ("analyzed", "no_lesson", "quarantined", "failed")},
        "valid": s["valid"],
        "events": r["child"]["events"],
        "memory_timeline": r["memory_timeline"],
    }
    print(row(result), flush=True)
    print("CPU ms per trajectory by stage (whole process tree): " + ", ".join(f"{k} {v:.1f}" for k, v in result["stage_cpu_ms_per_traj"].items()), flush=True)
    return result


def measure_read(n: int, args: argparse.Namespace) -> dict:
    """Corpus of ``n`` trajectories and the read stage alone on it, with the tree's memory."""
    corpus, meta = corpus_of(n, args, args.shape[0])
    print(f"N={n:,}: corpus {meta['mb']:,.0f} MB in {meta['files']} file(s); running the read stage ...", flush=True)
    spec = {"mode": "read", "corpus": str(corpus), "out": str(Path(args.workdir) / f"out-read-{n}{_shape_suffix(args.shape[0])}"), "num_cpus": args.num_cpus}
    r = run_child(spec, args.sample_interval)
    seconds = r["child"]["seconds"]
    result = {"n": n, "corpus": meta, "read_s": seconds, "traj_per_s": n / seconds, "mb_per_s": meta["mb"] / seconds, "counts": r["child"]["counts"], "memory": r["memory"], "memory_timeline": r["memory_timeline"]}
    print(read_row(result), flush=True)
    return result


READ_HEADER = "| N | corpus MB | read s | traj/s | MB/s | peak PSS MB (driver / raylet+gcs / workers) |\n|---:|---:|---:|---:|---:|---|"


def read_row(r: dict) -> str:
    """One line of the read-stage table."""
    roles = r["memory"]["peak_by_role_pss_mb"]
    return (
        f"| {r['n']:,} | {r['corpus']['mb']:,.0f} | {r['read_s']:.1f} | {r['traj_per_s']:.0f} | {r['mb_per_s']:.1f} | "
        f"{r['memory']['peak_pss_mb']:,.0f} ({roles.get('driver', 0):,.0f} / {roles.get('raylet+gcs', 0):,.0f} / {roles.get('workers', 0):,.0f}) |"
    )


HEADER = (
    "| corpus | embedder | code | N | traj/s (wall) | traj/s (after start) | start | read | analyze | merge | apply s | peak PSS MB (driver / raylet+gcs / workers) "
    "| LLM calls/traj | prompt tok/traj | completion tok/traj | lessons | clusters | merge calls | merge calls / N |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"
)


def row(r: dict) -> str:
    """One line of the main table."""
    st, mem = r["stage_seconds"], r["memory"]
    roles = mem["peak_by_role_pss_mb"]
    calls = r["analysis_calls_per_traj"] + r["merge_calls"] / r["n"]
    return (
        f"| {r['shape']} | {r['embedder']} | {r['code']} | {r['n']:,} | {r['traj_per_s']:.1f} | {r['traj_per_s_after_start']:.1f} | "
        + " | ".join(f"{st.get(k, 0):.1f}" for k in STAGES)
        + f" | {mem['peak_pss_mb']:,.0f} ({roles.get('driver', 0):,.0f} / {roles.get('raylet+gcs', 0):,.0f} / {roles.get('workers', 0):,.0f}) "
        f"| {calls:.3f} | {r['prompt_tokens_per_traj']:,.0f} | {r['completion_tokens_per_traj']:,.0f} | {r['lessons']:,} | {r['clusters']} "
        f"| {r['merge_calls']} | {r['merge_calls'] / r['n']:.4f} |"
    )


MEMORY_HEADER = (
    "| corpus | embedder | code | N | peak PSS MB, whole run | in read | in analyze | in merge (consolidation) | driver | driver in read / analyze / merge / apply | raylet+gcs | workers | units (lessons) | PSS per trajectory over the 1st row, KB |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def memory_rows(results: list[dict]) -> str:
    """Memory by stage and by role; the last column is the growth per added trajectory."""
    base = results[0]
    lines = []
    for r in results:
        st, roles = r.get("stage_peak_pss_mb", {}), r["memory"]["peak_by_role_pss_mb"]
        drv = r.get("stage_peak_driver_mb", {})
        growth = (r["memory"]["peak_pss_mb"] - base["memory"]["peak_pss_mb"]) * 1024 / (r["n"] - base["n"]) if r["n"] > base["n"] else float("nan")
        lines.append(
            f"| {r['n']:,} | {r['memory']['peak_pss_mb']:,.0f} | {st.get('read', 0):,.0f} | {st.get('analyze', 0):,.0f} | {st.get('merge', 0):,.0f} | "
            f"{roles.get('driver', 0):,.0f} | {' / '.join(f'{drv.get(k, 0):,.0f}' for k in ('read', 'analyze', 'merge', 'apply'))} | {roles.get('raylet+gcs', 0):,.0f} | {roles.get('workers', 0):,.0f} | {r['units']:,} | {growth:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="trajectories (repeatable; default 10000)")
    parser.add_argument("--format", default="openai_chat", choices=("openai_chat", "tau_bench"))
    parser.add_argument("--topics", type=int, default=12, help="K latent topics of the corpus")
    parser.add_argument(
        "--shape", action="append", choices=("standard", "compact", "real"), help="corpus (repeatable; default standard): corpus.SHAPES (compact: ~2.5 KB a run, for 1M) or real (real_corpus.py)"
    )
    parser.add_argument("--shard-size", type=int, default=5_000, help="trajectories per corpus file (one read task each)")
    parser.add_argument("--embedder", action="append", choices=("hashing", "minilm"), help="repeatable; default hashing")
    parser.add_argument("--baseline", help="another checkout whose trace2skill package runs each configuration too, alternately with this one")
    parser.add_argument("--fan-in", type=int, default=8)
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray instance")
    parser.add_argument("--analyze-concurrency", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None, help="trajectories per analysis batch (default: the automatic size, DistillConfig.analysis_batch_size)")
    parser.add_argument("--sample-interval", type=float, default=0.5, help="seconds between memory samples")
    parser.add_argument("--workdir", default="/tmp/t2s-bench", help="corpora and run outputs (corpora are reused)")
    parser.add_argument("--out", help="result JSON (default: benchmarks/results/pipeline.json or pipeline-read.json)")
    parser.add_argument("--stages", choices=("all", "read"), default="all", help="all: distill end to end; read: the read stage alone")
    parser.add_argument("--_child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        spec = json.loads(args._child)
        print(json.dumps(run_read(spec) if spec.get("mode") == "read" else run_distill(spec)))
        return

    args.shape, args.embedder = args.shape or ["standard"], args.embedder or ["hashing"]
    meta = {**environment(), "num_cpus": args.num_cpus, "embedder": args.embedder, "shape": args.shape, "baseline": args.baseline, "llm": "fake backend, zero latency", "stages": args.stages}
    if args.stages == "read":
        results = [measure_read(n, args) for n in (args.n or [10_000])]
        print("\n" + READ_HEADER + "\n" + "\n".join(read_row(r) for r in results))
    else:
        codes = [args.baseline, None] if args.baseline else [None]
        configs = [(shape, embedder) for shape in args.shape for embedder in args.embedder]
        results = [measure(n, args, shape, embedder, code) for n in sorted(args.n or [10_000]) for shape, embedder in configs for code in codes]
        print("\n" + HEADER + "\n" + "\n".join(row(r) for r in results))
        for shape, embedder in configs:
            for code in ("baseline", "this"):
                group = [r for r in results if (r["shape"], r["embedder"], r["code"]) == (shape, embedder, code)]
                if group:
                    print(f"\n{shape} corpus, {embedder}, {code}:\n" + MEMORY_HEADER + "\n" + memory_rows(group))
    save_result({"meta": meta, "results": results}, args.out or HERE / "results" / ("pipeline-read.json" if args.stages == "read" else "pipeline.json"))


if __name__ == "__main__":
    main()
