"""Cross-topic conflicts: skill clusters whose edits clash go to one LLM merge together.

Two clusters clash when their edits touch the same span, add the same new section, or say
the same guidance with opposite polarity in one section. Only such groups are merged;
everything else reaches assembly as its cluster left it.
"""

from __future__ import annotations

from itertools import combinations

from trace2skill.consolidate.contradict import contradicts, lines
from trace2skill.consolidate.merge import MergeFn, TreeStats
from trace2skill.consolidate.models import Dropped
from trace2skill.consolidate.reduce import ClusterResult
from trace2skill.schema import Edit
from trace2skill.skill.conflicts import Target, find_conflicts
from trace2skill.skill.model import normalize_title
from trace2skill.skill.paths import relpath_or_none


def resolve_cross_conflicts(clusters: list[ClusterResult], merge: MergeFn | None) -> tuple[list[ClusterResult], TreeStats, list[Dropped]]:
    """Merge each group of skill clusters whose edits clash into one (one LLM call per group).

    A failed merge leaves the clusters as they were; apply then withholds the clashing
    edits and reports them. Inputs the merger drops are returned with its reasons."""
    stats = TreeStats()
    skill = [c for c in clusters if c.tier == "skill" and c.patches]
    groups = _clash_groups(skill)
    if not groups or merge is None:
        return clusters, stats, []
    merged_ids: set[int] = set()
    out: list[ClusterResult] = []
    dropped: list[Dropped] = []
    for group in groups:
        members = [c for c in skill if c.cluster_id in group]
        outcome = merge([p for c in members for p in c.patches])
        stats.merge_calls += 1
        stats.usage = stats.usage + outcome.usage
        if outcome.patch is None:
            stats.failed_merges += 1
            continue
        merged_ids |= group
        top = max(members, key=lambda c: (c.support, -c.cluster_id))
        dropped += [d.model_copy(update={"cluster_id": top.cluster_id}) for d in outcome.patch.dropped]
        out.append(
            top.model_copy(
                update={
                    "patches": [outcome.patch.model_copy(update={"dropped": []})],
                    "rare": [p for c in members for p in c.rare],
                    "support": len({t for c in members for t in c.trajectory_ids}),
                    "lesson_ids": sorted({l for c in members for l in c.lesson_ids}),
                    "trajectory_ids": sorted({t for c in members for t in c.trajectory_ids}),
                    "resolutions": [r for c in members for r in c.resolutions]
                    + [f"across topics {', '.join(repr(c.label) for c in members)}: {line}" for line in _new_lines(outcome.patch.notes, members)],
                }
            )
        )
    return [c for c in clusters if c.cluster_id not in merged_ids] + out, stats, dropped


def _clash_groups(clusters: list[ClusterResult]) -> list[set[int]]:
    parent = {c.cluster_id: c.cluster_id for c in clusters}

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in combinations(clusters, 2):
        if _clash(a, b):
            parent[root(a.cluster_id)] = root(b.cluster_id)
    groups: dict[int, set[int]] = {}
    for c in clusters:
        groups.setdefault(root(c.cluster_id), set()).add(c.cluster_id)
    return [g for g in groups.values() if len(g) > 1]


def _clash(a: ClusterResult, b: ClusterResult) -> bool:
    ea = [e for p in a.patches for e in p.edits]
    eb = [e for p in b.patches for e in p.edits]
    targets = [_target(i, e) for i, e in enumerate(ea + eb)]
    found = find_conflicts([t for t in targets if t is not None])
    if any(i < len(ea) for i in found) and any(i >= len(ea) for i in found):
        return True
    for x in ea:
        for y in eb:
            if relpath_or_none(x.path) != relpath_or_none(y.path):
                continue
            if x.op == y.op == "add_section" and normalize_title(x.section or "") == normalize_title(y.section or ""):
                return True
            same_section = normalize_title(x.section or "") == normalize_title(y.section or "")
            if same_section and any(contradicts(a, b) for a in lines(x) for b in lines(y)):
                return True
    return False


def _target(index: int, edit: Edit) -> Target | None:
    path = relpath_or_none(edit.path)
    if path is None:
        return None
    return Target(index=index, edit=edit, path=path, section=edit.section if edit.op not in ("create", "delete_file") else None)


def _new_lines(notes: str, members: list[ClusterResult]) -> list[str]:
    old = {r for c in members for r in c.resolutions}
    return [line for line in notes.splitlines() if line.strip() and line not in old]
