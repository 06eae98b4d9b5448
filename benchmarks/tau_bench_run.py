"""Airline trajectories in tau-bench's results format through the embedded model.

    .venv/bin/python benchmarks/tau_bench_run.py                      # N = 50, default model
    .venv/bin/python benchmarks/tau_bench_run.py --n 6 --skip-run     # tokens only, no generation

Writes N airline records of ``synth.py`` (a ~2k-token policy as the system prompt, JSON
tool calls and results, reward 1.0 / 0.0) as one tau-bench v1 results file
(``[{task_id, trial, reward, info, traj}]``), then:

1. **Tokens per trajectory** with the embedded model's tokenizer: the record as JSON
   (what pasting it into a prompt costs); the trajectory rendered whole with its policy
   (before fitting and shared context); the trajectory text the analyst gets (fitted to
   the budget, policy moved out); the analyst's system message (instructions, S0 and the
   policy: the same for every call of a run with the same policy, so llama.cpp's and
   vLLM's prefix caches process it once); and the whole prompt.
2. **The run**: ``trace2skill distill FILE --out OUT`` with the embedded backend (or
   ``--backend``) and its defaults, then the manifest's statuses and, from ``summary.json``, LLM calls and
   tokens per trajectory.

Prints tables and writes ``benchmarks/results/tau_bench_run.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from results import save_result  # noqa: E402 (benchmarks/ on the path above)
from synth import airline  # noqa: E402

NAME = "airline"


def write_results_file(path: Path, n: int, seed: int = 0) -> None:
    """``n`` synthetic airline runs as a tau-bench v1 results file."""
    runs = []
    for i in range(n):
        record = airline(random.Random(seed * 1_000_003 + i))
        task = record["messages"][1]["content"]
        runs.append({"task_id": i, "trial": 0, "reward": record["reward"], "info": {"task": {"instruction": task}}, "traj": record["messages"]})
    path.write_text(json.dumps(runs, ensure_ascii=False))


def token_counts(path: Path, context_tokens: int) -> list[dict]:
    """Per trajectory: tokens before and after fitting, and the prompt's shared prefix."""
    from trace2skill.analysts.analyze import AnalystConfig, build_messages
    from trace2skill.analysts.context import SkillContext
    from trace2skill.analysts.render import render_trajectory, system_text
    from trace2skill.ingest import read_file
    from trace2skill.llm.config import EmbeddedConfig
    from trace2skill.llm.embedded import EmbeddedLLM
    from trace2skill.pipeline.run import load_starting_skill
    from trace2skill.run.options import DistillConfig

    llm = EmbeddedLLM(context_tokens=context_tokens)
    config = AnalystConfig().for_backend(EmbeddedConfig(context_tokens=context_tokens))
    view = SkillContext.of(load_starting_skill(DistillConfig(inputs=[], out_dir=path.parent, name=NAME)))
    runs = json.loads(path.read_text())
    rows = []
    for traj, run in zip(read_file(path), runs, strict=True):
        whole = render_trajectory(traj, budget_tokens=10**9, count_tokens=llm.count_tokens)
        messages, fit = build_messages("success_analyst" if traj.success else "error_analyst", view, traj, llm, config)
        system, user = (llm.count_tokens(m.content) for m in messages)
        rows.append({
            "id": traj.id,
            "steps": len(traj.steps),
            "record_json": llm.count_tokens(json.dumps(run, ensure_ascii=False)),
            "whole_with_policy": whole.tokens + llm.count_tokens(system_text(traj)),
            "fitted_trajectory": fit["trajectory_tokens"],
            "elided_steps": fit["elided_steps"],
            "shared_prefix": system,
            "prompt": system + user,
        })
    return rows


def run_distill(path: Path, out: Path, backend: str) -> dict:
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "trace2skill.cli", "distill", str(path), "--out", str(out), "--name", NAME, "--backend", backend, "--json"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"distill failed:\n{done.stderr[-3000:]}")
    import polars as pl

    manifest = pl.read_parquet(out / "run" / "manifest.parquet")
    return {"wall_s": time.perf_counter() - start, "summary": json.loads(done.stdout), "statuses": dict(manifest["status"].value_counts().iter_rows())}


def _stats(values: list[int]) -> str:
    values = sorted(values)
    return f"{statistics.median(values):,.0f} / {values[int(0.95 * (len(values) - 1))]:,} / {values[-1]:,}"


def table(rows: list[dict]) -> str:
    lines = ["| tokens per trajectory | median / p95 / max | total |", "|---|---:|---:|"]
    for key, label in (
        ("record_json", "record as JSON"),
        ("whole_with_policy", "rendered whole, policy included (before)"),
        ("fitted_trajectory", "trajectory text after fitting (after)"),
        ("shared_prefix", "analyst system message: instructions + S0 + policy (cached prefix)"),
        ("prompt", "whole analyst prompt"),
    ):
        lines.append(f"| {label} | {_stats([r[key] for r in rows])} | {sum(r[key] for r in rows):,} |")
    fitted = [r for r in rows if r["elided_steps"]]
    lines.append(f"\n{len(fitted)} of {len(rows)} trajectories needed steps elided ({sum(r['elided_steps'] for r in fitted)} steps in all).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp/trace2skill-tau-bench-run"))
    parser.add_argument("--context-tokens", type=int, default=8192, help="as the embedded backend's default")
    parser.add_argument("--skip-run", action="store_true", help="count tokens only")
    parser.add_argument("--backend", default="embedded", help="backend of the run (fake: a quick check of the script)")
    parser.add_argument("--out", default=str(HERE / "results" / "tau_bench_run.json"))
    args = parser.parse_args()

    args.out_dir.mkdir(parents=True, exist_ok=True)
    path = args.out_dir / "tau_bench_airline.json"
    write_results_file(path, args.n)
    rows = token_counts(path, args.context_tokens)
    print(table(rows), flush=True)
    res: dict = {"n": args.n, "context_tokens": args.context_tokens, "tokens": rows}
    if not args.skip_run:
        run = run_distill(path, args.out_dir / "out", args.backend)
        res["run"] = run
        s = run["summary"]
        print(f"\ndistill: {run['wall_s']:.0f} s, statuses {run['statuses']}")
        print(json.dumps({k: s[k] for k in s if "usage" in k or k in ("read", "analyzed", "no_lesson", "failed", "quarantined")}, indent=1))
    save_result(res, args.out)


if __name__ == "__main__":
    main()
