"""Before a run starts: is there anything to read? A folder with no trajectory files, or a
``--format`` that reads none of them, is told in a second, with the fix, instead of after a
whole run that reads nothing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice
from pathlib import Path

from trace2skill.ingest.base import IngestError, UnknownFormatError
from trace2skill.ingest.inputs import selected
from trace2skill.ingest.registry import (
    detect_format,
    discover_files,
    known_suffixes,
    read_file,
)
from trace2skill.schema import Trajectory

SAMPLE_FILES = 16  # files tried before concluding that none is readable (a run reads them all)
RECORDS_PER_FILE = 4  # records tried per file: a reader that quarantines these reads none of it


class NothingToRead(IngestError):
    """The inputs hold nothing a run could read; the message says why and what to do."""


def readable_files(inputs: Iterable[str | Path], fmt: str = "auto", *, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> list[Path]:
    """The input files ``include`` / ``exclude`` select, once some of them are known to yield a
    trajectory under ``fmt``. Raises NothingToRead when there are none, or none of the first
    ``SAMPLE_FILES`` yields one."""
    named = [str(p) for p in inputs]
    files = [f for f in discover_files(named) if selected(f, include, exclude)]
    if not files:
        raise NothingToRead(f"no trajectory files in {', '.join(named)} (looked for {', '.join(known_suffixes())}); name the files, or a folder that holds them")
    sample = files[:SAMPLE_FILES]
    if any(_yields_a_trajectory(path, fmt) for path in sample):
        return files
    which = f"the {len(files)} input file(s)" if len(files) == len(sample) else f"the first {len(sample)} of the {len(files)} input files"
    if fmt == "auto":
        raise NothingToRead(
            f"none of {which} is a trajectory file of a known format; see `trace2skill inspect` for each file's reason, and docs/formats.md for the formats"
        )
    detected = sorted({name for path in sample if (name := _detected(path))})
    fix = f"--format {' or '.join(detected)}, or auto" if detected else "another --format (or auto)"
    raise NothingToRead(f"--format {fmt} reads no trajectory from {which}; give {fix}")


def _yields_a_trajectory(path: Path, fmt: str) -> bool:
    """Whether one of the first records of ``path`` read as ``fmt`` is a trajectory."""
    try:
        records = read_file(path, fmt=fmt, redact=False)
        return any(isinstance(r, Trajectory) for r in islice(records, RECORDS_PER_FILE))
    except (UnknownFormatError, OSError, ValueError):
        return False


def _detected(path: Path) -> str | None:
    try:
        return detect_format(path)
    except (UnknownFormatError, OSError):
        return None
