"""Keeping tasks out of a distill, so that ``evaluate`` can test the skill on tasks it never saw.

Trajectories are grouped by task (``schema.task_key``: the source's task or instance id,
else a hash of the task text; a run with neither is a task of its own). A seeded shuffle
of the distinct tasks holds out ``round(fraction x tasks)`` of them (at least one), or a
file names the tasks to hold out, by key or by the source's own task id. Every trajectory of a held-out task leaves ``trajectories.parquet`` for
``holdout.parquet``, stays in the manifest (status ``no_lesson``, reason "held out"), and
its task is one line of ``holdout_tasks.jsonl``: ``{id, task_key, task, expected_actions?,
trajectories}`` (``id``: the source's task id where it has one, what a runner looks the task up by), a tasks file for ``trace2skill evaluate`` and for its leakage check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trace2skill import parts
from trace2skill.analysts.models import AnalysisResult
from trace2skill.ingest.tasks import source_task_id
from trace2skill.schema import TRAJECTORY_SCHEMA, task_key

HOLDOUT_TRAJECTORIES = "holdout.parquet"
HOLDOUT_TASKS = "holdout_tasks.jsonl"
HELD_OUT_REASON = "held out for evaluation (task {task})"


def read_task_ids(path: Path) -> set[str]:
    """Task keys to hold out: one per line, or JSONL objects with an ``id`` (a tasks file)."""
    ids = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("{"):
            ids.add(str(json.loads(line)["id"]))
        elif line:
            ids.add(line)
    return ids


def choose_holdout(keys: list[str], *, fraction: float | None, ids: set[str] | None, seed: int, source_ids: dict[str, str] | None = None) -> set[str]:
    """The held-out task keys: those named in ``ids`` (by key, or by the source's own task id
    in ``source_ids``), or a seeded ``fraction`` of ``keys`` (at least one)."""
    if ids is not None:
        return {k for k in keys if k in ids or (source_ids or {}).get(k) in ids}
    ordered = sorted(set(keys))
    count = min(len(ordered), max(1, round((fraction or 0.0) * len(ordered))))
    return {ordered[i] for i in np.random.default_rng(seed).permutation(len(ordered))[:count]}


def split_holdout(run_dir: Path, trajectories: Path, *, fraction: float | None, ids: set[str] | None, seed: int) -> int:
    """Move the held-out tasks' trajectories out of the ``trajectories`` dataset (a folder of
    part files) and write the holdout files; return how many tasks."""
    tasks: dict[str, dict[str, Any]] = {}
    columns = ["id", "task_key", "task", "metadata"]
    for batch in parts.iter_batches(trajectories, columns=columns):
        for tid, stored, text, meta in zip(*(batch.column(c).to_pylist() for c in columns)):
            metadata = json.loads(meta or "{}")
            key = task_key(stored, text) or tid
            # The source's own id (what the user's runner looks its task up by), else the key.
            entry = tasks.setdefault(key, {"id": source_task_id(metadata) or key, "task_key": key, "task": text, "trajectories": []})
            entry["trajectories"].append(tid)
            if metadata.get("expected_actions") and "expected_actions" not in entry:
                entry["expected_actions"] = metadata["expected_actions"]
    held = choose_holdout(list(tasks), fraction=fraction, ids=ids, seed=seed, source_ids={k: t["id"] for k, t in tasks.items()})
    with (run_dir / HOLDOUT_TASKS).open("w", encoding="utf-8") as fh:
        for key in sorted(held):
            fh.write(json.dumps(tasks[key], ensure_ascii=False) + "\n")
    held_ids = pa.array([tid for key in held for tid in tasks[key]["trajectories"]], pa.string())
    move_trajectories(trajectories, held_ids, run_dir / HOLDOUT_TRAJECTORIES)
    return len(held)


def move_trajectories(trajectories: Path, ids: pa.Array, to: Path) -> None:
    """Move the rows of the ``trajectories`` dataset whose id is in ``ids`` to a new Parquet
    file ``to``, part by part: a part that loses rows is rewritten whole under its own name,
    so the input order is kept."""
    with pq.ParquetWriter(to, TRAJECTORY_SCHEMA) as out:
        for part in parts.parts(trajectories):
            table = pq.read_table(part).cast(TRAJECTORY_SCHEMA)
            mask = pc.is_in(table["id"], value_set=ids)
            if pc.any(mask).as_py():
                out.write_table(table.filter(mask))
                parts.write_part(table.filter(pc.invert(mask)), part.parent, part.name)


def held_out_results(run_dir: Path) -> list[AnalysisResult]:
    """The manifest rows of the held-out trajectories (none when the run held nothing out)."""
    path = run_dir / HOLDOUT_TRAJECTORIES
    if not path.is_file():
        return []
    keys = {tid: row["id"] for row in _read_tasks(run_dir / HOLDOUT_TASKS) for tid in row["trajectories"]}
    table = pq.read_table(path, columns=["id", "source_file"])
    return [
        AnalysisResult(trajectory_id=tid, source_file=src or "", status="no_lesson", reason=HELD_OUT_REASON.format(task=keys.get(tid, "?")))
        for tid, src in zip(table["id"].to_pylist(), table["source_file"].to_pylist())
    ]


def _read_tasks(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
