"""Reading inputs on Ray Data: one ``flat_map`` task per file, records written to Parquet by the workers.

Formats are detected on the driver before any work starts, so an unreadable input is
one clear error, not a failed task halfway through a run. The trajectories and the
quarantined records are two datasets of part files (``trace2skill.parts``) written by the
``map_batches`` tasks that receive the parsed rows; the driver only sums the counts they
return. Part names carry the input file's index and the record's index in it, so the
datasets read back in input order.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray

from trace2skill.ingest import Label, read_file
from trace2skill.ingest.inputs import Inputs, sort_inputs
from trace2skill.parts import ensure_schema, ordered_part_name, reset, write_part
from trace2skill.schema import QUARANTINE_SCHEMA, TRAJECTORY_SCHEMA, Trajectory


def input_plan(inputs: list[str], fmt: str = "auto", *, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> tuple[list[dict[str, str]], Inputs]:
    """One row per trajectory file: its index, path, format and id scope (the basename, or the
    path where two inputs share a basename, so trajectory ids never collide); and the sorted
    inputs (``ingest.inputs``: the sidecars' labels, the files skipped, with why)."""
    sorted_inputs = sort_inputs(inputs, fmt, include=include, exclude=exclude)
    plan = [{"index": i, "path": str(f), "format": name, "scope": scope} for i, (f, name, scope) in enumerate(sorted_inputs.scoped())]
    return plan, sorted_inputs


def plan_inputs(inputs: list[str], fmt: str = "auto") -> list[dict[str, str]]:
    """The rows of :func:`input_plan`, without the sidecars and skipped files."""
    return input_plan(inputs, fmt)[0]


def parse_file_rows(
    row: dict[str, Any], *, success_threshold: float, labels: Mapping[str, Label] | None, personal_data: bool = True
) -> Iterator[dict[str, Any]]:
    """Ray Data ``flat_map``: one input file -> one row per record (trajectory or quarantined).

    A generator, so Ray Data cuts the rows of a big file into blocks as they come
    instead of holding the whole file's records in one list.
    """
    records = read_file(
        Path(row["path"]), fmt=row["format"], success_threshold=success_threshold, id_scope=row["scope"], labels=labels, personal_data=personal_data
    )
    for index, record in enumerate(records):
        ok = isinstance(record, Trajectory)
        yield {
            "file_index": row["index"],
            "record_index": index,
            "trajectory_id": record.id if ok else record.trajectory_id,
            "source_file": record.source_file,
            "ok": ok,
            # A trajectory travels as its Arrow row (validated here, in the worker), so the
            # driver only decodes JSON into the Parquet writer: it is one core for the run.
            "payload": json.dumps(record.to_row(), ensure_ascii=False) if ok else record.model_dump_json(),
        }


def read_records(
    plan: list[dict[str, str]],
    *,
    success_threshold: float,
    labels: Mapping[str, Label] | None,
    limit: int | None,
    personal_data: bool = True,
) -> ray.data.Dataset:
    """The records of every planned file, in file order, as a lazy (streaming) dataset."""
    kwargs = {"success_threshold": success_threshold, "labels": labels, "personal_data": personal_data}
    parsed = ray.data.from_items(plan).flat_map(parse_file_rows, fn_kwargs=kwargs)
    if limit:
        parsed = parsed.limit(limit)
    return parsed


PART_ROWS = 1024  # records per part file: big enough for few files, small enough for a worker's memory


def write_record_parts(batch: pa.Table, *, trajectories: str, quarantine: str) -> dict[str, list[int]]:
    """Ray Data ``map_batches``: write a batch of parsed records as one part of each dataset
    (named by its first record's position in the input) and return its counts."""
    name = ordered_part_name(batch["file_index"][0].as_py(), batch["record_index"][0].as_py())
    trajs, quar = [], []
    for ok, payload in zip(batch["ok"].to_pylist(), batch["payload"].to_pylist()):
        (trajs if ok else quar).append(json.loads(payload))  # both are JSON of their Arrow rows
    if trajs:
        write_part(pa.Table.from_pylist(trajs, schema=TRAJECTORY_SCHEMA), Path(trajectories), name)
    if quar:
        write_part(pa.Table.from_pylist(quar, schema=QUARANTINE_SCHEMA), Path(quarantine), name)
    return {"ok": [len(trajs)], "quarantined": [len(quar)]}


def write_records(parsed: ray.data.Dataset, trajectories: Path, quarantine: Path) -> dict[str, int]:
    """Write the records as the two datasets (folders of part files), from the workers;
    return the counts, summed here over the counts the workers return."""
    for folder in (trajectories, quarantine):
        reset(folder)
    written = parsed.map_batches(
        write_record_parts,
        fn_kwargs={"trajectories": str(trajectories), "quarantine": str(quarantine)},
        batch_size=PART_ROWS,
        batch_format="pyarrow",
    )
    # One row of counts a part (a thousand at 1M records), summed here: ``Dataset.sum`` is a
    # shuffle (map and reduce tasks), seconds of a small read (docs/performance.md).
    totals = Counter({"ok": 0, "quarantined": 0})
    for row in written.iter_rows():
        totals.update({key: int(row[key]) for key in totals})
    ensure_schema(trajectories, TRAJECTORY_SCHEMA)
    ensure_schema(quarantine, QUARANTINE_SCHEMA)
    return dict(totals)

