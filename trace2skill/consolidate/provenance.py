"""``run/provenance.parquet``: which lessons and trajectories stand behind every part of the skill.

One row per edit of p* (``kind`` = the tier it went to: ``skill``, ``reference``,
``scaffold``; or ``refused`` with the guard's reason), one per dropped piece of content
(``dropped``: by the merger's stated judgement, the reference budget or a line budget),
one per near-duplicate folded into another lesson (``collapsed``), one per conflict the
merges resolved (``conflict``), one per anchor the guarded apply matched to the span it
meant (``repaired``: before and after) and one per added line left out because its file
already had it (``folded``). ``explain`` answers "which trajectories taught the skill
this line?" from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from trace2skill.consolidate.assemble import Assembly
from trace2skill.consolidate.finalize import FinalSkill
from trace2skill.consolidate.reduce import ClusterResult, Dropped
from trace2skill.consolidate.sources import LessonSource, lesson_sources
from trace2skill.skill.folder import load_skill
from trace2skill.skill.model import SKILL_MD, normalize_title, parse_markdown
from trace2skill.skill.paths import PathRefused, contained_relpath

PROVENANCE_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("path", pa.string()),
        ("section", pa.string()),
        ("cluster_id", pa.int64()),
        ("cluster_label", pa.string()),
        ("support", pa.int64()),
        ("lesson_ids", pa.list_(pa.string())),
        ("trajectory_ids", pa.list_(pa.string())),
        ("content", pa.string()),
        ("reason", pa.string()),
    ]
)
CONTENT_KINDS = ("skill", "reference", "scaffold")
FOLD_BATCH = 65_536  # folded rows per batch when streaming them


class ProvenanceRow(BaseModel):
    kind: str
    path: str = ""
    section: str = ""
    cluster_id: int = -1
    cluster_label: str = ""
    support: int = 0
    lesson_ids: list[str] = Field(default_factory=list)
    trajectory_ids: list[str] = Field(default_factory=list)
    content: str = ""
    reason: str = ""


def provenance_rows(clusters: list[ClusterResult], assembly: Assembly, final: FinalSkill) -> list[ProvenanceRow]:
    """Every row of ``provenance.parquet`` for one run (see the module doc)."""
    refused: dict[str, list[str]] = {}
    for r in final.refused:
        refused.setdefault(r.edit.model_dump_json(), []).append(r.reason)
    rows = []
    for part in assembly.parts:
        for edit in part.edits:
            reasons = refused.get(edit.model_dump_json())
            kind, reason = ("refused", reasons.pop(0)) if reasons else (part.tier, part.note or edit.reason)
            rows.append(
                ProvenanceRow(
                    kind=kind,
                    path=_clean(edit.path),
                    section="" if edit.op in ("create", "delete_file") else (edit.section or ""),
                    cluster_id=part.cluster_id,
                    cluster_label=part.label,
                    support=part.support,
                    lesson_ids=part.lesson_ids,
                    trajectory_ids=part.trajectory_ids,
                    content=edit.content[:2000],
                    reason=reason,
                )
            )
    for c in assembly.clusters:
        rows.extend(_cluster_row("conflict", c, reason=line) for line in c.resolutions)
    for c in clusters:
        for f in c.collapsed:
            rows.append(
                ProvenanceRow(
                    kind="collapsed",
                    cluster_id=c.cluster_id,
                    cluster_label=c.label,
                    support=len(set(f.trajectory_ids)),
                    lesson_ids=f.lesson_ids,
                    trajectory_ids=f.trajectory_ids,
                    content=f.content,
                    reason=collapsed_reason(f.into, f.cosine),
                )
            )
        rows.extend(_dropped_row(d) for d in c.dropped)
    rows.extend(_dropped_row(d) for d in assembly.dropped)
    rows.extend(
        ProvenanceRow(kind="repaired", path=r.path, section=r.section, content=r.after, reason=f"anchor {r.before!r} matched to {r.after!r} ({r.how})")
        for r in final.repairs
    )
    rows.extend(
        ProvenanceRow(kind="folded", path=f.path, content=f.line, reason=f"already in {f.path} as {f.into!r} (ratio {f.score:g}); added once")
        for f in final.folded
    )
    return rows


def collapsed_reason(into: str, cosine: float) -> str:
    return f"near-duplicate of {into} (cosine {cosine}); its evidence counts toward that lesson"


def write_provenance(
    rows: Iterable[ProvenanceRow], path: Path, *, folded: list[Path] = (), labels: dict[int, str] | None = None, carried: Iterable[pa.Table] = ()
) -> None:
    """The ``carried`` tables (an update's previous rows, ``consolidate.carry``), ``rows``, then a
    ``collapsed`` row per unit of the ``folded`` files (``shards.FOLDED_SCHEMA``, labelled by
    ``labels``: cluster id -> label), streamed batch by batch into one file. ``rows`` is read
    after ``carried``."""
    with pq.ParquetWriter(path, PROVENANCE_SCHEMA) as out:
        for table in carried:
            out.write_table(table)
        out.write_table(pa.Table.from_pylist([r.model_dump() for r in rows], schema=PROVENANCE_SCHEMA))
        for part in folded:
            for batch in pq.ParquetFile(part).iter_batches(batch_size=FOLD_BATCH):
                out.write_table(_collapsed_rows(batch, labels or {}))


def _collapsed_rows(batch: pa.RecordBatch, labels: dict[int, str]) -> pa.Table:
    clusters = batch.column("cluster_id").to_pylist()
    n = len(clusters)
    return pa.table(
        {
            "kind": pa.array(["collapsed"] * n, pa.string()),
            "path": pa.array([""] * n, pa.string()),
            "section": pa.array([""] * n, pa.string()),
            "cluster_id": batch.column("cluster_id"),
            "cluster_label": pa.array([labels.get(c, "") for c in clusters], pa.string()),
            "support": pa.array([len(set(t)) for t in batch.column("trajectory_ids").to_pylist()], pa.int64()),
            "lesson_ids": batch.column("lesson_ids"),
            "trajectory_ids": batch.column("trajectory_ids"),
            "content": batch.column("content"),
            "reason": pa.array([collapsed_reason(i, c) for i, c in zip(batch.column("into").to_pylist(), batch.column("cosine").to_pylist())], pa.string()),
        },
        schema=PROVENANCE_SCHEMA,
    )


def read_provenance(path: Path, *, collapsed: bool = True, max_ids: int | None = None) -> list[ProvenanceRow]:
    """The rows of ``provenance.parquet``; without the ``collapsed`` ones unless asked (there is
    one per folded near-duplicate, so at scale they outnumber all the others: ``collapsed_count``
    and the report's ``cluster_evidence`` read what is needed of them column-wise). With
    ``max_ids``, each row's id lists are cut to their first ``max_ids`` as they are read: a
    kept row of a large run lists every lesson and trajectory behind its part (at 1M
    trajectories, millions of ids over a few dozen rows), and a reader that shows a few
    examples should not hold them all as Python strings."""
    table = pq.read_table(path, filters=None if collapsed else pc.field("kind") != "collapsed")  # filtered batch by batch as read
    if max_ids is not None:
        for name in ("lesson_ids", "trajectory_ids"):
            table = table.set_column(table.schema.get_field_index(name), name, pc.list_slice(table.column(name), 0, max_ids))
    return [ProvenanceRow.model_validate(r) for r in table.to_pylist()]


def collapsed_count(path: Path) -> int:
    """How many near-duplicates were folded (``collapsed`` rows), read from the ``kind`` column."""
    kinds = pq.read_table(path, columns=["kind"]).column("kind")
    return pc.sum(pc.equal(kinds, "collapsed")).as_py() or 0


def _explained_places(
    skill_dir: Path, run_dir: Path, section: str | None, max_lessons: int, earlier: Sequence[Path] = ()
) -> tuple[list[tuple[str, str, list[ProvenanceRow]]], list[ProvenanceRow], dict[str, LessonSource]]:
    """Each section of SKILL.md and each reference file (``section`` filters by title or path,
    case-insensitive) with the provenance rows behind it; all rows; the sources of the first
    ``max_lessons`` lessons of each row, looked up in ``run_dir`` and then in the ``earlier``
    runs an update carried evidence from."""
    rows = read_provenance(Path(run_dir) / "provenance.parquet", collapsed=False)
    wanted_ids = {i for r in rows if r.kind in CONTENT_KINDS for i in r.lesson_ids[:max_lessons]}
    sources: dict[str, LessonSource] = {}
    for folder in (run_dir, *earlier):
        sources.update(lesson_sources(folder, wanted_ids - set(sources)))
    skill = load_skill(skill_dir)
    places: list[tuple[str, str]] = [(SKILL_MD, s.title) for s in skill.body.sections]
    for path in skill.reference_paths():
        places.append((path, ""))
        places.extend((path, s.title) for s in parse_markdown(skill.files[path]).sections)
    wanted = section.casefold().strip() if section else None
    found = []
    for path, title in places:
        label = f"{path} § {title}" if title else path
        if wanted and wanted not in label.casefold():
            continue
        evidence = [r for r in rows if r.kind in CONTENT_KINDS and r.path == path and normalize_title(r.section) == normalize_title(title)]
        found.append((path, title, evidence))
    return found, rows, sources


def explain(skill_dir: Path, run_dir: Path, section: str | None = None, *, max_ids: int = 12, max_lessons: int = 3, earlier: Sequence[Path] = ()) -> str:
    """For each section of SKILL.md and each reference file: the support, lessons and
    trajectories behind it, with the text, task, source file and cited step of its first
    ``max_lessons`` lessons (``section`` filters by title or path, case-insensitive); then
    what was dropped and the conflicts resolved. ``earlier``: the runs an update carried evidence from."""
    places, rows, sources = _explained_places(skill_dir, run_dir, section, max_lessons, earlier)
    out: list[str] = []
    for path, title, evidence in places:
        out.append(f"{path} § {title}" if title else path)
        if not evidence:
            out.append("  no trajectory evidence recorded: from the starting skill" if title or path == SKILL_MD else "  see its sections")
        for r in evidence:
            first = next((line.strip() for line in r.content.splitlines() if line.strip()), "")
            out.append(f"  + {first[:100]}")
            out.append(f"    topic '{r.cluster_label}', support {r.support}, {len(r.lesson_ids)} lesson(s); trajectories: {_ids(r.trajectory_ids, max_ids)}")
            out.extend(f"    {line}" for i in r.lesson_ids[:max_lessons] if i in sources for line in sources[i].lines())
    if section and not out:
        out.append(f"no section or file of {skill_dir} matches {section!r}")
    if not section:
        out.extend(_tail(rows, collapsed_count(Path(run_dir) / "provenance.parquet"), max_ids))
    return "\n".join(out)


def explain_json(skill_dir: Path, run_dir: Path, section: str | None = None, *, max_lessons: int = 3, earlier: Sequence[Path] = ()) -> dict:
    """What :func:`explain` prints, as data: each place with its evidence (every trajectory id,
    the first ``max_lessons`` lessons with their sources), and the refused, dropped and conflict rows."""
    places, rows, sources = _explained_places(skill_dir, run_dir, section, max_lessons, earlier)

    def evidence(r: ProvenanceRow) -> dict:
        lessons = [asdict(sources[i]) for i in r.lesson_ids[:max_lessons] if i in sources]
        return {"content": r.content, "topic": r.cluster_label, "support": r.support, "lesson_ids": r.lesson_ids, "trajectory_ids": r.trajectory_ids, "lessons": lessons}

    def other(kind: str) -> list[dict]:
        return [{"content": r.content, "topic": r.cluster_label, "reason": r.reason, "trajectory_ids": r.trajectory_ids} for r in rows if r.kind == kind]

    return {
        "places": [{"path": path, "section": title, "evidence": [evidence(r) for r in found]} for path, title, found in places],
        "conflicts": other("conflict"),
        "refused": other("refused"),
        "dropped": other("dropped"),
    }


def _tail(rows: list[ProvenanceRow], collapsed: int, max_ids: int) -> list[str]:
    out = []
    conflicts = [r for r in rows if r.kind == "conflict"]
    if conflicts:
        out.append(f"\nconflicts resolved ({len(conflicts)}):")
        out.extend(f"  - [{r.cluster_label}] {r.reason}" for r in conflicts)
    for kind, title in (("refused", "edits refused by the guards"), ("dropped", "content dropped")):
        picked = [r for r in rows if r.kind == kind]
        if picked:
            out.append(f"\n{title} ({len(picked)}):")
            for r in picked:
                first = next((line.strip() for line in r.content.splitlines() if line.strip()), "")
                out.append(f"  - {first[:80]!r}: {r.reason} (trajectories: {_ids(r.trajectory_ids, max_ids)})")
    for kind, what in (("repaired", "anchor(s) matched to the text they meant"), ("folded", "added line(s) left out as already there")):
        if any(r.kind == kind for r in rows):
            out.append(f"\n{sum(r.kind == kind for r in rows)} {what} (kind '{kind}' in provenance.parquet)")
    if collapsed:
        out.append(f"\n{collapsed} near-duplicate lesson(s) folded into others (kind 'collapsed' in provenance.parquet)")
    return out


def _ids(ids: list[str], limit: int) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" (+{len(ids) - limit} more)" if len(ids) > limit else "") if ids else "-"


def _dropped_row(d: Dropped) -> ProvenanceRow:
    return ProvenanceRow(
        kind="dropped",
        cluster_id=d.cluster_id,
        cluster_label=d.cluster_label,
        support=d.support,
        lesson_ids=d.lesson_ids,
        trajectory_ids=d.trajectory_ids,
        content=d.content,
        reason=d.reason,
    )


def _cluster_row(kind: str, c: ClusterResult, reason: str) -> ProvenanceRow:
    return ProvenanceRow(
        kind=kind, cluster_id=c.cluster_id, cluster_label=c.label, support=c.support, lesson_ids=c.lesson_ids, trajectory_ids=c.trajectory_ids, reason=reason
    )


def _clean(path: str) -> str:
    try:
        return contained_relpath(path)
    except PathRefused:
        return path
