"""Read a run dir into plain data: the summary, aggregates of the Parquet outputs, both skills.

The manifest and the lessons can hold millions of rows, so they are aggregated with polars
while they are read (status counts, top reasons, lesson kinds per topic cluster) and never
turned into Python objects row by row. Provenance rows are few (one per edit, dropped item,
conflict; the folded near-duplicates are only counted) but a kept row lists every lesson
and trajectory behind its part, so they are loaded as models with a few example ids each,
and the distinct lessons and trajectories of each place are counted by polars
(``place_evidence``). Refusals and the two skills are small and loaded as models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from trace2skill.consolidate.provenance import CONTENT_KINDS, ProvenanceRow, collapsed_count, read_provenance
from trace2skill.report.evidence import CitedLesson, place_keys, place_lessons
from trace2skill.run.summary import RunSummary
from trace2skill.safety.trace import SAFETY_JSON, SafetyRecord
from trace2skill.skill.apply import Refusal
from trace2skill.skill.folder import SkillError, load_skill
from trace2skill.skill.model import Skill

# The order statuses and tiers are shown in, everywhere in the report.
STATUSES = ("analyzed", "no_lesson", "quarantined", "failed", "skipped", "seen")
TIERS = ("skill", "reference", "refused", "dropped")
EXAMPLE_IDS = 3


@dataclass(frozen=True)
class ReasonCount:
    """How many trajectories ended in ``status`` for the same ``reason``, with a few of their ids."""

    status: str
    reason: str
    count: int
    examples: list[str]


@dataclass(frozen=True)
class TopicCluster:
    """One topic cluster of consolidation: where its content went and the lessons behind it."""

    cluster_id: int
    label: str
    tier: str  # skill | reference | refused | dropped
    support: int
    lessons_by_kind: dict[str, int]
    trajectories: int  # distinct trajectories behind its lessons
    example_ids: list[str]  # the first EXAMPLE_IDS of them, sorted

    @property
    def lessons(self) -> int:
        return sum(self.lessons_by_kind.values())


@dataclass
class RunData:
    """Everything the report shows, read from one run dir."""

    run_dir: Path
    summary: RunSummary
    consolidation: dict[str, Any]
    reasons: list[ReasonCount]
    clusters: list[TopicCluster]
    provenance: list[ProvenanceRow]  # all but the ``collapsed`` rows (only counted: ``collapsed``), with EXAMPLE_IDS ids each
    refusals: list[Refusal]
    s0: Skill | None
    skill: Skill | None
    notes: list[str] = field(default_factory=list)  # what could not be read, said in the report
    safety: SafetyRecord | None = None  # run/safety.json (runs before the safety review have none)
    collapsed: int = 0  # near-duplicates folded into other lessons
    places: dict[tuple[str, str], PlaceEvidence] = field(default_factory=dict)  # what stands behind each place of the skill (``place_evidence``)
    place_lessons: dict[tuple[str, str], list[CitedLesson]] = field(default_factory=dict)  # a few lessons behind each place (``evidence.place_lessons``)
    lessons_path: Path | None = None  # lessons.parquet, when the run has it


def load_run(run_dir: Path, *, top_reasons: int = 10) -> RunData:
    """Load ``run_dir`` (written by ``distill``). ``summary.json`` is required; a missing
    optional file leaves its part of the report empty and adds a line to ``notes``."""
    run_dir = Path(run_dir)
    summary_path = run_dir / "summary.json"
    if not summary_path.is_file():
        raise FileNotFoundError(f"{run_dir}: no summary.json; is this the run dir of a distill run?")
    summary = RunSummary.model_validate_json(summary_path.read_text())
    notes: list[str] = []
    has_provenance = _present(run_dir, "provenance.parquet", notes)
    provenance = read_provenance(run_dir / "provenance.parquet", collapsed=False, max_ids=EXAMPLE_IDS) if has_provenance else []
    lessons = run_dir / "lessons.parquet" if _present(run_dir, "lessons.parquet", notes) else None
    evidence = cluster_evidence(run_dir / "provenance.parquet", lessons) if has_provenance else {}
    return RunData(
        run_dir=run_dir,
        summary=summary,
        consolidation=json.loads((run_dir / "consolidation.json").read_text()) if _present(run_dir, "consolidation.json", notes) else {},
        reasons=_reasons(run_dir / "manifest.parquet", top_reasons) if _present(run_dir, "manifest.parquet", notes) else [],
        clusters=topic_clusters(provenance, evidence),
        provenance=provenance,
        refusals=[Refusal.model_validate(r) for r in json.loads((run_dir / "refusals.json").read_text())] if _present(run_dir, "refusals.json", notes) else [],
        s0=_skill(run_dir / "s0", "starting skill (s0/)", notes),
        skill=_skill(_skill_dir(run_dir, summary.skill_dir), "final skill", notes) if summary.skill_dir else None,
        notes=notes,
        safety=SafetyRecord.model_validate_json((run_dir / SAFETY_JSON).read_text()) if (run_dir / SAFETY_JSON).is_file() else None,
        collapsed=collapsed_count(run_dir / "provenance.parquet") if has_provenance else 0,
        places=place_evidence(pl.scan_parquet(run_dir / "provenance.parquet")) if has_provenance else {},
        place_lessons=place_lessons(run_dir / "provenance.parquet", lessons) if has_provenance else {},
        lessons_path=lessons,
    )


@dataclass
class Evidence:
    """What a topic cluster's rows of provenance (its near-duplicates' included) stand on."""

    lessons_by_kind: dict[str, int]
    trajectories: int
    example_ids: list[str]


def cluster_evidence(provenance: Path, lessons: Path | None) -> dict[int, Evidence]:
    """Per cluster id: its distinct lessons by kind (a kind from ``lessons``, "unknown" for
    a lesson not there) and its distinct trajectories, over every provenance row of the
    cluster. Aggregated by polars, not as Python sets of every id and a dict of every
    lesson's kind: at 1M trajectories the collapsed rows carry ~2M lesson ids (the report:
    9-11 s, against 31-37 s with the sets)."""
    rows = pl.scan_parquet(provenance).filter(pl.col("cluster_id") >= 0)
    cluster_lessons = rows.select("cluster_id", pl.col("lesson_ids").alias("id")).explode("id").drop_nulls("id").unique()
    kinds = pl.scan_parquet(lessons).select("id", "kind").unique(subset="id", keep="last") if lessons else pl.LazyFrame(schema={"id": pl.String, "kind": pl.String})
    by_kind = cluster_lessons.join(kinds, on="id", how="left").group_by("cluster_id", pl.col("kind").fill_null("unknown")).len().collect()
    trajectories = (
        rows.select("cluster_id", pl.col("trajectory_ids").alias("id"))
        .explode("id")
        .drop_nulls("id")
        .unique()
        .group_by("cluster_id")
        .agg(pl.len().alias("n"), pl.col("id").sort().head(EXAMPLE_IDS).alias("examples"))
        .collect()
    )
    out = {cid: Evidence({}, n, examples) for cid, n, examples in trajectories.iter_rows()}
    for cid, kind, n in by_kind.sort("kind").iter_rows():
        out.setdefault(cid, Evidence({}, 0, [])).lessons_by_kind[kind] = n
    return out


@dataclass(frozen=True)
class PlaceEvidence:
    """The distinct lessons and trajectories behind one place of the skill."""

    lessons: int
    trajectories: int
    example_ids: list[str]  # the first EXAMPLE_IDS trajectories, sorted


def place_evidence(rows: pl.LazyFrame) -> dict[tuple[str, str], PlaceEvidence]:
    """Per place (``place_key``) of the content rows of provenance ``rows``: their distinct
    lessons and trajectories. Counted by polars: a place's rows can come from several topics
    whose ids overlap, and at 1M trajectories they hold millions of ids."""
    content = rows.filter(pl.col("kind").is_in(CONTENT_KINDS))
    keys = place_keys(content)
    placed = content.join(keys, on=["path", "section"])
    place = ["place_path", "place_section"]

    def distinct(column: str) -> pl.LazyFrame:
        return placed.select(*place, pl.col(column).alias("id")).explode("id").drop_nulls("id").unique()

    trajectories = distinct("trajectory_ids").group_by(place).agg(pl.len().alias("trajectories"), pl.col("id").sort().head(EXAMPLE_IDS).alias("examples"))
    lessons = distinct("lesson_ids").group_by(place).agg(pl.len().alias("lessons"))
    found = keys.select(place).unique().join(trajectories, on=place, how="left").join(lessons, on=place, how="left").collect()
    return {
        (path, section): PlaceEvidence(lessons or 0, trajectories or 0, examples or [])
        for path, section, trajectories, examples, lessons in found.select(*place, "trajectories", "examples", "lessons").iter_rows()
    }


def topic_clusters(provenance: list[ProvenanceRow], evidence: dict[int, Evidence]) -> list[TopicCluster]:
    """The topic clusters named in ``provenance``, by support (highest first).

    A cluster's lessons and trajectories are its ``evidence`` (``cluster_evidence``: every
    row of the cluster, kept, dropped and folded near-duplicates, so every lesson of the run
    is counted once). Its tier is the best place any of its content reached: SKILL.md, else
    references/, else refused by the guards at apply time, else dropped by consolidation."""
    labels: dict[int, str] = {}
    tiers: dict[int, str] = {}
    support: dict[int, int] = {}
    for row in provenance:
        if row.cluster_id < 0:  # the References scaffold belongs to no topic
            continue
        cid = row.cluster_id
        labels.setdefault(cid, row.cluster_label)
        if row.kind in CONTENT_KINDS or row.kind == "refused":
            tier = {"skill": "skill", "refused": "refused"}.get(row.kind, "reference")
            tiers[cid] = min(tiers.get(cid, tier), tier, key=TIERS.index)
            support[cid] = max(support.get(cid, 0), row.support)
    clusters = []
    for cid, label in labels.items():
        found = evidence.get(cid, Evidence({}, 0, []))
        clusters.append(
            TopicCluster(
                cluster_id=cid,
                label=label,
                tier=tiers.get(cid, "dropped"),
                # a dropped cluster has no content row; its evidence is all it had
                support=support.get(cid, found.trajectories),
                lessons_by_kind=found.lessons_by_kind,
                trajectories=found.trajectories,
                example_ids=found.example_ids,
            )
        )
    return sorted(clusters, key=lambda c: (-c.support, c.cluster_id))


def _reasons(manifest: Path, top: int) -> list[ReasonCount]:
    """The ``top`` most frequent reasons per non-analysed status (most frequent first)."""
    frame = (
        pl.scan_parquet(manifest)
        .filter(pl.col("status") != "analyzed")
        .group_by("status", "reason")
        .agg(pl.len().alias("count"), pl.col("trajectory_id").sort().head(EXAMPLE_IDS).alias("examples"))
        .sort(["status", "count", "reason"], descending=[False, True, False])
        .group_by("status", maintain_order=True)
        .head(top)
        .collect()
    )
    rows = [ReasonCount(status=r["status"], reason=r["reason"], count=r["count"], examples=r["examples"]) for r in frame.iter_rows(named=True)]
    order = {s: i for i, s in enumerate(STATUSES)}
    return sorted(rows, key=lambda r: (order.get(r.status, len(order)), -r.count, r.reason))


def _present(run_dir: Path, name: str, notes: list[str]) -> bool:
    if (run_dir / name).exists():  # a file, or a folder of parts (lessons.parquet)
        return True
    notes.append(f"{name} is missing from the run dir; its part of the report is empty")
    return False


def _skill_dir(run_dir: Path, recorded: str) -> Path:
    """The final skill's folder: as recorded, else beside the run dir under the same name.

    ``skill_dir`` is recorded as given to the run (relative to its working directory, or
    absolute on its machine); an output folder that was moved or copied whole still has the
    skill next to ``run/``."""
    path = Path(recorded)
    beside = run_dir.parent / path.name
    return beside if not path.is_dir() and beside.is_dir() else path


def _skill(path: Path, what: str, notes: list[str]) -> Skill | None:
    try:
        return load_skill(path)
    except SkillError as error:
        notes.append(f"{what} could not be loaded, so the skill diff is left out: {error}")
        return None
