"""What ``trace2skill plan --library`` adds: the skills the pool would be routed to, and each
skill's analysis and merge calls, from the routing of the scanned tasks and the pool's plan;
with ``--update PREVIOUS_LIBRARY``, each skill's seen, changed and new trajectories."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from trace2skill.library.models import Overlap, Routing, SkillRoute
from trace2skill.run.options import RunOptions
from trace2skill.run.plan import Plan, merge_tree
from trace2skill.run.update import NO_PREVIOUS, UpdateCounts, split_against


class SkillPlan(BaseModel):
    """One skill of the planned library."""

    skill: str
    group: str
    origin: str  # deepened (an existing skill of --skills), updated (a previous library's skill) or created
    trajectories: int
    analysis_calls: int
    merge_calls: int  # the more of the two merge trees (all units in one topic, or spread over max_clusters)
    update: UpdateCounts | None = None  # plan --library --update: its seen, changed and new; its calls and a full run's


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
        lines += [f"{s.skill}: {s.update.line()}" for s in self.skills if s.update]
        return "\n".join(lines)

    def update_split(self, previous: str) -> UpdateCounts:
        """The skills' seen, changed and new trajectories summed: the pool's split in a library update."""
        counts = [s.update for s in self.skills if s.update]
        return UpdateCounts(previous=previous, **{k: sum(getattr(c, k) for c in counts) for k in ("seen", "changed", "new")})


def library_plan(routing: Routing, plan: Plan, cfg: RunOptions, scanned: pa.Table | None = None, previous_runs: dict[str, Path] | None = None) -> LibraryPlan:
    """Each routed skill's share of the pool's analysis calls (the pool's calls per
    trajectory), and its own merge tree (each skill consolidates its own lessons). With
    ``scanned`` (the pool's ids and content hashes) in a library update, a skill matched to one
    of ``previous_runs`` (the previous library's skills' runs) makes only its changed and new
    trajectories' calls; a new skill makes them all."""
    per_trajectory = plan.analysis_calls / plan.trajectories if plan.trajectories else 0.0
    skills = []
    for route in routing.skills:
        calls = round(len(route.trajectory_ids) * per_trajectory)
        previous = (previous_runs or {}).get(route.matched or "")
        update = None if scanned is None else skill_split(scanned, route, previous, calls)
        units = round((update.calls if update else calls) * plan.lessons_per_trajectory)
        trees = (merge_tree(units, cfg.consolidate.max_clusters, cfg.consolidate.fan_in), merge_tree(units, 1, cfg.consolidate.fan_in))
        skills.append(
            SkillPlan(
                skill=route.skill,
                group=route.group,
                origin="updated" if previous else "deepened" if route.matched else "created",
                trajectories=len(route.trajectory_ids),
                analysis_calls=update.calls if update else calls,
                merge_calls=max(t.calls for t in trees),
                update=update,
            )
        )
    return LibraryPlan(criterion=routing.criterion, skills=skills, unrouted=len(routing.unrouted), overlaps=routing.overlaps)


def skill_split(scanned: pa.Table, route: SkillRoute, previous_run: Path | None, full_calls: int) -> UpdateCounts:
    """The seen, changed and new trajectories of ``route`` against its previous run (none: all
    new), and its share of ``full_calls`` (a full run's) that the update makes."""
    mine = scanned.filter(pc.is_in(scanned["id"], value_set=pa.array(route.trajectory_ids, pa.string())))
    counts = split_against(mine, previous_run) if previous_run else UpdateCounts(previous=NO_PREVIOUS, new=mine.num_rows)
    share = (counts.changed + counts.new) / mine.num_rows if mine.num_rows else 0.0
    return counts.model_copy(update={"calls": round(full_calls * share), "full_calls": full_calls})
