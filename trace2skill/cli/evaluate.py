"""``trace2skill evaluate``: the validation gate on held-out tasks."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from trace2skill.cli.common import EXIT_NOT_PROMOTED, CliError, app, first_error


@app.command()
def evaluate(
    tasks: Annotated[Path, typer.Option("--tasks", help="JSONL of task objects, each with an 'id' (the rest is the runner's).")],
    runner: Annotated[str, typer.Option("--runner", help="Shell command run per task x arm x trial; placeholders {skill_dir} {task_file} {out_dir} {trial} {task_id} {arm} are filled in shell-quoted.")],
    baseline: Annotated[Path, typer.Option("--baseline", help="Baseline skill folder (S0).")],
    candidates: Annotated[list[Path], typer.Option("--candidate", metavar="S_DIR", help="Candidate skill folder; repeat for best of N.")],
    out: Annotated[Path, typer.Option("--out", help="Evaluation folder: evaluation.json, runs.parquet, report.html, runs/.")],
    trials: Annotated[int, typer.Option("--trials", help="Runs per task and arm.")] = 1,
    concurrency: Annotated[int, typer.Option("--concurrency", help="Runs in flight at once.")] = 2,
    timeout_s: Annotated[Optional[float], typer.Option("--timeout-s", help="Kill a run (its whole process group) after this many seconds; it counts as an error.")] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Error level of the gate, shared over the candidates (Bonferroni).")] = 0.05,
    min_gain: Annotated[float, typer.Option("--min-gain", help="Promote when the paired interval's lower end is above this.")] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    success_threshold: Annotated[float, typer.Option("--success-threshold", help="reward >= X counts as success when a run gives no success flag.")] = 1.0,
    cpus_per_run: Annotated[float, typer.Option("--cpus-per-run", help="CPUs Ray reserves per run.")] = 1.0,
    gpus_per_run: Annotated[float, typer.Option("--gpus-per-run", help="GPUs Ray reserves per run.")] = 0.0,
    resources_per_run: Annotated[Optional[str], typer.Option("--resources-per-run", help='Custom Ray resources per run, as JSON: \'{"agent_node": 1}\'.')] = None,
    num_cpus: Annotated[Optional[int], typer.Option("--num-cpus", help="CPUs for the local Ray instance.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress lines on stderr.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print evaluation.json on stdout instead of a table.")] = False,
    allow_none: Annotated[bool, typer.Option("--allow-none", help=f"Exit 0 when no candidate is promoted (otherwise {EXIT_NOT_PROMOTED}, to gate CI).")] = False,
) -> None:
    """Run an agent runner on held-out tasks with the baseline and each candidate skill; promote a candidate only when it is confidently better.
    Exit 0 when one is promoted, 5 when none is (0 with --allow-none)."""
    import json

    from trace2skill.evaluate.plan import EvaluateConfig
    from trace2skill.evaluate.tasks import TasksError

    if not tasks.is_file():
        raise CliError(f"tasks file not found: {tasks}")
    try:
        resources = json.loads(resources_per_run) if resources_per_run else {}
        cfg = EvaluateConfig(
            tasks=tasks, runner=runner, baseline=baseline, candidates=candidates, out=out, trials=trials, concurrency=concurrency,
            timeout_s=timeout_s, alpha=alpha, min_gain=min_gain, seed=seed, success_threshold=success_threshold,
            num_cpus_per_run=cpus_per_run, num_gpus_per_run=gpus_per_run, resources_per_run=resources, num_cpus=num_cpus,
        )
    except json.JSONDecodeError as exc:
        raise CliError(f"--resources-per-run is not JSON: {exc.msg}") from None
    except ValidationError as exc:
        raise CliError(first_error(exc)) from None

    from trace2skill.pipeline.evaluate import evaluate as run_evaluate
    from trace2skill.run.progress import Console

    progress = Console(lambda line: None) if quiet else Console.for_stderr(bars=False)  # made before Ray's output goes to its log
    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout is the summary's
            summary = run_evaluate(cfg, progress=progress)
    except TasksError as exc:
        raise CliError(str(exc)) from None
    for warning in summary.leakage:
        typer.echo(f"warning: {warning}", err=True)
    if as_json:
        typer.echo(summary.model_dump_json(indent=2))
    else:
        typer.echo(summary.table())
        typer.echo(f"\npromoted: {summary.promoted or 'none'}; {summary.errors} error run(s); outputs in {out}")
    if not summary.promoted and not allow_none:
        raise typer.Exit(EXIT_NOT_PROMOTED)
