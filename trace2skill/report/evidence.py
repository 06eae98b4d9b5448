"""The lessons behind the evidence the report cites, and the step of the trajectory each one cites.

A lesson of a failure cites steps (its ``failure_causes``' steps, or the step where the
run diverged from its successful sibling); that step is where a transcript page opens.
Only the few trajectories the report names are looked up, with polars filters over
``lessons.parquet``, so the cost does not grow with the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from trace2skill.analysts.models import cited_step
from trace2skill.consolidate.provenance import CONTENT_KINDS
from trace2skill.skill.model import SKILL_MD, normalize_title

EXAMPLE_LESSONS = 3  # lessons shown beside one change


@dataclass(frozen=True)
class CitedLesson:
    """One lesson as the report shows it beside a change or on a transcript page."""

    id: str
    trajectory_id: str
    title: str
    content: str
    step: int | None  # the step of its trajectory it cites; None when it cites none


def lessons_of(lessons: Path | None, trajectory_ids: set[str]) -> dict[str, list[CitedLesson]]:
    """Per trajectory of ``trajectory_ids``: its lessons (sorted by id)."""
    if lessons is None or not trajectory_ids:
        return {}
    frame = (
        pl.scan_parquet(lessons)
        .filter(pl.col("trajectory_id").is_in(sorted(trajectory_ids)))
        .select("id", "trajectory_id", "title", "content", "metadata")
        .unique(subset="id", keep="last")
        .sort("trajectory_id", "id")
        .collect()
    )
    out: dict[str, list[CitedLesson]] = {}
    for row in frame.iter_rows(named=True):
        out.setdefault(row["trajectory_id"], []).append(_cited(row))
    return out


def place_key(path: str, section: str) -> tuple[str, str]:
    """The place a content row of provenance wrote to, as the skill diff compares places: a
    SKILL.md section by its normalized title, any other file as a whole."""
    return (SKILL_MD, normalize_title(section)) if path == SKILL_MD else (path, "")


def place_keys(content: pl.LazyFrame) -> pl.LazyFrame:
    """``path, section, place_path, place_section``: the place (``place_key``) of each
    ``(path, section)`` of the provenance rows ``content``."""
    pairs = content.select("path", "section").unique().collect().rows()
    columns = ("path", "section", "place_path", "place_section")
    return pl.LazyFrame([(path, section, *place_key(path, section)) for path, section in pairs], schema={c: pl.String for c in columns}, orient="row")


def place_lessons(provenance: Path, lessons: Path | None) -> dict[tuple[str, str], list[CitedLesson]]:
    """Per place of the skill (``place_key``): the first ``EXAMPLE_LESSONS`` lessons
    behind it, one per trajectory, trajectories in id order."""
    if lessons is None:
        return {}
    place = ["place_path", "place_section"]
    content = pl.scan_parquet(provenance).filter(pl.col("kind").is_in(CONTENT_KINDS))
    ids = content.join(place_keys(content), on=["path", "section"]).select(*place, pl.col("lesson_ids").alias("id")).explode("id").drop_nulls("id").unique()
    known = pl.scan_parquet(lessons).select("id", "trajectory_id", "title", "content", "metadata").unique(subset="id", keep="last")
    frame = (
        ids.join(known, on="id")
        .sort("trajectory_id", "id")
        .group_by(*place, "trajectory_id", maintain_order=True)
        .first()
        .group_by(place, maintain_order=True)
        .head(EXAMPLE_LESSONS)
        .collect()
    )
    out: dict[tuple[str, str], list[CitedLesson]] = {}
    for row in frame.iter_rows(named=True):
        out.setdefault((row["place_path"], row["place_section"]), []).append(_cited(row))
    return out


def _cited(row: dict) -> CitedLesson:
    return CitedLesson(id=row["id"], trajectory_id=row["trajectory_id"], title=row["title"] or "", content=row["content"] or "", step=cited_step(row["metadata"]))
