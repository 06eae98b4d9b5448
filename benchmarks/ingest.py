"""Ingest throughput and memory: raw pyarrow JSON read vs our normalisation, with and without redaction.

    .venv/bin/python benchmarks/ingest.py                       # 10k trajectories
    .venv/bin/python benchmarks/ingest.py --n 10000 --n 100000  # several sizes in one run
    .venv/bin/python benchmarks/ingest.py --n 2000 --profile    # + cProfile of normalisation

For each N it writes N synthetic OpenAI chat JSONL trajectories (``benchmarks/synth.py``,
fixed seed) to a temporary folder, then runs every stage in its own fresh Python
process, so each stage's peak RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of
that process, which includes the interpreter and imports) is its own:

- ``arrow_read_json``: ``pyarrow.json.read_json`` of the whole file into one table
  (multi-threaded, the ceiling named in issue 8); ``arrow_read_json_1t``: the same
  with ``use_threads=False``; ``arrow_open_json``: the streaming reader, batch by
  batch (bounded memory, what a 1M-trajectory ceiling has to be);
  ``arrow_to_pylist``: the streaming reader with each batch turned into Python dicts;
  ``json_loads``: stdlib ``json.loads`` of each line (both: what any normaliser that
  builds Python objects pays before its own work);
- ``normalize``: ``trace2skill.ingest.read_file(..., redact=False)`` over the file,
  every record to a ``Trajectory`` (or ``QuarantinedRecord``);
- ``normalize+redact``: ``read_file`` as the pipeline calls it (secrets redacted);
- ``redact``: ``redact_trajectory`` alone over trajectories normalised beforehand (the
  first ``--redact-sample``), MB/s of their text fields and of their JSONL lines.

Times are medians of ``--repeats`` runs (default 3 up to 20k trajectories, else 1); "CPU s"
is the stage process's CPU time (all its threads), which other load on a shared machine
moves much less than wall time.
Prints a table and writes ``benchmarks/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from results import save_result  # noqa: E402 (benchmarks/ on the path above)

STAGES = (
    "arrow_read_json",
    "arrow_read_json_1t",
    "arrow_open_json",
    "arrow_to_pylist",
    "json_loads",
    "normalize",
    "normalize+redact",
    "redact",
)
BLOCK_SIZE = 16 << 20  # pyarrow needs a block to hold the longest line


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _text_bytes(traj) -> int:
    n = len(traj.task.encode())
    for step in traj.steps:
        n += len(step.content.encode()) + len((step.tool_args or "").encode())
    return n + len(json.dumps(traj.metadata, ensure_ascii=False).encode())


def run_stage(stage: str, path: Path, repeats: int, redact_sample: int) -> dict:
    """Run one stage ``repeats`` times in this process; returns its measurements."""
    times: list[float] = []
    cpu: list[float] = []  # this process's CPU time: less moved by other load than wall time
    extra: dict = {}
    if stage.startswith("arrow"):
        import pyarrow.json as pj

        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            if stage in ("arrow_open_json", "arrow_to_pylist"):
                rows = 0
                reader = pj.open_json(path, read_options=pj.ReadOptions(block_size=BLOCK_SIZE))
                for batch in reader:
                    rows += len(batch.to_pylist()) if stage == "arrow_to_pylist" else batch.num_rows
            else:
                opts = pj.ReadOptions(block_size=BLOCK_SIZE, use_threads=stage == "arrow_read_json")
                table = pj.read_json(path, read_options=opts)
                rows = table.num_rows
                del table
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        extra["records"] = rows
    elif stage == "json_loads":
        for _ in range(repeats):
            rows = 0
            t0, c0 = time.perf_counter(), time.process_time()
            with path.open("rb") as fh:
                for line in fh:
                    json.loads(line)
                    rows += 1
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        extra["records"] = rows
    elif stage in ("normalize", "normalize+redact"):
        from trace2skill.ingest import read_file
        from trace2skill.schema import Trajectory

        for _ in range(repeats):
            ok = quarantined = redactions = 0
            t0, c0 = time.perf_counter(), time.process_time()
            for record in read_file(path, redact=stage == "normalize+redact"):  # read_file redacts by default
                if isinstance(record, Trajectory):
                    ok += 1
                    redactions += sum(record.metadata.get("redactions", {}).values())
                else:
                    quarantined += 1
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        extra.update(records=ok + quarantined, ok=ok, quarantined=quarantined)
        if stage == "normalize+redact":
            extra["redactions"] = redactions
    elif stage == "redact":
        from trace2skill.ingest import read_file
        from trace2skill.redact import redact_trajectory

        trajs = []
        jsonl_bytes = 0
        with path.open("rb") as fh:
            for _, line in zip(range(redact_sample), fh):
                jsonl_bytes += len(line)
        for record, _ in zip(read_file(path, redact=False), range(redact_sample)):
            trajs.append(record)
        text_bytes = sum(_text_bytes(t) for t in trajs)
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            for t in trajs:
                redact_trajectory(t)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        extra.update(records=len(trajs), text_mb=text_bytes / 1e6, jsonl_mb=jsonl_bytes / 1e6)
    else:
        raise SystemExit(f"unknown stage {stage}")
    return {
        "stage": stage,
        "seconds": times,
        "median_s": statistics.median(times),
        "cpu_seconds": cpu,
        "cpu_median_s": statistics.median(cpu),
        "peak_rss_mb": _peak_rss_mb(),
        **extra,
    }


def _child(stage: str, path: Path, repeats: int, redact_sample: int) -> dict:
    cmd = [sys.executable, __file__, "--_stage", stage, "--_file", str(path), "--repeats", str(repeats), "--redact-sample", str(redact_sample)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"stage {stage} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _profile(path: Path, limit: int) -> str:
    """cProfile of normalising the first ``limit`` records, top functions by own time."""
    import cProfile
    import io
    import pstats

    from trace2skill.ingest import read_file

    prof = cProfile.Profile()
    prof.enable()
    for _, _record in zip(range(limit), read_file(path, redact=False)):
        pass
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(18)
    return buf.getvalue()


def bench(n: int, args: argparse.Namespace, workdir: Path) -> dict:
    import synth

    path = workdir / f"synth-{n}-seed{args.seed}.jsonl"
    t0 = time.perf_counter()
    if not path.exists():
        synth.write_jsonl(path, n, seed=args.seed)
    gen_s = time.perf_counter() - t0
    size = path.stat().st_size
    repeats = args.repeats or (3 if n <= 20_000 else 1)
    result: dict = {"n": n, "file_mb": size / 1e6, "generate_s": gen_s, "repeats": repeats, "stages": {}}
    print(f"\nN={n}: {size / 1e6:.1f} MB of JSONL ({size / n / 1e3:.1f} KB per trajectory), generated in {gen_s:.1f} s; {repeats} repeat(s)", flush=True)
    for stage in STAGES:
        if stage == "arrow_read_json_1t" and n > 20_000:
            continue
        if stage.startswith("arrow_read_json") and size > args.max_table_mb * 1e6:
            print(f"  {stage}: skipped (file larger than --max-table-mb {args.max_table_mb})", flush=True)
            continue
        r = _child(stage, path, repeats, min(args.redact_sample, n))
        if stage == "redact":
            r["mb_per_s"] = r["jsonl_mb"] / r["median_s"]
            r["text_mb_per_s"] = r["text_mb"] / r["median_s"]
        else:
            r["mb_per_s"] = size / 1e6 / r["median_s"]
        r["traj_per_s"] = r["records"] / r["median_s"]
        r["loadavg_1m_after"] = os.getloadavg()[0]  # the machine is shared: how busy it was
        result["stages"][stage] = r
        print(f"  {stage:<20} {r['median_s']:8.2f} s  {r['cpu_median_s']:8.2f} CPU s  {r['traj_per_s']:9.0f} traj/s  {r['mb_per_s']:7.1f} MB/s  peak RSS {r['peak_rss_mb']:7.0f} MB  load {r['loadavg_1m_after']:.1f}", flush=True)
    ceiling = result["stages"].get("arrow_read_json") or result["stages"].get("arrow_open_json")
    if ceiling:
        for stage in ("normalize", "normalize+redact"):
            result["stages"][stage]["vs_ceiling"] = result["stages"][stage]["mb_per_s"] / ceiling["mb_per_s"]
    if args.profile:
        result["profile"] = _profile(path, min(n, 2000))
        print(result["profile"])
    if not args.keep_data:
        path.unlink()
    return result


def table(results: list[dict]) -> str:
    """Markdown table of all sizes and stages."""
    lines = [
        "| N | stage | median s | CPU s | trajectories/s | MB/s | vs ceiling | peak RSS MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for res in results:
        for stage, r in res["stages"].items():
            mbs = f"{r['mb_per_s']:.1f}"
            if stage == "redact":
                mbs += f" ({r['text_mb_per_s']:.1f} text)"
            vs = f"{r['vs_ceiling']:.0%}" if "vs_ceiling" in r else ""
            lines.append(f"| {res['n']:,} | {stage} | {r['median_s']:.2f} | {r['cpu_median_s']:.2f} | {r['traj_per_s']:,.0f} | {mbs} | {vs} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="trajectories (repeatable; default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=0, help="runs per stage (default: 3 up to 20k trajectories, else 1)")
    parser.add_argument("--redact-sample", type=int, default=2000, help="trajectories held in memory for the redact-only stage")
    parser.add_argument("--max-table-mb", type=float, default=1500, help="skip the whole-file read_json above this file size")
    parser.add_argument("--workdir", help="where the JSONL goes (default: a temporary folder)")
    parser.add_argument("--keep-data", action="store_true", help="keep (and reuse) the generated JSONL")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of normalisation")
    parser.add_argument("--out", default=str(HERE / "results" / "ingest.json"))
    parser.add_argument("--_stage", help=argparse.SUPPRESS)
    parser.add_argument("--_file", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args._stage:
        print(json.dumps(run_stage(args._stage, Path(args._file), args.repeats or 1, args.redact_sample)))
        return

    import pyarrow

    sizes = args.n or [10_000]
    meta = {
        "python": platform.python_version(),
        "pyarrow": pyarrow.__version__,
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "rss_measure": "resource.getrusage(RUSAGE_SELF).ru_maxrss of a fresh process per stage (includes interpreter and imports)",
    }
    with tempfile.TemporaryDirectory(prefix="t2s-bench-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        results = [bench(n, args, workdir) for n in sizes]
    print("\n" + table(results))
    for res in results:
        res.pop("profile", None)
    save_result({"meta": meta, "results": results}, args.out)


if __name__ == "__main__":
    main()
