"""Parquet datasets as folders of append-only part files, written by many workers at once.

A run's large outputs (``trajectories.parquet/``, ``quarantine.parquet/``, ``analysis/``)
are folders of ``part-*.parquet`` files that the Ray workers write themselves, so no single
process writes every row. A part is written under a staging folder beside the dataset and
renamed into it, so a killed worker leaves whole parts or none, and readers (pyarrow,
polars, Ray Data) that list the folder never see a half-written file. Part names sort in
the order the dataset is meant to be read in, where that order matters.

Nothing here knows about Ray.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PART_GLOB = "part-*.parquet"
ROW_GROUP_ROWS = 65_536  # rows a row group of a file written from many small tables


class RowGroupWriter:
    """One Parquet file written from many small tables (``write_table``), gathered into row
    groups of at least ``rows`` rows. ``pq.ParquetWriter`` makes a row group of every table
    it is given, and keeps every row group's metadata until it closes: written a part of 64
    analysis results at a time, a 1M run's ``lessons.parquet`` had 15,798 row groups and a
    38 MB footer."""

    def __init__(self, path: Path, schema: pa.Schema, rows: int = ROW_GROUP_ROWS):
        self._writer = pq.ParquetWriter(path, schema)
        self._rows = rows
        self._pending: list[pa.Table] = []
        self._held = 0

    def write_table(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._held += table.num_rows
        if self._held >= self._rows:
            self._flush()

    def _flush(self) -> None:
        if self._held:
            self._writer.write_table(pa.concat_tables(self._pending))
        self._pending, self._held = [], 0

    def __enter__(self) -> RowGroupWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._flush()
        self._writer.close()


def staging_dir(folder: Path) -> Path:
    """Where parts of ``folder`` are written before their rename (a hidden sibling, same disk)."""
    return folder.parent / f".{folder.name}.staging"


def write_part(table: pa.Table, folder: Path, name: str) -> Path:
    """Write ``table`` as the part ``name`` of ``folder``, atomically; return its path.
    Writing the same name again replaces the part whole (a retried batch rewrites its own part)."""
    staging = staging_dir(folder)
    staging.mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = staging / f"{name}.{os.getpid()}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, folder / name)
    return folder / name


def remove_staging(folder: Path) -> None:
    """Remove the empty staging folders in ``folder`` once its datasets are written (a staging
    folder that still holds something, a part being written, is left alone)."""
    for staging in folder.glob(".*.staging"):
        with contextlib.suppress(OSError):
            staging.rmdir()


def ordered_part_name(*keys: int) -> str:
    """A part name that sorts by ``keys`` (e.g. input file index, first record index)."""
    return "part-" + "-".join(f"{k:09d}" for k in keys) + ".parquet"


def content_part_name(ids: Iterable[str]) -> str:
    """A part name that depends only on the ids of its rows: the same batch, sent again after
    a worker was lost, replaces its part instead of adding a second copy."""
    digest = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:24]
    return f"part-{digest}.parquet"


def parts(path: Path) -> list[Path]:
    """The part files of the dataset at ``path`` in name order; a single Parquet file (the
    layout of older runs, or a user's file) is its own only part."""
    if path.is_file():
        return [path]
    return sorted(path.glob(PART_GLOB)) if path.is_dir() else []


def reset(folder: Path) -> None:
    """Empty the dataset at ``folder`` (a run's earlier parts, or an older single file) and its staging."""
    for old in (folder, staging_dir(folder)):
        if old.is_dir():
            for part in old.iterdir():
                if part.match(PART_GLOB) or part.name.endswith(".tmp"):
                    part.unlink()
        elif old.is_file():
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)


def ensure_schema(folder: Path, schema: pa.Schema) -> None:
    """Give a dataset that got no rows one empty part, so that readers still find its schema."""
    if not parts(folder):
        write_part(schema.empty_table(), folder, "part-empty.parquet")


def num_rows(path: Path) -> int:
    """Rows of the dataset at ``path``, from the part footers (no data is read)."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parts(path))


def iter_batches(path: Path, columns: list[str] | None = None, batch_size: int = 4096) -> Iterator[pa.RecordBatch]:
    """The dataset's rows in part order, streamed in Arrow batches of at most ``batch_size`` rows."""
    for part in parts(path):
        yield from pq.ParquetFile(part).iter_batches(batch_size=batch_size, columns=columns)


def value_counts(path: Path, column: str) -> Counter[str]:
    """How often each value of ``column`` occurs in the dataset, counted batch by batch."""
    counts: Counter[str] = Counter()
    for batch in iter_batches(path, [column], batch_size=65536):
        counts.update({item["values"]: item["counts"] for item in pc.value_counts(batch[column]).to_pylist()})
    return counts


def column_sums(path: Path, columns: list[str]) -> dict[str, int]:
    """The sum of each integer column of the dataset, batch by batch (0 for no rows)."""
    sums = dict.fromkeys(columns, 0)
    for batch in iter_batches(path, columns, batch_size=65536):
        for column in columns:
            sums[column] += pc.sum(batch[column]).as_py() or 0
    return sums
