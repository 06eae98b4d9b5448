"""The grader view leaves ingest like every other text: through redaction, and into Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from trace2skill.ingest import read_file
from trace2skill.schema import TRAJECTORY_SCHEMA, Trajectory

SECRET = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2


def test_secrets_in_the_grader_view_are_redacted(tmp_path: Path) -> None:
    item = {
        "task_id": 1,
        "trial": 0,
        "reward": 0.0,
        "traj": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        "info": {"task": {"actions": [{"name": "login", "kwargs": {"token": SECRET}}], "outputs": [f"key {SECRET}"]}},
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps([item]), encoding="utf-8")
    (traj,) = read_file(path)
    text = traj.grader.model_dump_json()
    assert SECRET not in text and "[REDACTED:" in text
    assert traj.metadata["redactions"]


def test_the_grader_view_round_trips_through_arrow(tmp_path: Path) -> None:
    item = {
        "task_id": 1,
        "reward": 0.0,
        "traj": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        "info": {"task": {"actions": [{"name": "cancel", "kwargs": {}}]}, "reward_info": {"reward": 0.0, "info": {"r_actions": 0.0}}},
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps([item, {**item, "task_id": 2, "info": {}}]), encoding="utf-8")
    trajs = list(read_file(path))
    table = pa.Table.from_pylist([t.to_row() for t in trajs], schema=TRAJECTORY_SCHEMA)
    back = [Trajectory.from_row(row) for row in table.to_pylist()]
    assert back == trajs and back[0].grader is not None and back[1].grader is None
