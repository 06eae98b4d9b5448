"""What ``trace2skill plan --library`` adds: the skills the pool would be routed to, and each
skill's analysis and merge calls, from the routing of the scanned tasks and the pool's plan."""

from __future__ import annotations

from pydantic import BaseModel, Field

from trace2skill.library.models import Overlap, Routing
from trace2skill.run.options import RunOptions
from trace2skill.run.plan import Plan, merge_tree


class SkillPlan(BaseModel):
    """One skill of the planned library."""

    skill: str
    group: str
    origin: str  # deepened (an existing skill of --skills) or created
    trajectories: int
    analysis_calls: int
    merge_calls: int  # the more of the two merge trees (all units in one topic, or spread over max_clusters)


class LibraryPlan(BaseModel):
    """The library a ``distill --library`` of the same inputs and options would build."""

    criterion: str
    skills: list[SkillPlan]
    unrouted: int
    overlaps: list[Overlap] = Field(default_factory=list)

    def table(self) -> str:
        """A row per skill, then what stays unrouted."""
        width = max([len(s.skill) for s in self.skills] + [5])
        lines = [f"{'skill':<{width}}  origin    trajectories  analysis calls  merge calls"]
        lines += [f"{s.skill:<{width}}  {s.origin:<8}  {s.trajectories:>12,}  {s.analysis_calls:>14,}  {s.merge_calls:>11,}" for s in self.skills]
        lines.append(f"{len(self.skills)} skill(s), {self.unrouted:,} trajectory(ies) unrouted; {self.criterion}")
        lines += [f"overlap: {o.a} and {o.b}: {o.reason}" for o in self.overlaps]
        return "\n".join(lines)


def library_plan(routing: Routing, plan: Plan, cfg: RunOptions) -> LibraryPlan:
    """Each routed skill's share of the pool's analysis calls (the pool's calls per
    trajectory), and its own merge tree (each skill consolidates its own lessons)."""
    per_trajectory = plan.analysis_calls / plan.trajectories if plan.trajectories else 0.0
    skills = []
    for route in routing.skills:
        calls = round(len(route.trajectory_ids) * per_trajectory)
        units = round(calls * plan.lessons_per_trajectory)
        trees = (merge_tree(units, cfg.consolidate.max_clusters, cfg.consolidate.fan_in), merge_tree(units, 1, cfg.consolidate.fan_in))
        skills.append(
            SkillPlan(
                skill=route.skill,
                group=route.group,
                origin="deepened" if route.matched else "created",
                trajectories=len(route.trajectory_ids),
                analysis_calls=calls,
                merge_calls=max(t.calls for t in trees),
            )
        )
    return LibraryPlan(criterion=routing.criterion, skills=skills, unrouted=len(routing.unrouted), overlaps=routing.overlaps)
