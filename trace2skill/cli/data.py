"""``trace2skill ingest`` and ``inspect``: read inputs without distilling them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from trace2skill.cli.common import CliError, app, known_format, output_file, require


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
    from trace2skill.pipeline.run import ingest as run_ingest

    require(inputs)
    known_format(input_format)
    if labels is not None and not labels.is_file():
        raise CliError(f"labels file not found: {labels}")
    output_file(out)
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
    from trace2skill.ingest.inspect import record_rows, summarize
    from trace2skill.schema import QuarantinedRecord

    require(inputs)
    known_format(input_format)
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
