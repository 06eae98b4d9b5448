"""Start-up of a local run: how long ``trace2skill distill`` takes to reach its first analysis.

    .venv/bin/python benchmarks/startup.py                          # this checkout
    .venv/bin/python benchmarks/startup.py --src ../base --src .    # before / after, alternately

Each run is the command a user types, in a fresh process with its own local Ray
(``RAY_ADDRESS=local``): ``examples/airline`` with the fake backend (no model to load: the
time is trace2skill's and Ray's own), ``--limit 4``, two CPUs. The clock starts at the
launch; "first analysis" is when the first analysis part file appears in ``RUN_DIR/analysis``
(the first batch analysed and written), "whole run" when the process exits. The stage
columns are the run's own ``summary.json`` ``stage_seconds`` (start: the analyst deployment
created; read: the read stage's Ray Data tasks, then the wait for the analyst's replica, which
starts meanwhile) and "before the run" is the process's time outside ``pipeline.run.distill``
(imports and argument checks before it, the exit after it). Medians of ``--repeats``.
Prints a table and writes ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECIPE = "backend: {backend: fake}\nconsolidate: {embedder: hashing}\n"  # no model, no embedder to load
POLL_S = 0.05


def one_run(src: Path, work: Path, limit: int) -> dict[str, float]:
    """Launch one distill from source tree ``src``; the seconds to its milestones."""
    out = work / f"out-{time.monotonic_ns()}"
    recipe = work / "recipe.yaml"
    recipe.write_text(RECIPE)
    cmd = [sys.executable, "-m", "trace2skill.cli", "distill", str(ROOT / "examples" / "airline"), "--out", str(out),
           "--recipe", str(recipe), "--limit", str(limit), "--num-cpus", "2", "--quiet", "--json"]
    env = {**os.environ, "PYTHONPATH": str(src), "RAY_ADDRESS": "local"}
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = None
    while proc.poll() is None:
        if first is None and any((out / "run" / "analysis").glob("part-*.parquet")):
            first = time.monotonic() - started
        time.sleep(POLL_S)
    whole = time.monotonic() - started
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{src}: distill failed (rc {proc.returncode}): {stderr[-2000:]}")
    summary = json.loads(stdout)
    stages = summary["stage_seconds"]
    return {
        "first_analysis_s": first if first is not None else whole,
        "whole_run_s": whole,
        "before_run_s": whole - summary["wall_seconds"],
        "start_s": stages["start"],
        "read_s": stages["read"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, action="append", help="Source tree to run (PYTHONPATH); repeat to compare. Default: this checkout.")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--limit", type=int, default=4)
    args = parser.parse_args()
    sources = [s.resolve() for s in (args.src or [ROOT])]
    runs: dict[Path, list[dict[str, float]]] = {s: [] for s in sources}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for src in sources:  # alternately, so the machine's load falls on each alike
                runs[src].append(one_run(src, Path(tmp), args.limit))
    rows = [{"src": str(src), **{k: statistics.median(r[k] for r in rs) for k in rs[0]}} for src, rs in runs.items()]
    header = f"{'source':<40} {'first analysis':>15} {'whole run':>10} {'before run':>11} {'start':>7} {'read':>7}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row['src'][-40:]:<40} {row['first_analysis_s']:>14.1f}s {row['whole_run_s']:>9.1f}s {row['before_run_s']:>10.1f}s "
              f"{row['start_s']:>6.1f}s {row['read_s']:>6.1f}s")
    print(f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; medians of {args.repeats} run(s), --limit {args.limit}")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "startup.json").write_text(json.dumps({"rows": rows, "repeats": args.repeats, "limit": args.limit, "load": os.getloadavg()[0]}, indent=2))


if __name__ == "__main__":
    main()
