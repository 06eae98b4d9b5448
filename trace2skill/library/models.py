"""What routing reads (a trajectory's task and fields, the library's skills) and what it decides."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TaskRecord(BaseModel):
    """One trajectory as routing sees it: its task text (redacted upstream) and its fields
    (metadata values and labels columns, flattened to strings)."""

    id: str
    task: str
    source_format: str
    fields: dict[str, str] = Field(default_factory=dict)


class ExistingSkill(BaseModel):
    """A skill of the library given with ``--skills``: its folder name and its description."""

    name: str
    description: str


class SkillRoute(BaseModel):
    """One skill of the library and the trajectories routed to it."""

    skill: str  # folder name (kebab-case, a valid skill name)
    group: str  # the group's key: the field value, or "cluster-<i>"
    matched: str | None = None  # the existing skill it deepens, None for a new skill
    match_score: float | None = None  # cosine of that skill's description to the group's task centroid
    description: str  # the existing description when matched, else one written from the keywords
    trajectory_ids: list[str]
    keywords: list[str] = Field(default_factory=list)  # distinctive terms of its tasks
    note: str = ""  # why a group that fitted an existing skill became a new one, and what joined it


class Unrouted(BaseModel):
    """A trajectory no skill takes, and why."""

    trajectory_id: str
    reason: str


class Overlap(BaseModel):
    """Two skills whose descriptions each claim the other's tasks."""

    a: str
    b: str
    share: float  # the smaller of the two shares of tasks claimed
    reason: str


class Routing(BaseModel):
    """Every trajectory in one skill or in ``unrouted``, and how the groups were formed."""

    skills: list[SkillRoute]
    unrouted: list[Unrouted]
    criterion: str
    overlaps: list[Overlap] = Field(default_factory=list)

    def skill_of(self) -> dict[str, str]:
        """Each routed trajectory id and the name of its skill."""
        return {tid: route.skill for route in self.skills for tid in route.trajectory_ids}
