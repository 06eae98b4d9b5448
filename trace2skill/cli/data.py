"""``trace2skill ingest`` and ``inspect``: read inputs without distilling them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from trace2skill.cli.common import CliError, Exclude, Include, app, known_format, output_file, require, warn


@app.command()
def ingest(
    inputs: Annotated[list[Path], typer.Argument(help="Trajectory files or directories.")],
    out: Annotated[Path, typer.Option("--out", help="Trajectories Parquet dataset to write, a folder of part files (quarantine goes beside it).")],
    input_format: Annotated[str, typer.Option("--format", help="Input format name, or auto to detect per file.")] = "auto",
    labels: Annotated[Optional[Path], typer.Option("--labels", help="Labels file joined onto any format.")] = None,
    success_threshold: Annotated[float, typer.Option("--success-threshold", help="reward >= X counts as success.")] = 1.0,
    num_cpus: Annotated[Optional[int], typer.Option("--num-cpus", help="CPUs for the local Ray instance.")] = None,
    include: Include = None,
    exclude: Exclude = None,
) -> None:
    """Normalise and redact trajectories of any supported format into Parquet (the distill read stage)."""
    from trace2skill.pipeline.run import ingest as run_ingest

    require(inputs)
    known_format(input_format)
    if labels is not None and not labels.is_file():
        raise CliError(f"labels file not found: {labels}")
    output_file(out)
    counts = run_ingest(
        [str(p) for p in inputs], out, fmt=input_format, labels=labels, success_threshold=success_threshold, num_cpus=num_cpus,
        include=tuple(include or ()), exclude=tuple(exclude or ()), progress=lambda line: warn([line]),
    )
    typer.echo(f"{counts['ok'] + counts['quarantined']} records read: {counts['ok']} trajectories -> {out}, {counts['quarantined']} quarantined")


@app.command()
def inspect(
    inputs: Annotated[list[Path], typer.Argument(help="Trajectory files or directories.")],
    input_format: Annotated[str, typer.Option("--format", help="Input format name, or auto to detect per file.")] = "auto",
    include: Include = None,
    exclude: Exclude = None,
) -> None:
    """Per format and file: records, ok, quarantined (top reasons), outcomes, steps and characters p50/p95/max."""
    import polars as pl

    from trace2skill.ingest import read_file
    from trace2skill.ingest.inputs import sort_inputs
    from trace2skill.ingest.inspect import record_rows, summarize

    require(inputs)
    known_format(input_format)
    found = sort_inputs([str(p) for p in inputs], input_format, include=include or (), exclude=exclude or ())
    warn(found.warnings())
    labels = found.with_labels(None)
    rows = []
    for path, fmt in found.files:
        rows += record_rows(path, fmt, read_file(path, fmt=fmt, labels=labels))
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=60, tbl_hide_dataframe_shape=True):
        typer.echo(summarize(rows))
