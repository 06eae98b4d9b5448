"""What a run changed in the skill: S0 (``run/s0/``) against the written skill, with the evidence.

SKILL.md is compared section by section (``##`` titles, matched ignoring case and
spacing), the other files of the folder file by file. Each change carries the support,
lessons and example trajectories that provenance records for that place
(``load.place_evidence``), so a reader can go from a new line to the trajectories that taught it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from trace2skill.consolidate.provenance import CONTENT_KINDS, ProvenanceRow
from trace2skill.report.evidence import place_key
from trace2skill.report.load import PlaceEvidence
from trace2skill.skill.model import SKILL_MD, Skill, normalize_title

ChangeKind = Literal["added", "changed", "removed", "to references"]
HEAD = "(frontmatter and title)"  # the part of SKILL.md before the first ## section
MAX_DIFF_LINES = 40


@dataclass(frozen=True)
class Change:
    """One section of SKILL.md or one other file that differs between S0 and the result."""

    kind: ChangeKind
    path: str
    section: str  # "" for a whole file
    lines_before: int
    lines_after: int
    diff: list[str]  # unified-diff body lines (" ", "+", "-" prefixed), at most MAX_DIFF_LINES
    support: int  # distinct trajectories
    lessons: int
    example_ids: list[str]  # the first of the trajectories, sorted
    topics: list[str]
    note: str

    @property
    def place(self) -> str:
        return f"{self.path} § {self.section}" if self.section else self.path


def skill_diff(s0: Skill, skill: Skill, provenance: list[ProvenanceRow], places: dict[tuple[str, str], PlaceEvidence]) -> list[Change]:
    """Every changed place, SKILL.md sections first (in the result's order, removed ones
    after), then the other files by path. Unchanged places are left out. ``places``: what
    stands behind each place (``load.place_evidence`` of the same provenance)."""
    evidence = [r for r in provenance if r.kind in CONTENT_KINDS]
    changes = _skill_md_changes(s0, skill, evidence, places)
    for path in sorted(set(s0.files) | set(skill.files)):
        before, after = s0.files.get(path), skill.files.get(path)
        if before is not None and after is not None and _same(before, after):
            continue
        rows = [r for r in evidence if r.path == path]
        kind: ChangeKind = "removed" if after is None else "changed" if before is not None else "added"
        if kind == "added" and rows and all(r.kind == "reference" for r in rows):
            kind = "to references"
        changes.append(_change(kind, path, "", before, after, rows, places.get(place_key(path, ""))))
    return changes


def section_lines(skill: Skill) -> list[tuple[str, int]]:
    """``(title, line count)`` of the head and each ``##`` section of SKILL.md, in order."""
    head, sections = _split(skill)
    return [(HEAD, _count(head))] + [(title, _count(text)) for title, text in sections]


def _skill_md_changes(s0: Skill, skill: Skill, evidence: list[ProvenanceRow], places: dict[tuple[str, str], PlaceEvidence]) -> list[Change]:
    head0, old = _split(s0)
    head1, new = _split(skill)
    before = {normalize_title(t): text for t, text in old}
    after_keys = {normalize_title(t) for t, _ in new}
    changes = []
    if not _same(head0, head1):
        changes.append(_change("changed", SKILL_MD, HEAD, head0, head1, [], None))
    for title, text in new:
        key = normalize_title(title)
        if key in before and _same(before[key], text):
            continue
        rows = [r for r in evidence if r.path == SKILL_MD and normalize_title(r.section) == key]
        changes.append(_change("changed" if key in before else "added", SKILL_MD, title, before.get(key), text, rows, places.get(place_key(SKILL_MD, title))))
    changes.extend(_change("removed", SKILL_MD, t, text, None, [], None) for t, text in old if normalize_title(t) not in after_keys)
    return changes


def _change(kind: ChangeKind, path: str, section: str, before: str | None, after: str | None, rows: list[ProvenanceRow], found: PlaceEvidence | None) -> Change:
    found = found or PlaceEvidence(0, 0, [])
    notes = sorted({r.reason for r in rows if r.kind == "reference" and r.reason})
    return Change(
        kind=kind,
        path=path,
        section=section,
        lines_before=_count(before or ""),
        lines_after=_count(after or ""),
        diff=_diff(before or "", after or ""),
        support=found.trajectories,
        lessons=found.lessons,
        example_ids=found.example_ids,
        topics=sorted({r.cluster_label for r in rows if r.cluster_label}),
        note="; ".join(notes),
    )


def _split(skill: Skill) -> tuple[str, list[tuple[str, str]]]:
    # The head is everything before the first section, frontmatter included, as written.
    text = skill.skill_md()
    head_len = len(text) - sum(len(s.render()) for s in skill.body.sections)
    return text[:head_len], [(s.title, s.render()) for s in skill.body.sections]


def _same(before: str, after: str) -> bool:
    # A section gains a trailing blank line when one is added after it: not a change.
    return before.strip() == after.strip()


def _diff(before: str, after: str) -> list[str]:
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), n=1, lineterm=""))[2:]  # no ---/+++ header
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"... {len(lines) - MAX_DIFF_LINES} more diff lines"]
    return lines


def _count(text: str) -> int:
    return len(text.splitlines())
