"""How the error analyses checked themselves: contrastive coverage, agentic turns, verified rates.

Aggregated with polars from ``manifest.parquet`` joined with the outcomes in
``trajectories.parquet`` (never row by row); a run written before these columns existed
gets no section.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from trace2skill.report.doc import Section, Table, Text

COLUMNS = ("sibling_id", "turns", "tool_errors", "verified")


def analysis_checks(run_dir: Path) -> dict[str, float] | None:
    """The counts the section shows, or None when the run has no such columns."""
    manifest, trajectories = run_dir / "manifest.parquet", run_dir / "trajectories.parquet"
    if not (manifest.is_file() and trajectories.exists()) or not set(COLUMNS) <= set(pl.read_parquet_schema(manifest)):
        return None
    outcomes = pl.scan_parquet(trajectories).select(pl.col("id").alias("trajectory_id"), "success")
    failures = pl.scan_parquet(manifest).join(outcomes, on="trajectory_id").filter(pl.col("success") == False)  # noqa: E712 (a polars expression)
    row = failures.select(
        pl.len().alias("failures"),
        (pl.col("sibling_id") != "").sum().alias("with_sibling"),
        (pl.col("turns") > 0).sum().alias("agentic"),
        pl.col("turns").filter(pl.col("turns") > 0).mean().alias("turns_mean"),
        pl.col("turns").max().alias("turns_max"),
        pl.col("tool_errors").sum().alias("tool_errors"),
        (pl.col("verified") == "passed").sum().alias("passed"),
        (pl.col("verified") == "failed").sum().alias("failed"),
        (pl.col("verified") == "unchecked").sum().alias("unchecked"),
    ).collect().row(0, named=True)
    return {k: v or 0 for k, v in row.items()}


def _share(part: float, whole: float) -> str:
    return f"{part:g} of {whole:g} ({100 * part / whole:.0f}%)" if whole else "0"


def checks_section(run_dir: Path) -> list[Section]:
    """The report section (none for a run without the columns or without failures)."""
    c = analysis_checks(run_dir)
    if not c or not c["failures"]:
        return []
    rows = [
        ["failures with a successful sibling (contrastive coverage)", _share(c["with_sibling"], c["failures"])],
        ["failures analysed by the agentic loop", _share(c["agentic"], c["failures"])],
        ["turns per agentic analysis: mean / max", f"{c['turns_mean']:.2f} / {c['turns_max']:g}" if c["agentic"] else "-"],
        ["tool errors in the loop (bad arguments, refused citations)", f"{c['tool_errors']:g}"],
        ["checked diagnoses whose fix passed (check tool or verifier)", _share(c["passed"], c["passed"] + c["failed"]) if c["passed"] + c["failed"] else "not run"],
        ["diagnoses whose fix failed its check", _share(c["failed"], c["failures"])],
        ["diagnoses no checker judged (unchecked)", _share(c["unchecked"], c["failures"])],
    ]
    text = Text(
        "How the error analyses checked themselves: a failure is contrasted with the shortest successful run of the same task when there is one; "
        "in agentic mode the analyst inspects the run with tools and may only cite steps it viewed; with a checker it checks its minimal fix "
        "against the task, and with a verifier the task is re-run with the fix. Lessons record the outcome as verified: passed, failed or unchecked."
    )
    return [Section("Error analysis checks", "checks", [text, Table(["", "value"], rows)])]
