"""Command line: ``trace2skill distill | ingest | inspect | validate | explain | report``."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

try:  # typer >= 0.20 ships its own copy of click; its exceptions are the ones raised
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on plain click
    from click import exceptions as click_exceptions

app = typer.Typer(
    help="Distill LLM-agent trajectories into a transferable Agent Skill.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class CliError(Exception):
    """An error the user can fix; printed as one line."""


@app.command()
def distill(
    inputs: Annotated[Optional[list[Path]], typer.Argument(help="Trajectory files or directories.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder; the skill lands in OUT/<name>/.")] = None,
    resume: Annotated[Optional[Path], typer.Option("--resume", help="Continue the interrupted run in this run folder, with its saved options.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress lines on stderr.")] = False,
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
) -> None:
    """Analyse trajectories and write a skill folder plus run outputs (Parquet, summary, report)."""
    from trace2skill.checkpoint import resume_config
    from trace2skill.config import DistillConfig
    from trace2skill.recipes import load_recipe, overlay

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
        "analyst": {"context_tokens": context_tokens},
    }
    if resume is not None:
        given = _given(flags)
        if inputs or out or recipe or set(given) - {"num_cpus"}:
            raise CliError("--resume continues a run with its saved inputs and options; give it alone (or with --num-cpus)")
        cfg = resume_config(resume, **given)
    else:
        if not inputs or out is None:
            raise CliError("give INPUTS and --out (or --resume RUN_DIR)")
        _require(inputs)
        if skill is not None and not skill.is_dir():
            raise CliError(f"--skill {skill} is not a directory")
        if recipe is not None and not recipe.is_file():
            raise CliError(f"recipe not found: {recipe}")
        if labels is not None and not labels.is_file():
            raise CliError(f"labels file not found: {labels}")
        settings = overlay(load_recipe(recipe) if recipe else {}, _given(flags))
        try:
            cfg = DistillConfig.model_validate({**settings, "inputs": inputs, "out_dir": out})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise CliError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None

    from trace2skill.pipeline import distill as run_distill

    progress = (lambda msg: None) if quiet else (lambda msg: typer.echo(f"[trace2skill] {msg}", err=True))
    with contextlib.redirect_stdout(sys.stderr):  # whatever Ray prints in this process: stdout is the summary's
        summary = run_distill(cfg, progress=progress, resume=resume is not None)
    if as_json:
        typer.echo(summary.model_dump_json(indent=2))
    else:
        typer.echo(f"\nskill written to {summary.skill_dir}/SKILL.md")
        typer.echo(f"run outputs in  {cfg.resolved_run_dir}\n")
        typer.echo(summary.table())
    if not summary.valid:
        typer.echo("the patched skill did not validate; S0 was kept: " + "; ".join(summary.validation_problems), err=True)


def _given(flags: dict) -> dict:
    """The flags the user set (None means not given), nested mappings included."""
    out = {}
    for key, value in flags.items():
        if isinstance(value, dict):
            value = _given(value)
            if value:
                out[key] = value
        elif value is not None:
            out[key] = value
    return out


@app.command()
def ingest(
    inputs: Annotated[list[Path], typer.Argument(help="Trajectory files or directories.")],
    out: Annotated[Path, typer.Option("--out", help="Trajectories Parquet file to write (quarantine goes beside it).")],
    input_format: Annotated[str, typer.Option("--format", help="Input format name, or auto to detect per file.")] = "auto",
    labels: Annotated[Optional[Path], typer.Option("--labels", help="Labels file joined onto any format.")] = None,
    success_threshold: Annotated[float, typer.Option("--success-threshold", help="reward >= X counts as success.")] = 1.0,
    num_cpus: Annotated[Optional[int], typer.Option("--num-cpus", help="CPUs for the local Ray instance.")] = None,
) -> None:
    """Normalise and redact trajectories of any supported format into Parquet (the distill read stage)."""
    from trace2skill.pipeline import ingest as run_ingest

    _require(inputs)
    _known_format(input_format)
    if labels is not None and not labels.is_file():
        raise CliError(f"labels file not found: {labels}")
    _output_file(out)
    counts = run_ingest([str(p) for p in inputs], out, fmt=input_format, labels=labels, success_threshold=success_threshold, num_cpus=num_cpus)
    typer.echo(f"{counts['ok'] + counts['quarantined']} records read: {counts['ok']} trajectories -> {out}, {counts['quarantined']} quarantined")


@app.command()
def inspect(
    inputs: Annotated[list[Path], typer.Argument(help="Trajectory files or directories.")],
    input_format: Annotated[str, typer.Option("--format", help="Input format name, or auto to detect per file.")] = "auto",
) -> None:
    """Per format and file: records, ok, quarantined (top reasons), outcomes, steps and characters p50/p95/max."""
    import polars as pl

    from trace2skill.ingest import UnknownFormatError, detect_format, discover_files, read_file
    from trace2skill.inspect import record_rows, summarize
    from trace2skill.schema import QuarantinedRecord

    _require(inputs)
    _known_format(input_format)
    rows = []
    for path in discover_files([str(p) for p in inputs]):
        try:
            fmt = detect_format(path) if input_format == "auto" else input_format
            rows += record_rows(path, fmt, read_file(path, fmt=fmt))
        except UnknownFormatError as exc:  # one file no format claims is a row, not the end of the report
            bad = QuarantinedRecord(trajectory_id="", source_file=str(path), location="file", source_format="?", reason=str(exc).split(";")[0])
            rows += record_rows(path, "?", [bad])
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=60, tbl_hide_dataframe_shape=True):
        typer.echo(summarize(rows))


def _known_format(name: str) -> None:
    from trace2skill.ingest import FORMATS

    if name != "auto" and name not in FORMATS:
        raise CliError(f"unknown --format {name!r}; known formats: auto, {', '.join(FORMATS)}")


def _output_file(out: Path) -> None:
    """Make the folder of output file ``out`` (and its parents); a folder given as ``out`` is an error."""
    if out.is_dir():
        raise CliError(f"--out {out} is a folder; give a file name, e.g. {out / 'trajectories.parquet'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the folder of --out {out}: {exc.strerror or exc}") from None


def _require(paths: list[Path]) -> None:
    for path in paths:
        if not path.exists():
            raise CliError(f"input not found: {path}")


@app.command()
def validate(skill_dir: Annotated[Path, typer.Argument(help="A skill folder.")]) -> None:
    """Check a skill folder against the Agent Skills spec and the 500-line limit."""
    from trace2skill.skill.validate import validate_skill_dir

    problems = validate_skill_dir(skill_dir)
    for problem in problems:
        typer.echo(f"- {problem}")
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{skill_dir}: valid")


@app.command()
def explain(
    skill_dir: Annotated[Path, typer.Argument(help="A skill folder written by distill.")],
    run_dir: Annotated[Path, typer.Argument(help="The run folder of that distill (holds provenance.parquet).")],
    section: Annotated[Optional[str], typer.Option("--section", help="Only sections or files whose title or path contains this text.")] = None,
) -> None:
    """Show which lessons and trajectories stand behind each section and reference file."""
    from trace2skill.consolidate.provenance import explain as explain_skill

    if not (run_dir / "provenance.parquet").is_file():
        raise CliError(f"{run_dir}: no provenance.parquet (give the run folder of a distill)")
    typer.echo(explain_skill(skill_dir, run_dir, section))


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="The run folder of a distill (OUT/run).")]) -> None:
    """Write RUN_DIR/report.html (self-contained) and RUN_DIR/report.md for a finished run."""
    from trace2skill.report import write_report

    if not (run_dir / "summary.json").is_file():
        raise CliError(f"{run_dir}: no summary.json (give the run folder of a finished distill)")
    html_path, md_path = write_report(run_dir)
    typer.echo(f"{html_path}\n{md_path}")


def main() -> None:
    """Entry point: user errors are one line on stderr and a non-zero exit, never a traceback."""
    from trace2skill.checkpoint import RunError
    from trace2skill.ingest import IngestError
    from trace2skill.recipes import RecipeError
    from trace2skill.skill.folder import SkillError

    try:
        code = app(standalone_mode=False)  # returns the code of a typer.Exit
    except click_exceptions.NoArgsIsHelpError:
        sys.exit(0)
    except click_exceptions.UsageError as exc:
        typer.echo(f"error: {exc.format_message()} (see --help)", err=True)
        sys.exit(2)
    except click_exceptions.ClickException as exc:
        typer.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except (CliError, SkillError, IngestError, RecipeError, RunError, FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:  # permissions, a full disk, a path that cannot exist: one line, no traceback
        where = f": {exc.filename}" if exc.filename else ""
        typer.echo(f"error: {exc.strerror or exc}{where}", err=True)
        sys.exit(1)
    except Exception as exc:  # anything else (Ray failing to start...): still one line; the traceback on request
        if os.environ.get("TRACE2SKILL_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        typer.echo(f"error: {type(exc).__name__}: {first} (set TRACE2SKILL_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
