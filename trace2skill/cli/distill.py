"""``trace2skill distill``: analyse trajectories and write a skill (and N candidates)."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from pydantic import ValidationError

from trace2skill.analysts.analyze import AnalystConfig
from trace2skill.cli.common import EXIT_INTERRUPTED, RECIPE_HELP, CliError, Exclude, Include, app, first_error, given, help_of, readable, require_options
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.llm.config import EmbeddedConfig, OpenAIConfig, SamplingConfig
from trace2skill.run.options import DistillConfig, LibraryConfig, RunOptions

if TYPE_CHECKING:
    from trace2skill.run.progress import Console


CHECKER_HELP = (
    'Agentic mode\'s check tool: "CMD {task_file} {proposal_file} {out_dir}" (placeholders filled shell-quoted, as for evaluate --runner); '
    'it judges the analyst\'s proposed fix and prints {"pass": true|false, "detail": "..."} on its last stdout line (docs/analysts.md). '
    "Examples: examples/checkers/."
)


@app.command()
def distill(
    inputs: Annotated[Optional[list[Path]], typer.Argument(help="Trajectory files or directories.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder; the skill lands in OUT/<name>/.")] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue the interrupted run in this output or run folder, with its saved options.")] = None,
    update: Annotated[Optional[Path], typer.Option("--update", help="Update the finished run in this output or run folder: its skill is S0 and its options the defaults; only new or changed trajectories are analysed (docs/library.md). Needs INPUTS and a new --out; with --library NEW_OUT, updates a whole library.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Write over an output folder that holds an earlier run (refused otherwise).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress lines on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show Ray's own messages on stderr (start-up, warnings, log lines) instead of writing them to RUN_DIR/ray.log.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON on stdout instead of a table.")] = False,
    recipe: Annotated[Optional[str], typer.Option("--recipe", help=RECIPE_HELP)] = None,
    skill: Annotated[Optional[Path], typer.Option("--skill", help=help_of(RunOptions, "skill_dir"))] = None,
    mode: Annotated[Optional[str], typer.Option("--mode", help=help_of(RunOptions, "mode"))] = None,
    name: Annotated[Optional[str], typer.Option("--name", help=help_of(RunOptions, "name"))] = None,
    draft: Annotated[Optional[bool], typer.Option("--draft", help=help_of(RunOptions, "draft"))] = None,
    backend: Annotated[Optional[str], typer.Option("--backend", help=help_of(RunOptions, "backend"))] = None,
    model_path: Annotated[Optional[Path], typer.Option("--model-path", help=help_of(EmbeddedConfig, "model_path"))] = None,
    base_url: Annotated[Optional[str], typer.Option("--base-url", help=help_of(OpenAIConfig, "base_url"))] = None,
    model: Annotated[Optional[str], typer.Option("--model", help=help_of(OpenAIConfig, "model"))] = None,
    fan_in: Annotated[Optional[int], typer.Option("--fan-in", help=help_of(ConsolidateConfig, "fan_in"))] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help=help_of(RunOptions, "limit"))] = None,
    run_dir: Annotated[Optional[Path], typer.Option("--run-dir", help=help_of(RunOptions, "run_dir"))] = None,
    num_cpus: Annotated[Optional[int], typer.Option("--num-cpus", help=help_of(RunOptions, "num_cpus"))] = None,
    success_threshold: Annotated[Optional[float], typer.Option("--success-threshold", help=help_of(RunOptions, "success_threshold"))] = None,
    labels: Annotated[Optional[Path], typer.Option("--labels", help=help_of(RunOptions, "labels"))] = None,
    input_format: Annotated[Optional[str], typer.Option("--format", help=help_of(RunOptions, "input_format"))] = None,
    context_tokens: Annotated[Optional[int], typer.Option("--context-tokens", help=help_of(SamplingConfig, "context_tokens"))] = None,
    # held-out tasks for `trace2skill evaluate`
    holdout: Annotated[Optional[float], typer.Option("--holdout", help=help_of(RunOptions, "holdout"))] = None,
    holdout_ids: Annotated[Optional[Path], typer.Option("--holdout-ids", help=help_of(RunOptions, "holdout_ids"))] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help=help_of(RunOptions, "seed"))] = None,
    max_prompt_tokens: Annotated[Optional[int], typer.Option("--max-prompt-tokens", help=help_of(RunOptions, "max_prompt_tokens"))] = None,
    candidates: Annotated[Optional[int], typer.Option("--candidates", help="Write N candidate skills (OUT/candidate-i), sampled with different seeds, for evaluate to rank.")] = None,
    analyst_mode: Annotated[Optional[str], typer.Option("--analyst-mode", help=help_of(AnalystConfig, "mode"))] = None,
    checker: Annotated[Optional[str], typer.Option("--checker", help=CHECKER_HELP)] = None,
    include: Include = None,
    exclude: Exclude = None,
    library: Annotated[Optional[Path], typer.Option("--library", help="Library mode: route the pool to several skills, written to this folder with library.json (docs/library.md); instead of --out.")] = None,
    skills: Annotated[Optional[Path], typer.Option("--skills", help=help_of(LibraryConfig, "skills_dir"))] = None,
    group_by: Annotated[Optional[str], typer.Option("--group-by", help=help_of(LibraryConfig, "group_by"))] = None,
) -> None:
    """Analyse trajectories and write a skill folder plus run outputs (Parquet, summary, report)."""
    from trace2skill.run.checkpoint import clear_run, resume_config, run_folder
    from trace2skill.run.library_update import library_update_config
    from trace2skill.run.recipes import load_recipe, with_flags
    from trace2skill.run.update import update_config

    flags = {
        "skill_dir": skill,
        "mode": mode,
        "name": name,
        "draft": draft,
        "run_dir": run_dir,
        "limit": limit,
        "num_cpus": num_cpus,
        "success_threshold": success_threshold,
        "labels": labels,
        "input_format": input_format,
        "include": include,
        "exclude": exclude,
        "backend": {
            "backend": backend,
            "model_path": str(model_path) if model_path else None,
            "base_url": base_url,
            "model": model,
            "context_tokens": context_tokens,
        },
        "analyst": {"mode": analyst_mode, "checker": {"command": checker}},
        "consolidate": {"fan_in": fan_in},
        "holdout": holdout,
        "holdout_ids": holdout_ids,
        "seed": seed,
        "max_prompt_tokens": max_prompt_tokens,
        "library": {"skills_dir": skills, "group_by": group_by},
    }
    if (skills is not None or group_by is not None) and library is None:
        raise CliError("--skills and --group-by belong to library mode: give --library OUT_DIR")
    if library is not None and out is not None:
        raise CliError("give --out (one skill) or --library (a library of skills), not both")
    out = out or library
    if resume is not None:
        chosen = given(flags)
        if inputs or out or recipe or force or update or set(chosen) - {"num_cpus"}:
            raise CliError("--resume continues a run with its saved inputs and options; give it alone (or with --num-cpus)")
        resume = run_folder(resume)
        cfg = resume_config(resume, **chosen)
    else:
        if not inputs or out is None:
            raise CliError("give INPUTS and --out (or --resume OUT_DIR)")
        require_options(skill=skill, labels=labels, holdout_ids=holdout_ids, skills=skills)
        settings = with_flags(load_recipe(recipe) if recipe else {}, given(flags))
        if library is not None:
            settings.setdefault("library", {})
        try:
            updated = library_update_config if library is not None else update_config
            cfg = updated(update, inputs, out, settings) if update is not None else DistillConfig.model_validate({**settings, "inputs": inputs, "out_dir": out})
        except ValidationError as exc:
            raise CliError(first_error(exc)) from None
        readable(inputs, cfg.input_format, cfg.include, cfg.exclude)
        if force:
            clear_run(cfg.resolved_run_dir)
        else:
            fresh_output(cfg)

    from trace2skill.pipeline.run import distill as run_distill
    from trace2skill.report import load_run
    from trace2skill.report.closing import closing_note
    from trace2skill.run.progress import Console

    console = Console(lambda line: None) if quiet else Console.for_stderr()
    if candidates is not None and candidates > 1:
        if resume is not None:
            raise CliError("--candidates starts new runs; resume each candidate's run dir on its own")
        _distill_candidates(cfg, candidates, console, as_json=as_json, verbose=verbose)
        return
    if cfg.library is not None:
        _distill_library(cfg, console, resume=resume is not None, as_json=as_json, verbose=verbose)
        return
    try:
        with contextlib.redirect_stdout(sys.stderr):  # whatever Ray prints in this process: stdout is the summary's
            summary = run_distill(cfg, progress=console, resume=resume is not None, quiet_ray=not verbose)
    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted; what is done is kept. Continue with:\n  trace2skill distill --resume {cfg.resolved_run_dir}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if as_json:
        typer.echo(summary.model_dump_json(indent=2))
    else:
        typer.echo(f"\nskill written to {summary.skill_dir}/SKILL.md")
        typer.echo(f"run outputs in  {cfg.resolved_run_dir}\n")
        typer.echo(summary.table())
        default_model = cfg.backend.backend == "embedded" and cfg.backend.model_path is None
        typer.echo("\n" + closing_note(load_run(cfg.resolved_run_dir), default_model=default_model))
        if summary.update:
            typer.echo(summary.update.line())
    if not summary.valid:
        typer.echo("the patched skill did not validate; S0 was kept: " + "; ".join(summary.validation_problems), err=True)


def _distill_library(cfg: DistillConfig, console: Console, *, resume: bool, as_json: bool, verbose: bool) -> None:
    """Distill a library (``--library``) and print what it holds."""
    from trace2skill.pipeline.library import distill_library

    try:
        with contextlib.redirect_stdout(sys.stderr):
            library = distill_library(cfg, progress=console, resume=resume, quiet_ray=not verbose)
    except KeyboardInterrupt:
        typer.echo(f"\ninterrupted; what is done is kept. Continue with:\n  trace2skill distill --resume {cfg.resolved_run_dir}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if as_json:
        typer.echo(library.model_dump_json(indent=2))
        return
    typer.echo(f"\nlibrary written to {cfg.out_dir} ({cfg.out_dir / 'library.json'})")
    typer.echo(f"run outputs in    {cfg.resolved_run_dir} (report.html; a run dir per skill under skills/)\n")
    typer.echo(library.table())


def fresh_output(cfg: DistillConfig) -> None:
    """Refuse to write over an earlier run's outputs unless --force says so."""
    earlier = [p for p in (cfg.resolved_run_dir, cfg.out_dir) if p.is_dir() and any(p.iterdir())]
    if earlier:
        raise CliError(
            f"{earlier[0]} already holds an earlier run's outputs; give --force to write over them, "
            f"--resume {cfg.resolved_run_dir} to continue that run, or another --out"
        )


def _distill_candidates(cfg: DistillConfig, n: int, console: Console, *, as_json: bool, verbose: bool) -> None:
    """Distill ``n`` candidates one after the other (trace2skill/run/candidates.py) and say how to rank them."""
    from trace2skill.pipeline.run import distill as run_distill
    from trace2skill.run.candidates import candidate_configs

    summaries = []
    for i, candidate in enumerate(candidate_configs(cfg, n), 1):
        console(f"candidate {i}/{n}: seed {candidate.backend.seed}, temperature {candidate.backend.temperature}")
        with contextlib.redirect_stdout(sys.stderr):
            summaries.append(run_distill(candidate, progress=console, quiet_ray=not verbose))
    if as_json:
        typer.echo(json.dumps([json.loads(s.model_dump_json()) for s in summaries], indent=2))
        return
    for i, summary in enumerate(summaries, 1):
        typer.echo(f"candidate {i}: {summary.skill_dir}  ({'valid' if summary.valid else 'S0 kept: did not validate'})")
    s0 = cfg.skill_dir or "S0_DIR"
    flags = " ".join(f"--candidate {s.skill_dir}" for s in summaries)
    typer.echo(f"\nrank them on held-out tasks: trace2skill evaluate --tasks TASKS.jsonl --runner CMD --baseline {s0} {flags} --out EVAL_DIR")
