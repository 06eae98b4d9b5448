"""``trace2skill validate``, ``explain`` and ``report``: look at a skill or a finished run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from trace2skill.cli.common import CliError, app


@app.command()
def validate(
    skill_dir: Annotated[Path, typer.Argument(help="A skill folder.")],
    allow_domain: Annotated[Optional[list[str]], typer.Option("--allow-domain", help="A domain the skill may name (its subdomains too); repeatable.")] = None,
    against: Annotated[Optional[Path], typer.Option("--against", help="A starting skill whose text counts as allowed (as S0 does in distill).")] = None,
    output_format: Annotated[str, typer.Option("--format", help="text (one line per finding), json, or sarif (SARIF 2.1.0 for code-scanning tools).")] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
) -> None:
    """Check a skill folder against the Agent Skills spec, the 500-line limit and the safety
    rules (every line is new unless --against names a skill that has it). Exit 0 clean,
    1 withheld (a high-severity finding), 3 flagged (medium or low findings only), 4 not a
    valid skill."""
    from trace2skill.safety import SafetyConfig, review_skill
    from trace2skill.safety.verdict import Verdict
    from trace2skill.skill.folder import SkillError, load_skill
    from trace2skill.skill.validate import validate_skill_dir

    output_format = "json" if as_json else output_format
    if output_format not in ("text", "json", "sarif"):
        raise CliError(f"--format must be text, json or sarif, not {output_format!r}")
    problems = validate_skill_dir(skill_dir)
    try:
        base = load_skill(against) if against else None
        findings = review_skill(load_skill(skill_dir), base, SafetyConfig(allow_domains=allow_domain or []))
    except SkillError as exc:
        findings = []
        problems = problems or [str(exc)]
    verdict = Verdict.of(str(skill_dir), problems, findings)
    typer.echo({"text": verdict.text, "json": verdict.json, "sarif": verdict.sarif}[output_format]())
    if verdict.exit_code:
        raise typer.Exit(verdict.exit_code)


@app.command()
def explain(
    skill_dir: Annotated[Path, typer.Argument(help="A skill folder written by distill.")],
    run_dir: Annotated[Path, typer.Argument(help="The run folder of that distill (holds provenance.parquet).")],
    section: Annotated[Optional[str], typer.Option("--section", help="Only sections or files whose title or path contains this text.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the evidence as JSON on stdout (every trajectory id, not the first few).")] = False,
) -> None:
    """Show which lessons and trajectories stand behind each section and reference file:
    a few lessons' text, with their trajectory's task, source file and cited step."""
    from trace2skill.consolidate.provenance import explain as explain_skill
    from trace2skill.consolidate.provenance import explain_json
    from trace2skill.run.update import earlier_runs

    if not (run_dir / "provenance.parquet").is_file():
        raise CliError(f"{run_dir}: no provenance.parquet (give the run folder of a distill)")
    if as_json:
        typer.echo(json.dumps(explain_json(skill_dir, run_dir, section, earlier=earlier_runs(run_dir)), indent=2))
    else:
        typer.echo(explain_skill(skill_dir, run_dir, section, earlier=earlier_runs(run_dir)))


@app.command()
def recipes(as_json: Annotated[bool, typer.Option("--json", help="Print name, file and summary of each recipe as JSON.")] = False) -> None:
    """List the recipes installed with trace2skill; `--recipe NAME` uses one (copy its file to change it)."""
    from trace2skill.run.recipes import packaged_recipes, recipe_summary

    found = [{"name": name, "path": str(path), "summary": recipe_summary(path)} for name, path in packaged_recipes().items()]
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    width = max(len(r["name"]) for r in found)
    for r in found:
        typer.echo(f"{r['name']:<{width}}  {r['summary']}")
    typer.echo(f"\nfiles in {Path(found[0]['path']).parent}")


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="The run folder of a distill (OUT/run).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the two paths as JSON.")] = False,
) -> None:
    """Write RUN_DIR/report.html (self-contained) and RUN_DIR/report.md for a finished run."""
    from trace2skill.report import write_report

    if not (run_dir / "summary.json").is_file():
        raise CliError(f"{run_dir}: no summary.json (give the run folder of a finished distill)")
    html_path, md_path = write_report(run_dir)
    typer.echo(json.dumps({"html": str(html_path), "md": str(md_path)}) if as_json else f"{html_path}\n{md_path}")
