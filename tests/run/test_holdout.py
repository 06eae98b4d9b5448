"""Held-out tasks: the split, the files it writes, and a distill that never sees them."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import EXAMPLES, make_trajectory
from trace2skill.ingest.tasks import task_key_of
from trace2skill.parts import write_part
from trace2skill.run.holdout import HOLDOUT_TASKS, choose_holdout, held_out_results, read_task_ids, split_holdout
from trace2skill.run.options import DistillConfig
from trace2skill.schema import TRAJECTORY_SCHEMA, task_key, to_table


def write_trajectories(path: Path, per_task: int = 2, tasks: int = 10) -> list[str]:
    trajs = []
    for t in range(tasks):
        for k in range(per_task):
            traj = make_trajectory(f"t{t}-{k}", k == 0, ["lookup"])
            metadata = {"task_id": f"task-{t}", "expected_actions": f"[\"refund {t}\"]"}
            trajs.append(traj.model_copy(update={"metadata": metadata, "task_key": task_key_of(metadata)}))  # as an adapter stores it
    table = to_table(trajs, TRAJECTORY_SCHEMA)  # a dataset of two parts, as the read stage writes it
    write_part(table.slice(0, 7), path, "part-000000000-000000000.parquet")
    write_part(table.slice(7), path, "part-000000000-000000007.parquet")
    return [t.id for t in trajs]


def test_tasks_are_grouped_by_the_one_task_key(tmp_path):
    path = tmp_path / "trajectories.parquet"
    made = [
        ("i1", "instance_id:django-1", "Fix the bug"),  # one SWE-bench instance, two wordings
        ("i2", "instance_id:django-1", "Fix the  bug, please"),
        ("r3", "task_id:retail/3", "Same text"),  # task 3 of two domains: two tasks
        ("a3", "task_id:airline/3", "Same text"),
        ("x1", None, "Book a flight"),  # no key: identical text (whitespace collapsed) is one task
        ("x2", None, " Book  a flight"),
        ("e1", None, ""),  # no key, no text: a task of its own
    ]
    trajs = [make_trajectory(tid, False, ["lookup"]).model_copy(update={"task_key": key, "task": text}) for tid, key, text in made]
    write_part(to_table(trajs, TRAJECTORY_SCHEMA), path, "part-000000000-000000000.parquet")
    assert split_holdout(tmp_path, path, fraction=1.0, ids=None, seed=0) == 5
    tasks = {t["task_key"]: t["trajectories"] for t in map(json.loads, (tmp_path / HOLDOUT_TASKS).read_text().splitlines())}
    assert tasks["instance_id:django-1"] == ["i1", "i2"] and tasks["task_id:retail/3"] == ["r3"] and tasks["task_id:airline/3"] == ["a3"]
    assert tasks[task_key(None, "Book a flight")] == ["x1", "x2"] and tasks["e1"] == ["e1"]


def test_a_task_keeps_its_source_id_for_the_runner_and_is_named_by_either(tmp_path):
    """The key groups runs; the tasks file's ``id`` is the benchmark's own id (what a user's
    runner looks the task up by), and ``--holdout-ids`` may name a task by either."""
    path = tmp_path / "trajectories.parquet"
    write_trajectories(path)
    assert split_holdout(tmp_path, path, fraction=None, ids={"task-3", "task_id:task-5"}, seed=0) == 2
    tasks = [json.loads(line) for line in (tmp_path / HOLDOUT_TASKS).read_text().splitlines()]
    assert [(t["id"], t["task_key"]) for t in tasks] == [("task-3", "task_id:task-3"), ("task-5", "task_id:task-5")]


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
