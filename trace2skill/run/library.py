"""What a library run writes besides its skills: ``library.json`` and the library's manifest.

``library.json`` lists each skill (name, description, deepened or created, the trajectories
routed to it, their success rate, lessons, and where its run, provenance and report are),
how the pool was routed, what stayed unrouted and why, and the skills whose descriptions
claim the same tasks. The manifest is every skill run's manifest with a ``skill`` column,
then the pool's quarantined records and the unrouted trajectories (``skill`` empty), streamed.
Nothing here knows about Ray.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from trace2skill import parts
from trace2skill.library.models import Overlap, Routing, SkillRoute
from trace2skill.run.outputs import MANIFEST, QUARANTINE, TRAJECTORIES, trajectory_rows
from trace2skill.run.routing import ROUTES
from trace2skill.run.summary import RunSummary
from trace2skill.run.update import UpdateCounts
from trace2skill.schema import MANIFEST_SCHEMA, ManifestRow, to_table
from trace2skill.skill.folder import load_skill

LIBRARY_JSON = "library.json"
SKILLS_DIR = "skills"  # a run dir per skill, under the library's run dir
LIBRARY_MANIFEST_SCHEMA = MANIFEST_SCHEMA.append(pa.field("skill", pa.string()))


class LibrarySkill(BaseModel):
    """One skill of the library, as ``library.json`` lists it (paths relative to the library folder)."""

    name: str
    description: str
    origin: Literal["deepened", "created", "updated", "carried"]  # updated: a previous library's skill; carried: copied unchanged
    group: str
    keywords: list[str] = Field(default_factory=list)
    match_score: float | None = None
    routed: int  # trajectories routed to it
    success_rate: float | None  # of its trajectories with a known outcome; None when none has one
    lessons: int
    edits_applied: int
    valid: bool
    skill_dir: str
    run_dir: str
    provenance: str
    report: str
    update: UpdateCounts | None = None  # in a library update: its seen, changed and new trajectories, its analysis calls and a full run's


class Library(BaseModel):
    """``library.json``."""

    skills: list[LibrarySkill]
    criterion: str  # how the pool was routed, as the routing states it
    read: int  # trajectories read from the pool
    quarantined: int
    unrouted: int
    unrouted_reasons: dict[str, int] = Field(default_factory=dict)
    overlaps: list[Overlap] = Field(default_factory=list)
    update: str | None = None  # the run folder of the library this one updates

    @classmethod
    def of(cls, routing: Routing, skills: list[LibrarySkill], run_dir: Path, update: Path | None = None) -> Library:
        """The library of ``routing`` and its finished ``skills``; the counts from ``run_dir``."""
        return cls(
            update=str(update) if update else None,
            skills=skills,
            criterion=routing.criterion,
            read=parts.num_rows(run_dir / TRAJECTORIES),
            quarantined=parts.num_rows(run_dir / QUARANTINE),
            unrouted=len(routing.unrouted),
            unrouted_reasons=dict(Counter(u.reason for u in routing.unrouted).most_common()),
            overlaps=routing.overlaps,
        )

    def table(self) -> str:
        """A short aligned table for the terminal: a row per skill."""
        width = max([len(s.name) for s in self.skills] + [5])
        lines = [f"{'skill':<{width}}  origin    routed  success  lessons  valid"]
        for s in self.skills:
            rate = "-" if s.success_rate is None else f"{s.success_rate:.0%}"
            lines.append(f"{s.name:<{width}}  {s.origin:<8}  {s.routed:>6}  {rate:>7}  {s.lessons:>7}  {'yes' if s.valid else 'no'}")
        lines.append(f"read {self.read}, quarantined {self.quarantined}, unrouted {self.unrouted}; {self.criterion}")
        lines += [f"overlap: {o.a} and {o.b}: {o.reason}" for o in self.overlaps]
        if self.update:
            lines += [f"{s.name}: {s.update.line()}" for s in self.skills if s.update]
            lines += [f"{s.name}: carried over unchanged (no trajectory of this pool routed to it)" for s in self.skills if s.origin == "carried"]
            lines.append(self.update_total().line())
        return "\n".join(lines)

    def update_total(self) -> UpdateCounts:
        """The skills' update counts summed: the whole update's seen, changed and new
        trajectories, its analysis calls and a full run's."""
        counts = [s.update for s in self.skills if s.update]
        fields = ("seen", "changed", "new", "calls", "full_calls")
        return UpdateCounts(previous=self.update or "", **{f: sum(getattr(c, f) for c in counts) for f in fields})


def library_entry(route: SkillRoute, routed: int, summary: RunSummary, out_dir: Path, run_dir: Path, update: UpdateCounts | None = None) -> LibrarySkill:
    """The ``library.json`` entry of one finished skill run (``update``: its counts in a library update)."""
    skill_dir = Path(summary.skill_dir)
    return LibrarySkill(
        name=route.skill,
        description=load_skill(skill_dir).description,
        origin="updated" if summary.update else "deepened" if route.matched else "created",
        group=route.group,
        keywords=route.keywords,
        match_score=route.match_score,
        routed=routed,
        success_rate=success_rate(run_dir / TRAJECTORIES),
        lessons=summary.lessons,
        edits_applied=summary.edits_applied,
        valid=summary.valid,
        skill_dir=relative_path(skill_dir, out_dir),
        run_dir=relative_path(run_dir, out_dir),
        provenance=relative_path(run_dir / "provenance.parquet", out_dir),
        report=relative_path(run_dir / "report.html", out_dir),
        update=update,
    )


def success_rate(trajectories: Path) -> float | None:
    """The share of successes among the trajectories with a known outcome."""
    wins = known = 0
    for batch in parts.iter_batches(trajectories, ["success"], batch_size=65536):
        column = batch.column("success")
        known += len(column) - column.null_count
        wins += pc.sum(pc.cast(column, pa.int64())).as_py() or 0
    return round(wins / known, 4) if known else None


def write_library_manifest(run_dir: Path, skills: list[str]) -> None:
    """``RUN_DIR/manifest.parquet`` of a library: each skill run's manifest rows with their
    skill, the quarantined records and the unrouted trajectories, streamed."""
    with parts.RowGroupWriter(run_dir / MANIFEST, LIBRARY_MANIFEST_SCHEMA) as out:
        for name in skills:
            for batch in parts.iter_batches(run_dir / SKILLS_DIR / name / MANIFEST):
                table = pa.Table.from_batches([batch]).select(MANIFEST_SCHEMA.names).cast(MANIFEST_SCHEMA)
                out.write_table(_with_skill(table, name))
        for batch in parts.iter_batches(run_dir / QUARANTINE, ["trajectory_id", "source_file", "reason"]):
            rows = [ManifestRow(status="quarantined", **row) for row in batch.to_pylist()]
            out.write_table(_with_skill(to_table(rows, MANIFEST_SCHEMA), ""))
        for batch in parts.iter_batches(run_dir / ROUTES, ["trajectory_id", "skill", "reason"]):
            unrouted = batch.filter(pc.equal(batch.column("skill"), ""))
            if unrouted.num_rows == 0:
                continue
            reasons = dict(zip(unrouted.column("trajectory_id").to_pylist(), unrouted.column("reason").to_pylist()))
            files = {r["id"]: r["source_file"] for r in trajectory_rows(run_dir / TRAJECTORIES, list(reasons), ["id", "source_file"])}
            rows = [ManifestRow(trajectory_id=tid, source_file=files.get(tid, ""), status="unrouted", reason=reason) for tid, reason in reasons.items()]
            out.write_table(_with_skill(to_table(rows, MANIFEST_SCHEMA), ""))


def _with_skill(table: pa.Table, skill: str) -> pa.Table:
    return table.append_column("skill", pa.array([skill] * table.num_rows, pa.string()))


def relative_path(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` (both resolved), as ``library.json`` writes its paths."""
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
