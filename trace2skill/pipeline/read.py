"""Reading inputs on Ray Data: one ``flat_map`` task per file, records streamed to Parquet.

Formats are detected on the driver before any work starts, so an unreadable input is
one clear error, not a failed task halfway through a run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from trace2skill.ingest import Label, detect_format, discover_files, read_file
from trace2skill.schema import QUARANTINE_SCHEMA, TRAJECTORY_SCHEMA, QuarantinedRecord, Trajectory


def plan_inputs(inputs: list[str], fmt: str = "auto") -> list[dict[str, str]]:
    """One row per input file: its path, format and id scope (the basename, or the path
    where two inputs share a basename, so trajectory ids never collide)."""
    files = discover_files(inputs)
    names = Counter(f.name for f in files)
    return [
        {"path": str(f), "format": detect_format(f) if fmt == "auto" else fmt, "scope": f.name if names[f.name] == 1 else str(f)}
        for f in files
    ]


def parse_file_rows(row: dict[str, Any], *, success_threshold: float, labels: Mapping[str, Label] | None) -> Iterator[dict[str, Any]]:
    """Ray Data ``flat_map``: one input file -> one row per record (trajectory or quarantined).

    A generator, so Ray Data cuts the rows of a big file into blocks as they come
    instead of holding the whole file's records in one list.
    """
    records = read_file(Path(row["path"]), fmt=row["format"], success_threshold=success_threshold, id_scope=row["scope"], labels=labels)
    for record in records:
        ok = isinstance(record, Trajectory)
        yield {
            "trajectory_id": record.id if ok else record.trajectory_id,
            "source_file": record.source_file,
            "ok": ok,
            # A trajectory travels as its Arrow row (validated here, in the worker), so the
            # driver only decodes JSON into the Parquet writer: it is one core for the run.
            "payload": json.dumps(record.to_row(), ensure_ascii=False) if ok else record.model_dump_json(),
        }


def read_records(
    plan: list[dict[str, str]], *, success_threshold: float, labels: Mapping[str, Label] | None, limit: int | None
) -> ray.data.Dataset:
    """The records of every planned file, in file order, as a lazy (streaming) dataset."""
    parsed = ray.data.from_items(plan).flat_map(parse_file_rows, fn_kwargs={"success_threshold": success_threshold, "labels": labels})
    if limit:
        parsed = parsed.limit(limit)
    return parsed


def write_records(parsed: ray.data.Dataset, trajectories: Path, quarantine: Path) -> dict[str, int]:
    """Stream the records into the two Parquet files, batch by batch; return the counts."""
    counts = {"ok": 0, "quarantined": 0}
    with pq.ParquetWriter(trajectories, TRAJECTORY_SCHEMA) as tw, pq.ParquetWriter(quarantine, QUARANTINE_SCHEMA) as qw:
        for batch in parsed.iter_batches(batch_format="numpy", batch_size=256):
            trajs = [json.loads(p) for ok, p in zip(batch["ok"], batch["payload"]) if ok]
            quar = [QuarantinedRecord.model_validate_json(p) for ok, p in zip(batch["ok"], batch["payload"]) if not ok]
            if trajs:
                tw.write_table(pa.Table.from_pylist(trajs, schema=TRAJECTORY_SCHEMA))
            if quar:
                qw.write_table(pa.Table.from_pylist([q.model_dump() for q in quar], schema=QUARANTINE_SCHEMA))
            counts["ok"] += len(trajs)
            counts["quarantined"] += len(quar)
    return counts
