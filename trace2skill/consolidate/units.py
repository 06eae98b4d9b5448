"""The unit that consolidation embeds, clusters and merges: one lesson with the edits it motivated.

An analyst returns, per trajectory, up to 3 lessons (each with its own topic) and one patch
whose edits may serve different lessons. Merging whole trajectory patches would drag every
edit of a patch into the topic of its first lesson, so the patch is split: each edit is
attributed to one lesson of the same trajectory, and the lesson plus its edits is a
``Unit``. Edits of a trajectory that gave no lesson become units of their own. See
``docs/consolidation.md``.
"""

from __future__ import annotations

import re
from collections import defaultdict

from pydantic import BaseModel, Field

from trace2skill.consolidate.models import LessonBrief, Proposal
from trace2skill.schema import Edit, Lesson, Patch, stable_id
from trace2skill.skill.links import mentions

_WORD = re.compile(r"[a-z0-9_]+")


class Unit(BaseModel):
    """A lesson (or an orphan edit) with its edits and the evidence behind it.

    After near-duplicate collapse a unit stands for several lessons: ``lesson_ids`` and
    ``trajectory_ids`` are the union, ``support`` the number of distinct trajectories.
    """

    id: str
    text: str = Field(description="What is embedded: title, description and content of the lesson.")
    title: str = ""
    description: str = ""
    topic: str = "general"
    kinds: list[str] = Field(default_factory=list, description="Lesson kinds behind the unit (failure/success).")
    edits: list[Edit] = Field(default_factory=list)
    alternatives: list[Edit] = Field(default_factory=list, description="Distinct edits of near-duplicates folded into this unit, for the merge.")
    lesson_ids: list[str] = Field(default_factory=list)
    trajectory_ids: list[str] = Field(default_factory=list)
    lessons: list[LessonBrief] = Field(default_factory=list, description="The lesson's words and causes, shown to merges.")

    @property
    def support(self) -> int:
        return len(set(self.trajectory_ids))

    def to_patch(self) -> Proposal:
        """The unit as a patch for the merge tree (provenance and lessons carried along)."""
        return Proposal(
            id=self.id,
            edits=list(self.edits),
            alternatives=list(self.alternatives),
            lesson_ids=sorted(set(self.lesson_ids)),
            trajectory_ids=sorted(set(self.trajectory_ids)),
            support=self.support,
            topic=self.topic,
            lessons=list(self.lessons),
        )


def lesson_text(title: str, description: str, content: str) -> str:
    """The text a lesson is embedded by."""
    return "\n".join(part.strip() for part in (title, description, content) if part and part.strip())


def split_units(patches: list[Patch], lessons: list[Lesson]) -> list[Unit]:
    """One unit per lesson, holding the edits of its trajectory's patch attributed to it.

    Attribution per edit: the lesson the analyst named (``Edit.lesson_ids``, from the
    lesson index it gives each edit). Only an edit without one (runs from before that
    field) is matched by text: the lesson whose title is the edit's ``reason``; else, when
    a patch has as many edits as its trajectory has lessons, the lesson at the same
    position; else the lesson sharing most words with the edit. A ``create`` of
    ``references/x.md`` follows the edit that links it, so the pair stays in one unit.
    """
    by_traj: dict[str, list[Lesson]] = defaultdict(list)
    for lesson in lessons:
        by_traj[lesson.trajectory_id].append(lesson)
    units: dict[str, Unit] = {}
    for lesson in lessons:
        units[lesson.id] = Unit(
            id=stable_id(lesson.id, prefix="u-"),
            text=lesson_text(lesson.title, lesson.description, lesson.content),
            title=lesson.title,
            description=lesson.description,
            topic=lesson.topic or "general",
            kinds=[lesson.kind],
            lesson_ids=[lesson.id],
            trajectory_ids=[lesson.trajectory_id],
            lessons=[LessonBrief.of(lesson)],
        )
    orphans: list[Unit] = []
    for patch in patches:
        traj_lessons = [l for t in patch.trajectory_ids for l in by_traj.get(t, [])]
        owners = _attribute(patch.edits, traj_lessons)
        for edit, owner in zip(patch.edits, owners):
            if owner is None:
                orphans.append(
                    Unit(
                        id=stable_id(patch.id, edit.model_dump_json(), prefix="u-"),
                        text=lesson_text(edit.reason, edit.section or "", edit.content),
                        title=edit.reason or (edit.section or ""),
                        topic=patch.topic or "general",
                        edits=[edit],
                        lesson_ids=list(patch.lesson_ids),
                        trajectory_ids=list(patch.trajectory_ids),
                    )
                )
            else:
                units[owner.id].edits.append(edit)
    return list(units.values()) + orphans


def _attribute(edits: list[Edit], lessons: list[Lesson]) -> list[Lesson | None]:
    if not lessons:
        return [None] * len(edits)
    titles = {l.title.strip().casefold(): l for l in lessons}
    by_id = {l.id: l for l in lessons}
    owners: list[Lesson | None] = []
    for i, edit in enumerate(edits):
        owner = next((by_id[lid] for lid in edit.lesson_ids if lid in by_id), None)  # the analyst's own attribution
        if owner is None:
            owner = titles.get(edit.reason.strip().casefold())
        if owner is None and len(edits) == len(lessons):
            owner = lessons[i]
        if owner is None:
            owner = max(lessons, key=lambda l: _overlap(edit, l))  # first wins a tie
        owners.append(owner)
    for i, edit in enumerate(edits):  # keep each create with the edit that links it
        if edit.op == "create":
            for j, other in enumerate(edits):
                if j != i and other.op != "create" and mentions(other.content, edit.path.lstrip("./")):
                    owners[i] = owners[j]
                    break
    return owners


def _overlap(edit: Edit, lesson: Lesson) -> int:
    a = set(_WORD.findall(f"{edit.reason} {edit.content}".lower()))
    b = set(_WORD.findall(f"{lesson.title} {lesson.content}".lower()))
    return len(a & b)
