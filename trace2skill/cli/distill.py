"""``trace2skill distill``: analyse trajectories and write a skill (and N candidates)."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from pydantic import ValidationError

from trace2skill.cli.common import CliError, app, first_error, given, require, require_options

if TYPE_CHECKING:
    from trace2skill.run.options import DistillConfig
    from trace2skill.run.progress import Console


@app.command()
def distill(
    inputs: Annotated[Optional[list[Path]], typer.Argument(help="Trajectory files or directories.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder; the skill lands in OUT/<name>/.")] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue the interrupted run in this run folder, with its saved options.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress lines on stderr.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Show Ray's own messages on stderr (start-up, warnings, log lines) instead of writing them to RUN_DIR/ray.log.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON on stdout instead of a table.")] = False,
    recipe: Annotated[Optional[Path], typer.Option("--recipe", help="YAML recipe of options (pipelines/*.yaml); flags override it.")] = None,
    skill: Annotated[Optional[Path], typer.Option("--skill", help="Starting skill folder S0 (deepen mode).")] = None,
    mode: Annotated[Optional[str], typer.Option("--mode", help="deepen (needs --skill) or create. Default: deepen with --skill, else create.")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Skill name, kebab-case.")] = None,
    draft: Annotated[Optional[bool], typer.Option("--draft", help="Create mode: the model drafts S0 from the task descriptions first.")] = None,
    backend: Annotated[Optional[str], typer.Option("--backend", help="embedded (llama.cpp, CPU; default), openai (HTTP endpoint) or fake.")] = None,
    model_path: Annotated[Optional[Path], typer.Option("--model-path", help="GGUF model for the embedded backend.")] = None,
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="OpenAI-compatible endpoint (openai backend).")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Model name at --base-url.")] = None,
    fan_in: Annotated[Optional[int], typer.Option("--fan-in", help="Patches per merge call, B (default 8).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Read only the first N records, in file order.")] = None,
    run_dir: Annotated[Optional[Path], typer.Option("--run-dir", help="Where Parquet outputs go (default OUT/run).")] = None,
    num_cpus: Annotated[Optional[int], typer.Option("--num-cpus", help="CPUs for the local Ray instance.")] = None,
    success_threshold: Annotated[Optional[float], typer.Option("--success-threshold", help="reward >= X counts as success (default 1.0).")] = None,
    labels: Annotated[Optional[Path], typer.Option("--labels", help="Labels file (JSONL of id + success/reward) joined onto any format.")] = None,
    input_format: Annotated[Optional[str], typer.Option("--format", help="Input format name for every file (default: detect per file).")] = None,
    context_tokens: Annotated[Optional[int], typer.Option("--context-tokens", help="Model context window (default 8192).")] = None,
    # held-out tasks for `trace2skill evaluate`
    holdout: Annotated[Optional[float], typer.Option("--holdout", help="Keep this fraction of the tasks out of the distill; they go to RUN_DIR/holdout_tasks.jsonl.")] = None,
    holdout_ids: Annotated[Optional[Path], typer.Option("--holdout-ids", help="Keep the tasks with these ids (one a line, or a tasks JSONL) out of the distill.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the --holdout split and of the --max-prompt-tokens sample (default 0).")] = None,
    max_prompt_tokens: Annotated[Optional[int], typer.Option("--max-prompt-tokens", help="Analysis prompt-token budget: analyse a sample stratified by task x outcome that fits it; the rest are skipped (see trace2skill plan).")] = None,
    candidates: Annotated[Optional[int], typer.Option("--candidates", help="Write N candidate skills (OUT/candidate-i), sampled with different seeds, for evaluate to rank.")] = None,
    analyst_mode: Annotated[Optional[str], typer.Option("--analyst-mode", help="Error analyst: single (one call, default) or agentic (a bounded loop of tool calls).")] = None,
) -> None:
    """Analyse trajectories and write a skill folder plus run outputs (Parquet, summary, report)."""
    from trace2skill.run.checkpoint import resume_config
    from trace2skill.run.options import DistillConfig
    from trace2skill.run.recipes import load_recipe, overlay

    flags = {
        "skill_dir": skill,
        "mode": mode,
        "name": name,
        "draft": draft,
        "run_dir": run_dir,
        "fan_in": fan_in,
        "limit": limit,
        "num_cpus": num_cpus,
        "success_threshold": success_threshold,
        "labels": labels,
        "input_format": input_format,
        "backend": {
            "backend": backend,
            "model_path": str(model_path) if model_path else None,
            "base_url": base_url,
            "model": model,
            "context_tokens": context_tokens,
        },
        "analyst": {"context_tokens": context_tokens, "mode": analyst_mode},
        "holdout": holdout,
        "holdout_ids": holdout_ids,
        "seed": seed,
        "max_prompt_tokens": max_prompt_tokens,
    }
    if resume is not None:
        chosen = given(flags)
        if inputs or out or recipe or set(chosen) - {"num_cpus"}:
            raise CliError("--resume continues a run with its saved inputs and options; give it alone (or with --num-cpus)")
        cfg = resume_config(resume, **chosen)
    else:
        if not inputs or out is None:
            raise CliError("give INPUTS and --out (or --resume RUN_DIR)")
        require(inputs)
        require_options(skill=skill, recipe=recipe, labels=labels, holdout_ids=holdout_ids)
        settings = overlay(load_recipe(recipe) if recipe else {}, given(flags))
        try:
            cfg = DistillConfig.model_validate({**settings, "inputs": inputs, "out_dir": out})
        except ValidationError as exc:
            raise CliError(first_error(exc)) from None

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
    with contextlib.redirect_stdout(sys.stderr):  # whatever Ray prints in this process: stdout is the summary's
        summary = run_distill(cfg, progress=console, resume=resume is not None, quiet_ray=not verbose)
    if as_json:
        typer.echo(summary.model_dump_json(indent=2))
    else:
        typer.echo(f"\nskill written to {summary.skill_dir}/SKILL.md")
        typer.echo(f"run outputs in  {cfg.resolved_run_dir}\n")
        typer.echo(summary.table())
        default_model = cfg.backend.backend == "embedded" and cfg.backend.model_path is None
        typer.echo("\n" + closing_note(load_run(cfg.resolved_run_dir), default_model=default_model))
    if not summary.valid:
        typer.echo("the patched skill did not validate; S0 was kept: " + "; ".join(summary.validation_problems), err=True)


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
