"""The evaluation tasks: a JSONL file of objects, each with at least an ``id``.

Everything but the ``id`` is the runner's business; trace2skill only writes the object to
the run's task file and, for the leakage check, reads the strings it holds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from trace2skill.schema import stable_id


class TasksError(ValueError):
    """The tasks file cannot be used; the message says where and why."""


def read_tasks(path: Path) -> list[dict[str, Any]]:
    """The task objects of ``path`` in file order; TasksError on a bad line, a missing or repeated id."""
    tasks: list[dict[str, Any]] = []
    seen: set[str] = set()
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                task = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TasksError(f"{path} line {lineno}: not JSON ({exc.msg})") from None
            if not isinstance(task, dict):
                raise TasksError(f"{path} line {lineno}: expected a JSON object")
            task_id = task.get("id")
            if isinstance(task_id, bool) or not isinstance(task_id, str | int) or task_id == "":
                raise TasksError(f"{path} line {lineno}: every task needs an 'id' (a string or an integer)")
            task_id = str(task_id)
            if task_id in seen:
                raise TasksError(f"{path} line {lineno}: task id {task_id!r} appears twice")
            seen.add(task_id)
            tasks.append({**task, "id": task_id})
    if not tasks:
        raise TasksError(f"{path}: no tasks")
    return tasks


def task_folder(task_id: str) -> str:
    """A folder name for ``task_id`` that is safe on any file system and unique per id.

    Task ids are free text; this keeps a readable prefix and adds a hash, so ``../x``
    and ``a/b`` never name a path outside the evaluation folder and two ids never share one.
    """
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", task_id).strip("._")[:40] or "task"
    return f"{slug}-{stable_id(task_id)[:8]}"


def task_strings(value: Any) -> list[str]:
    """Every string in a task object (texts, answers, nested values), the ``id`` left out."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() if key != "id" for s in task_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in task_strings(item)]
    return []
