"""``trace2skill validate``, ``explain`` and ``report``: look at a skill or a finished run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from trace2skill.cli.common import CliError, app


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
