"""Command line: ``trace2skill distill | ingest | inspect | validate | explain | report | evaluate``."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from pydantic import ValidationError

if TYPE_CHECKING:
    from trace2skill.config import DistillConfig
    from trace2skill.progress import Console

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
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the --holdout split (default 0).")] = None,
    candidates: Annotated[Optional[int], typer.Option("--candidates", help="Write N candidate skills (OUT/candidate-i), sampled with different seeds, for evaluate to rank.")] = None,
    analyst_mode: Annotated[Optional[str], typer.Option("--analyst-mode", help="Error analyst: single (one call, default) or agentic (a bounded loop of tool calls).")] = None,
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
        "analyst": {"context_tokens": context_tokens, "mode": analyst_mode},
        "holdout": holdout,
        "holdout_ids": holdout_ids,
        "seed": seed,
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
        if holdout_ids is not None and not holdout_ids.is_file():
            raise CliError(f"holdout ids file not found: {holdout_ids}")
        settings = overlay(load_recipe(recipe) if recipe else {}, _given(flags))
        try:
            cfg = DistillConfig.model_validate({**settings, "inputs": inputs, "out_dir": out})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise CliError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None

    from trace2skill.pipeline import distill as run_distill
    from trace2skill.progress import Console
    from trace2skill.report import load_run
    from trace2skill.report.closing import closing_note

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
    """Distill ``n`` candidates one after the other (trace2skill/candidates.py) and say how to rank them."""
    from trace2skill.candidates import candidate_configs
    from trace2skill.pipeline import distill as run_distill

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
    out: Annotated[Path, typer.Option("--out", help="Trajectories Parquet dataset to write, a folder of part files (quarantine goes beside it).")],
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
    """Make the parents of output dataset ``out`` (a folder of part files, written anew); an
    existing folder that holds anything but such parts is an error, so nothing else is overwritten."""
    from trace2skill.parts import PART_GLOB

    if out.is_dir() and (out.suffix != ".parquet" or any(not p.match(PART_GLOB) for p in out.iterdir())):
        raise CliError(f"--out {out} is a folder, not a Parquet dataset; give a new name, e.g. {out / 'trajectories.parquet'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the folder of --out {out}: {exc.strerror or exc}") from None


def _require(paths: list[Path]) -> None:
    for path in paths:
        if not path.exists():
            raise CliError(f"input not found: {path}")


@app.command()
def validate(
    skill_dir: Annotated[Path, typer.Argument(help="A skill folder.")],
    allow_domain: Annotated[Optional[list[str]], typer.Option("--allow-domain", help="A domain the skill may name (its subdomains too); repeatable.")] = None,
    against: Annotated[Optional[Path], typer.Option("--against", help="A starting skill whose text counts as allowed (as S0 does in distill).")] = None,
) -> None:
    """Check a skill folder against the Agent Skills spec, the 500-line limit and the safety
    rules (every line is new unless --against names a skill that has it). Exit 1 on a spec
    problem or a high-severity finding; one line per finding."""
    from trace2skill.safety import SafetyConfig, review_skill
    from trace2skill.skill.folder import SkillError, load_skill
    from trace2skill.skill.validate import validate_skill_dir

    problems = validate_skill_dir(skill_dir)
    for problem in problems:
        typer.echo(f"- {problem}")
    try:
        base = load_skill(against) if against else None
        findings = review_skill(load_skill(skill_dir), base, SafetyConfig(allow_domains=allow_domain or []))
    except SkillError as exc:
        findings = []
        problems = problems or [str(exc)]
    for f in findings:
        typer.echo(f"{f.severity.upper()} {f.rule} {f.path}:{f.line_no}: {f.evidence!r} ({f.explanation})")
    high = sum(f.severity == "high" for f in findings)
    if problems or high:
        raise typer.Exit(1)
    typer.echo(f"{skill_dir}: valid" + (f"; {len(findings)} finding(s) to review, none high" if findings else "; no safety finding"))


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
) -> None:
    """Run an agent runner on held-out tasks with the baseline and each candidate skill; promote a candidate only when it is confidently better."""
    import json

    from trace2skill.evaluate import EvaluateConfig
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
        first = exc.errors()[0]
        raise CliError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None

    from trace2skill.pipeline.evaluate import evaluate as run_evaluate

    progress = (lambda msg: None) if quiet else (lambda msg: typer.echo(f"[trace2skill] {msg}", err=True))
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
