"""Shared by the ingest tests: the fixture folder, a splitter of read results, a memory probe."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trace2skill.schema import QuarantinedRecord, Trajectory

DATA = Path(__file__).parent / "data"


def split(records: Sequence[object]) -> tuple[list[Trajectory], list[QuarantinedRecord]]:
    """Trajectories and quarantined records, asserting nothing else came out."""
    ok = [r for r in records if isinstance(r, Trajectory)]
    bad = [r for r in records if isinstance(r, QuarantinedRecord)]
    assert len(ok) + len(bad) == len(records)
    return ok, bad


def first_record_peak(path: Path, fmt: str) -> tuple[Any, int]:
    """The first record of ``path`` and the peak bytes Python allocated to read it."""
    import tracemalloc

    from trace2skill.ingest import read_file

    tracemalloc.start()
    records = read_file(path, fmt=fmt)
    first = next(records)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    records.close()
    return first, peak
