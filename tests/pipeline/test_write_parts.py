"""The read stage's writer: a batch of parsed records becomes one part of each dataset, named by its input position."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import make_trajectory
from trace2skill.pipeline.read import write_record_parts
from trace2skill.schema import QUARANTINE_SCHEMA, TRAJECTORY_SCHEMA, QuarantinedRecord


def _parsed(file_index: int, first: int, records) -> pa.Table:
    rows = []
    for i, record in enumerate(records):
        ok = not isinstance(record, QuarantinedRecord)
        payload = json.dumps(record.to_row()) if ok else record.model_dump_json()
        rows.append({"file_index": file_index, "record_index": first + i, "trajectory_id": "", "source_file": "f", "ok": ok, "payload": payload})
    return pa.Table.from_pylist(rows)


def test_a_batch_becomes_one_part_of_each_dataset_in_input_order(tmp_path):
    traj, quar = tmp_path / "t.parquet", tmp_path / "q.parquet"
    bad = QuarantinedRecord(trajectory_id="q1", source_file="f", location="line 2", source_format="openai_chat", reason="not JSON")
    later = write_record_parts(_parsed(1, 0, [make_trajectory("c", True, ["x"])]), trajectories=str(traj), quarantine=str(quar))
    first = write_record_parts(_parsed(0, 5, [make_trajectory("a", True, ["x"]), bad, make_trajectory("b", False, ["y"])]), trajectories=str(traj), quarantine=str(quar))
    assert (first, later) == ({"ok": [2], "quarantined": [1]}, {"ok": [1], "quarantined": [0]})
    assert pq.read_table(traj)["id"].to_pylist() == ["a", "b", "c"]  # part names sort by (file, record)
    assert pq.read_table(traj).schema == TRAJECTORY_SCHEMA
    assert pq.read_table(quar).cast(QUARANTINE_SCHEMA)["reason"].to_pylist() == ["not JSON"]
    assert [p.name for p in sorted(quar.iterdir())] == ["part-000000000-000000005.parquet"]
