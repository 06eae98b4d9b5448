"""``trace2skill ingest`` and ``inspect``: read inputs without distilling them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from trace2skill.cli.common import Exclude, Include, app, known_format, output_file, readable, require, require_options, warn

FORMAT_HELP = "Input format name, or auto to detect per file."
Labels = Annotated[Optional[Path], typer.Option("--labels", help="Labels file joined onto any format.")]
SuccessThreshold = Annotated[float, typer.Option("--success-threshold", help="reward >= X counts as success.")]
# The columns of the inspect table: (header, the summary's columns shown in it, joined by /).
INSPECT_COLUMNS = (
    ("format", ("format",)),
    ("file", ("file",)),
    ("records", ("records",)),
    ("ok", ("ok",)),
    ("quarantined", ("quarantined",)),
    ("success/failure/none", ("success", "failure", "no_outcome")),
    ("steps p50/p95/max", ("steps_p50", "steps_p95", "steps_max")),
    ("chars p50/p95/max", ("chars_p50", "chars_p95", "chars_max")),
    ("outcome from", ("outcome_from",)),
    ("top quarantine reasons", ("top_reasons",)),
    ("repairs", ("repairs",)),
)
PIPED_WIDTH = 10_000
TEXT_COLUMNS = {"format", "file", "outcome from", "top quarantine reasons", "repairs"}  # the rest are numbers, right-aligned


@app.command()
def ingest(
    inputs: Annotated[list[Path], typer.Argument(help="Trajectory files or directories.")],
    out: Annotated[Path, typer.Option("--out", help="Trajectories Parquet dataset to write, a folder of part files (quarantine and Ray's log go beside it).")],
    input_format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    labels: Labels = None,
    success_threshold: SuccessThreshold = 1.0,
    num_cpus: Annotated[Optional[int], typer.Option("--num-cpus", help="CPUs for the local Ray instance.")] = None,
    include: Include = None,
    exclude: Exclude = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON on stdout.")] = False,
) -> None:
    """Normalise and redact trajectories of any supported format into Parquet (the distill read stage)."""
    from trace2skill.pipeline.run import ingest as run_ingest

    readable(inputs, input_format, include or (), exclude or ())
    require_options(labels=labels)
    output_file(out)
    counts = run_ingest(
        [str(p) for p in inputs], out, fmt=input_format, labels=labels, success_threshold=success_threshold, num_cpus=num_cpus,
        include=tuple(include or ()), exclude=tuple(exclude or ()), progress=lambda line: warn([line]),
    )
    if as_json:
        typer.echo(json.dumps({**counts, "out": str(out)}, indent=2))
    else:
        typer.echo(f"{counts['ok'] + counts['quarantined']} records read: {counts['ok']} trajectories -> {out}, {counts['quarantined']} quarantined")


@app.command()
def inspect(
    inputs: Annotated[list[Path], typer.Argument(help="Trajectory files or directories.")],
    input_format: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    labels: Labels = None,
    success_threshold: SuccessThreshold = 1.0,
    include: Include = None,
    exclude: Exclude = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one object per file as JSON on stdout instead of a table.")] = False,
) -> None:
    """Per format and file: records, ok, quarantined (top reasons), outcomes, steps and characters p50/p95/max."""
    from trace2skill.ingest import read_file, read_labels
    from trace2skill.ingest.inputs import sort_inputs
    from trace2skill.ingest.inspect import record_rows, summarize

    require(inputs)
    known_format(input_format)
    require_options(labels=labels)
    found = sort_inputs([str(p) for p in inputs], input_format, include=include or (), exclude=exclude or ())
    warn(found.warnings())
    joined = found.with_labels(read_labels(labels) if labels else None)
    rows = []
    for path, fmt in found.files:
        rows += record_rows(path, fmt, read_file(path, fmt=fmt, labels=joined, success_threshold=success_threshold))
    files = summarize(rows).to_dicts()
    if as_json:
        typer.echo(json.dumps(files, indent=2))
    else:
        _print_table(files)


def _print_table(files: list[dict]) -> None:
    """The inspect table as rich draws it: whole paths (wrapped, never cut), numbers aligned."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    longest = max((len(row["file"]) for row in files), default=0)
    for header, _ in INSPECT_COLUMNS:
        text = header in TEXT_COLUMNS
        table.add_column(header, overflow="fold", justify="left" if text else "right", no_wrap=not text, min_width=min(longest, 80) if header == "file" else None)
    for row in files:
        table.add_row(*("/".join(_cell(row[c]) for c in columns) for _, columns in INSPECT_COLUMNS))
    # On a terminal, rich fits the table to its width; piped, nothing is wrapped (a line a file).
    Console(width=None if sys.stdout.isatty() else PIPED_WIDTH, highlight=False).print(table)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)
