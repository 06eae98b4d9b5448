"""Contrastive pairs and the agentic analyst on tau-bench-format runs with several trials per task.

    .venv/bin/python benchmarks/contrast.py                            # 20 tasks x 4 trials, fake latency model
    .venv/bin/python benchmarks/contrast.py --tasks 2 --trials 3 --backend embedded

Writes ``--tasks`` x ``--trials`` airline runs of ``synth.py`` as one tau-bench v1 results
file (the trials of one task share its instruction and ``task_id``; each trial's steps and
reward come from its own seed, ~55% successes), reads it with the tau-bench adapter, pairs
every failure with its sibling by the rule of ``trace2skill.analysts.contrast`` (the
functions the Ray Data stage runs, here over an in-memory grouping: the file is small),
then analyses every failure in each mode (``single``: one call; ``agentic``: the tool
loop) and reports the share of failures with a sibling and, per analysis, turns, tokens
and wall time. The fake backend sleeps ``--latency-s`` + ``--latency-per-token-s`` per
completion token (a latency model, not a quality one); ``--backend embedded`` runs the real
small model.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from results import save_result  # noqa: E402 (benchmarks/ on the path above)
from synth import airline  # noqa: E402


def write_trials(path: Path, tasks: int, trials: int, seed: int = 0) -> None:
    """``tasks`` x ``trials`` synthetic airline runs as a tau-bench v1 results file."""
    runs = []
    for task in range(tasks):
        instruction = airline(random.Random(seed * 1_000_003 + task * 1000))["messages"][1]["content"]
        for trial in range(trials):
            record = airline(random.Random(seed * 1_000_003 + task * 1000 + trial))
            runs.append({"task_id": task, "trial": trial, "reward": record["reward"], "info": {"task": {"instruction": instruction}}, "traj": record["messages"]})
    path.write_text(json.dumps(runs, ensure_ascii=False))


def pairings(trajs: list) -> dict:
    """Each failure's Pairing, by the pairing stage's functions."""
    from trace2skill.analysts.contrast import Pairing, pair_group
    from trace2skill.schema import task_key

    groups = defaultdict(list)
    for t in trajs:
        key = task_key(t.task_key, t.task)
        if key and t.success is not None:
            groups[key].append(t.to_row())
    out = {}
    for key, rows in groups.items():
        for row, pairing in zip(rows, pair_group(rows, key)):
            if pairing:
                out[row["id"]] = Pairing.model_validate_json(pairing)
    return out


def measure(mode: str, failures: list, paired: dict, skill: "SkillContext", llm, config) -> dict:
    from trace2skill.analysts.agentic import run_analyst

    rows = []
    for traj in failures:
        t0 = time.perf_counter()
        r = run_analyst(traj, skill, llm, config.model_copy(update={"mode": mode}), paired.get(traj.id))
        rows.append({"seconds": time.perf_counter() - t0, "turns": r.turns or r.usage.calls, "calls": r.usage.calls,
                     "prompt_tokens": r.usage.prompt_tokens, "completion_tokens": r.usage.completion_tokens,
                     "status": r.status, "tool_errors": r.tool_errors, "sibling": bool(r.sibling_id)})

    def stat(key: str) -> dict:
        values = [row[key] for row in rows]
        return {"mean": round(statistics.fmean(values), 3), "median": statistics.median(values), "max": max(values)}

    statuses = defaultdict(int)
    for row in rows:
        statuses[row["status"]] += 1
    return {"mode": mode, "analyses": len(rows), "statuses": dict(statuses), "turns": stat("turns"), "prompt_tokens": stat("prompt_tokens"),
            "completion_tokens": stat("completion_tokens"), "seconds": stat("seconds"), "tool_errors": sum(r["tool_errors"] for r in rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", choices=("fake", "embedded"), default="fake")
    parser.add_argument("--latency-s", type=float, default=0.2, help="fake: seconds per call")
    parser.add_argument("--latency-per-token-s", type=float, default=0.002, help="fake: seconds per completion token")
    parser.add_argument("--max-turns", type=int, default=8)
    parser.add_argument("--out", default=str(HERE / "results" / "contrast.json"))
    args = parser.parse_args()

    from trace2skill.analysts.analyze import AnalystSettings
    from trace2skill.ingest import read_file
    from trace2skill.llm.fake import FakeLLM
    from trace2skill.analysts.context import SkillContext
    from trace2skill.skill.folder import load_skill

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.json"
        write_trials(path, args.tasks, args.trials, args.seed)
        trajs = list(read_file(path))
    failures = [t for t in trajs if t.success is False]
    paired = pairings(trajs)
    with_sibling = sum(1 for t in failures if paired.get(t.id) and paired[t.id].sibling)
    skill = SkillContext.of(load_skill(ROOT / "examples" / "skills" / "airline-support"))
    if args.backend == "fake":
        llm = FakeLLM(latency_s=args.latency_s, latency_per_token_s=args.latency_per_token_s)
        config = AnalystSettings(max_turns=args.max_turns)
    else:
        from trace2skill.llm.embedded import EmbeddedLLM

        llm = EmbeddedLLM(context_tokens=8192)
        config = AnalystSettings(max_turns=args.max_turns)
    modes = [measure(mode, failures, paired, skill, llm, config) for mode in ("single", "agentic")]
    result = {
        "backend": args.backend, "tasks": args.tasks, "trials": args.trials, "runs": len(trajs), "failures": len(failures),
        "failures_with_sibling": with_sibling, "sibling_share": round(with_sibling / max(1, len(failures)), 3),
        "latency_model": {"latency_s": args.latency_s, "latency_per_token_s": args.latency_per_token_s} if args.backend == "fake" else None,
        "modes": modes,
    }
    print(f"{len(trajs)} runs ({args.tasks} tasks x {args.trials} trials), {len(failures)} failures, {with_sibling} with a sibling ({result['sibling_share']:.0%})")
    print("| mode | analyses | statuses | turns mean (max) | prompt tokens mean | completion tokens mean | seconds mean (median) |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for m in modes:
        print(f"| {m['mode']} | {m['analyses']} | {m['statuses']} | {m['turns']['mean']} ({m['turns']['max']}) | {m['prompt_tokens']['mean']:.0f} | "
              f"{m['completion_tokens']['mean']:.0f} | {m['seconds']['mean']:.2f} ({m['seconds']['median']:.2f}) |")
    save_result(result, args.out)


if __name__ == "__main__":
    main()
