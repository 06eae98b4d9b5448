"""Held-out tasks: the split, the files it writes, and a distill that never sees them."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import EXAMPLES, make_trajectory
from trace2skill.parts import write_part
from trace2skill.run.holdout import HOLDOUT_TASKS, choose_holdout, held_out_results, read_task_ids, split_holdout, task_key
from trace2skill.run.options import DistillConfig
from trace2skill.schema import TRAJECTORY_SCHEMA, to_table


def write_trajectories(path: Path, per_task: int = 2, tasks: int = 10) -> list[str]:
    trajs = []
    for t in range(tasks):
        for k in range(per_task):
            traj = make_trajectory(f"t{t}-{k}", k == 0, ["lookup"])
            trajs.append(traj.model_copy(update={"metadata": {"task_id": f"task-{t}", "expected_actions": f"[\"refund {t}\"]"}}))
    table = to_table(trajs, TRAJECTORY_SCHEMA)  # a dataset of two parts, as the read stage writes it
    write_part(table.slice(0, 7), path, "part-000000000-000000000.parquet")
    write_part(table.slice(7), path, "part-000000000-000000007.parquet")
    return [t.id for t in trajs]


def test_task_key():
    assert task_key("any", {"task_id": 7}, "x") == "7"
    assert task_key("  Book a flight ", {}, "x") == task_key("Book a flight", {}, "y")
    assert task_key("", {}, "x") == "x"


def test_choice_is_seeded_and_sized():
    keys = [f"k{i}" for i in range(20)]
    assert choose_holdout(keys, fraction=0.25, ids=None, seed=1) == choose_holdout(list(reversed(keys)), fraction=0.25, ids=None, seed=1)
    assert len(choose_holdout(keys, fraction=0.25, ids=None, seed=1)) == 5
    assert choose_holdout(keys, fraction=0.25, ids=None, seed=1) != choose_holdout(keys, fraction=0.25, ids=None, seed=2)
    assert len(choose_holdout(keys[:3], fraction=0.01, ids=None, seed=0)) == 1
    assert choose_holdout(keys, fraction=None, ids={"k3", "nope"}, seed=0) == {"k3"}


def test_split_moves_whole_tasks(tmp_path):
    path = tmp_path / "trajectories.parquet"
    ids = write_trajectories(path)
    held = split_holdout(tmp_path, path, fraction=0.3, ids=None, seed=0)
    tasks = [json.loads(line) for line in (tmp_path / HOLDOUT_TASKS).read_text().splitlines()]
    assert held == 3 and len(tasks) == 3
    kept = set(pl.read_parquet(path)["id"])
    assert len(list(path.iterdir())) == 2  # each part rewritten under its own name
    out = set(pl.read_parquet(tmp_path / "holdout.parquet")["id"])
    assert kept | out == set(ids) and not kept & out and len(out) == 6
    assert {t for task in tasks for t in task["trajectories"]} == out
    assert all(task["expected_actions"].startswith('["refund') and task["task"] for task in tasks)
    rows = held_out_results(tmp_path)
    assert {r.trajectory_id for r in rows} == out and {r.status for r in rows} == {"no_lesson"}
    assert all(r.reason.startswith("held out for evaluation (task task-") for r in rows)


def test_ids_file_lines_or_tasks_jsonl(tmp_path):
    (tmp_path / "ids.txt").write_text("task-1\n\ntask-2\n")
    (tmp_path / "ids.jsonl").write_text('{"id": "task-1", "task": "x"}\n{"id": 2}\n')
    assert read_task_ids(tmp_path / "ids.txt") == {"task-1", "task-2"}
    assert read_task_ids(tmp_path / "ids.jsonl") == {"task-1", "2"}


def test_holdout_options_exclude_each_other(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        DistillConfig(inputs=[tmp_path], out_dir=tmp_path, holdout=0.2, holdout_ids=tmp_path / "ids.txt")


@pytest.mark.ray
def test_distill_never_sees_held_out_tasks(ray_session, tmp_path):
    from trace2skill.llm.config import FakeConfig
    from trace2skill.pipeline.run import distill

    cfg = DistillConfig(
        inputs=[EXAMPLES / "airline"], out_dir=tmp_path / "out", skill_dir=EXAMPLES / "skills" / "airline-support",
        backend=FakeConfig(), consolidate={"fan_in": 4}, holdout=0.25, seed=3,
    )
    summary = distill(cfg, progress=lambda _: None)
    run = tmp_path / "out" / "run"
    held = [json.loads(line) for line in (run / HOLDOUT_TASKS).read_text().splitlines()]
    held_ids = {t for task in held for t in task["trajectories"]}
    assert held and held_ids
    manifest = pl.read_parquet(run / "manifest.parquet")
    assert summary.read == 24 and manifest.height == 24  # every input still in the manifest once
    assert set(manifest.filter(pl.col("reason").str.starts_with("held out"))["trajectory_id"]) == held_ids
    assert not held_ids & set(pl.read_parquet(run / "trajectories.parquet")["id"])
    assert not held_ids & set(pl.read_parquet(run / "lessons.parquet")["trajectory_id"])
