"""``trace2skill plan``: the cost of a distill before spending it (logic in trace2skill/run/plan.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from trace2skill.cli.common import RECIPE_HELP, CliError, Exclude, Include, app, first_error, given, help_of, readable, require_options, warn
from trace2skill.run.options import LibraryConfig, RunOptions


@app.command()
def plan(
    inputs: Annotated[list[Path], typer.Argument(help="Trajectory files or directories.")],
    recipe: Annotated[Optional[str], typer.Option("--recipe", help=RECIPE_HELP + " Its throughput section gives GPU-hours and wall time.")] = None,
    input_format: Annotated[Optional[str], typer.Option("--format", help=help_of(RunOptions, "input_format"))] = None,
    replicas: Annotated[Optional[int], typer.Option("--replicas", min=1, help="Engine replicas K for the wall time.  [default: the recipe's]")] = None,
    skill: Annotated[Optional[Path], typer.Option("--skill", help="Starting skill S0 (its text is in every analyst prompt).")] = None,
    backend: Annotated[Optional[str], typer.Option("--backend", help=help_of(RunOptions, "backend") + " Its tokenizer counts.  [default: the recipe's]")] = None,
    labels: Annotated[Optional[Path], typer.Option("--labels", help=help_of(RunOptions, "labels"))] = None,
    success_threshold: Annotated[Optional[float], typer.Option("--success-threshold", help=help_of(RunOptions, "success_threshold"))] = None,
    sample: Annotated[int, typer.Option("--sample", min=1, help="Trajectories whose tokens are counted (a seeded uniform sample).")] = 64,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the sample and of the --max-prompt-tokens preview.  [default: the recipe's, else 0]")] = None,
    max_prompt_tokens: Annotated[Optional[int], typer.Option("--max-prompt-tokens", min=1, help="Show what distill --max-prompt-tokens N (same --seed) would analyse.")] = None,
    lessons: Annotated[Optional[float], typer.Option("--lessons-per-trajectory", min=0, help="Merge units per analysed trajectory.  [default: 2]")] = None,
    update: Annotated[Optional[Path], typer.Option("--update", help="Plan distill --update of this finished run (output or run folder): its options and skill are the defaults; counts seen, changed and new trajectories. With --library, of a finished library.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON on stdout instead of a table.")] = False,
    include: Include = None,
    exclude: Exclude = None,
    library: Annotated[bool, typer.Option("--library", help="Plan a library (distill --library): the skills the pool is routed to, and each one's calls.")] = False,
    skills: Annotated[Optional[Path], typer.Option("--skills", help=help_of(LibraryConfig, "skills_dir"))] = None,
    group_by: Annotated[Optional[str], typer.Option("--group-by", help=help_of(LibraryConfig, "group_by"))] = None,
) -> None:
    """Count the inputs and estimate a distill's LLM calls, tokens and (with a recipe's throughput) GPU-hours and wall time."""
    from trace2skill.analysts.context import SkillContext
    from trace2skill.ingest import read_labels
    from trace2skill.run.library_update import library_update_settings
    from trace2skill.run.plan import LESSONS_PER_TRAJECTORY, make_plan, scan_inputs
    from trace2skill.run.recipes import load_recipe, with_flags
    from trace2skill.run.tokens import token_counter
    from trace2skill.run.update import planned_split, previous_skill, update_settings
    from trace2skill.skill.folder import load_skill, minimal_skill

    require_options(skill=skill, labels=labels, skills=skills)
    if (skills is not None or group_by is not None) and not library:
        raise CliError("--skills and --group-by belong to library mode: give --library")
    flags = {
        "input_format": input_format, "success_threshold": success_threshold, "labels": labels, "backend": {"backend": backend}, "max_prompt_tokens": max_prompt_tokens,
        "seed": seed, "include": include, "exclude": exclude, "library": {"skills_dir": skills, "group_by": group_by},
    }
    settings = with_flags(load_recipe(recipe) if recipe else {}, given(flags))
    previous = previous_library = None
    if update is not None and library:
        previous_library, settings = library_update_settings(update, settings)
    elif update is not None:
        previous, settings = update_settings(update, settings)
        skill = skill or previous_skill(previous)
    try:
        cfg = RunOptions.model_validate(settings)
    except ValidationError as exc:
        raise CliError(first_error(exc)) from None
    readable(inputs, cfg.input_format, cfg.include, cfg.exclude)
    s0 = load_skill(skill) if skill else minimal_skill("distilled-skill", "Lessons distilled from agent trajectories. Use when doing such tasks.")
    tasks: list = []  # the trajectories, for the library's routing
    scan = scan_inputs(
        [str(p) for p in inputs], fmt=cfg.input_format, labels=read_labels(cfg.labels) if cfg.labels else None,
        success_threshold=cfg.success_threshold, sample_size=sample, seed=cfg.seed, per_trajectory=bool(cfg.max_prompt_tokens),
        include=cfg.include, exclude=cfg.exclude, each=tasks.append if library else None,
    )
    warn(scan.skipped)
    count, tokenizer = token_counter(cfg.backend)
    result = make_plan(scan, cfg, SkillContext.of(s0), count, tokenizer, replicas=replicas, lessons_per_trajectory=LESSONS_PER_TRAJECTORY if lessons is None else lessons)
    if previous is not None:
        result = result.with_update(planned_split([str(p) for p in inputs], previous, cfg))
    if not library:
        typer.echo(result.model_dump_json(indent=2) if as_json else result.table())
        return
    planned = _library_plan(tasks, result, cfg, previous_library.skill_runs() if previous_library else None, inputs)
    if previous_library is not None:
        result = result.with_update(planned.update_split(str(previous_library.run_dir)))
    if as_json:
        typer.echo(json.dumps({**result.model_dump(mode="json"), "library": planned.model_dump(mode="json")}, indent=2))
    else:
        typer.echo(result.table() + "\n" + planned.table())


def _library_plan(trajectories: list, result, cfg: RunOptions, previous_runs: dict[str, Path] | None, inputs: list[Path]):
    """The library plan: the scanned trajectories routed as distill --library routes them
    (their tasks unredacted here: plan prints numbers only); in an update (``previous_runs``:
    the previous library's skills' runs), each skill's seen, changed and new trajectories."""
    from trace2skill.run.library_plan import library_plan
    from trace2skill.run.routing import route_records, task_record
    from trace2skill.run.update import scanned_hashes

    records = [task_record(t.id, t.task, t.source_format, t.metadata) for t in trajectories]
    routing = route_records(records, cfg.library or LibraryConfig(), cfg.consolidate, cfg.seed)
    scanned = scanned_hashes([str(p) for p in inputs], cfg) if previous_runs is not None else None
    return library_plan(routing, result, cfg, scanned, previous_runs)
