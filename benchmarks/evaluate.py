"""How long runner invocations take through ``trace2skill evaluate``: a plain loop vs Ray tasks.

    .venv/bin/python benchmarks/evaluate.py              # 200 runs per mode
    .venv/bin/python benchmarks/evaluate.py --runs 1000

Every mode makes the same ``--runs`` runs of one runner, each through
``trace2skill.evaluate.runner.run_once`` (task file, fresh out dir, the command through
the shell in its own process group, the outcome read from the last stdout line, after
ingest found no trajectory in the out dir):

- ``loop``: ``run_once`` in a plain Python loop, one run at a time (the floor: what a
  run costs without Ray);
- ``ray cN``: ``trace2skill.pipeline.evaluate.run_all``, each run a Ray task, ``N`` in
  flight (``--concurrency``, default 1 and 2), on a local Ray instance with ``--num-cpus``
  CPUs started beforehand (its start-up time is reported apart) and warmed up with a
  few runs, so worker start-up is not counted either.

Two runners: ``shell`` (``echo '{"success": true}'``: the harness's own overhead) and
``python`` (a Python one-liner: a typical scripted runner's interpreter start-up).
"Ray overhead per run" is the Ray mode's wall time per run minus the loop's, at
concurrency 1. Prints a table and writes ``benchmarks/results/evaluate.json``.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from results import save_result  # noqa: E402

from trace2skill.evaluate.plan import EvaluateConfig, plan_runs  # noqa: E402
from trace2skill.evaluate.runner import run_once  # noqa: E402

RUNNERS = {
    "shell": "echo '{\"success\": true}' # {skill_dir} {task_file} {out_dir} {trial}",
    "python": f"{sys.executable} -S -c 'import json; print(json.dumps({{\"success\": True}}))' # {{task_file}}",
}


def make_config(root: Path, runner: str, runs: int, concurrency: int) -> tuple[EvaluateConfig, list]:
    skill = root / "skill"
    skill.mkdir(parents=True, exist_ok=True)
    (skill / "SKILL.md").write_text("---\nname: skill\ndescription: d\n---\n\n# S\n")
    cfg = EvaluateConfig(tasks=root / "tasks.jsonl", runner=runner, baseline=skill, candidates=[skill], out=root / "eval", concurrency=concurrency, num_cpus_per_run=0.5)
    # baseline + one candidate = 2 runs per task
    specs = plan_runs(cfg, [{"id": f"t{i}"} for i in range(runs // 2)])
    return cfg, specs


def time_loop(root: Path, runner: str, runs: int) -> float:
    cfg, specs = make_config(root, runner, runs, 1)
    start = time.perf_counter()
    rows = [run_once(s, cfg.runner) for s in specs]
    wall = time.perf_counter() - start
    assert all(r.status == "ok" for r in rows), rows[0].reason
    return wall


def time_ray(root: Path, runner: str, runs: int, concurrency: int) -> float:
    from trace2skill.pipeline.evaluate import run_all

    cfg, specs = make_config(root, runner, runs, concurrency)
    start = time.perf_counter()
    rows = run_all(specs, cfg, progress=lambda _: None)
    wall = time.perf_counter() - start
    assert all(r.status == "ok" for r in rows), rows[0].reason
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, action="append", help="Ray runs in flight (repeatable; default 1 and 2).")
    parser.add_argument("--runner", choices=sorted(RUNNERS), action="append", help="Runners to time (default both).")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/evaluate.json")
    args = parser.parse_args()
    concurrency = args.concurrency or [1, 2]
    runners = args.runner or ["shell", "python"]

    import ray

    started = time.perf_counter()
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    ray_start = time.perf_counter() - started
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        time_ray(Path(tmp) / "warm-up", RUNNERS["shell"], 4 * max(concurrency), max(concurrency))  # start the workers first
        for name in runners:
            loop = time_loop(Path(tmp) / f"{name}-loop", RUNNERS[name], args.runs)
            rows.append({"runner": name, "mode": "loop", "wall_s": loop})
            for c in concurrency:
                rows.append({"runner": name, "mode": f"ray c{c}", "wall_s": time_ray(Path(tmp) / f"{name}-ray{c}", RUNNERS[name], args.runs, c)})
    ray.shutdown()

    runs = args.runs // 2 * 2
    loops = {r["runner"]: r["wall_s"] for r in rows if r["mode"] == "loop"}
    print(f"{runs} runs per mode; Ray start-up {ray_start:.1f} s (not counted); {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}\n")
    print(f"{'runner':<8} {'mode':<8} {'wall s':>8} {'runs/s':>8} {'ms/run':>8} {'vs loop ms/run':>15} {'1,000 runs s':>13}")
    for r in rows:
        r["runs"] = runs
        r["runs_per_s"] = runs / r["wall_s"]
        r["ms_per_run"] = 1000 * r["wall_s"] / runs
        r["overhead_ms_per_run"] = r["ms_per_run"] - 1000 * loops[r["runner"]] / runs
        r["projected_1000_s"] = 1000 * r["wall_s"] / runs
        print(f"{r['runner']:<8} {r['mode']:<8} {r['wall_s']:>8.2f} {r['runs_per_s']:>8.1f} {r['ms_per_run']:>8.1f} {r['overhead_ms_per_run']:>+15.1f} {r['projected_1000_s']:>13.1f}")
    save_result({"runs": runs, "ray_start_s": ray_start, "cpus": os.cpu_count(), "load_1m": os.getloadavg()[0], "python": platform.python_version(), "rows": rows}, args.out)


if __name__ == "__main__":
    main()
