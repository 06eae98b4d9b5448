"""Where a lesson of provenance came from: its text, its trajectory's task and source file,
and the step of that trajectory it cites. ``explain`` prints it under each piece of evidence.

Only the lessons asked for are read, with Arrow filters over the run's ``lessons.parquet``
and ``trajectories.parquet`` (folders of parts), never a whole dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds

from trace2skill.analysts.models import cited_step


@dataclass(frozen=True)
class LessonSource:
    """One lesson with the trajectory it was learned from."""

    lesson_id: str
    title: str
    content: str
    trajectory_id: str
    task_key: str  # "" when the trajectory is not in trajectories.parquet or has none
    source_file: str
    step: int | None  # the step it cites

    def lines(self) -> list[str]:
        """Two lines for ``explain``: the lesson's text, then where it came from."""
        text = " ".join(f"{self.title}: {self.content}".split())
        where = f"trajectory {self.trajectory_id}, task {self.task_key or '-'}, file {self.source_file or '-'}"
        return [f"lesson {self.lesson_id}: {text[:200]}", f"  from {where}" + (f", step {self.step}" if self.step is not None else "")]


def lesson_sources(run_dir: Path, lesson_ids: set[str]) -> dict[str, LessonSource]:
    """The ``lesson_ids`` found in ``run_dir/lessons.parquet``, each with its trajectory's
    task and source file from ``run_dir/trajectories.parquet`` (blank where it is not there)."""
    lessons, trajectories = Path(run_dir) / "lessons.parquet", Path(run_dir) / "trajectories.parquet"
    if not lesson_ids or not lessons.exists():
        return {}
    found = _rows(lessons, "id", lesson_ids, ["id", "trajectory_id", "title", "content", "metadata"])
    tasks = {}
    if trajectories.exists():
        tasks = {r["id"]: r for r in _rows(trajectories, "id", {r["trajectory_id"] for r in found}, ["id", "task_key", "source_file"])}
    out = {}
    for r in found:
        task = tasks.get(r["trajectory_id"], {})
        out[r["id"]] = LessonSource(
            lesson_id=r["id"],
            title=r["title"] or "",
            content=r["content"] or "",
            trajectory_id=r["trajectory_id"],
            task_key=task.get("task_key") or "",
            source_file=task.get("source_file") or "",
            step=cited_step(r["metadata"]),
        )
    return out


def _rows(path: Path, key: str, values: set[str], columns: list[str]) -> list[dict]:
    table = ds.dataset(path, format="parquet").to_table(columns=columns, filter=pc.field(key).isin(sorted(values)))
    return table.to_pylist()
