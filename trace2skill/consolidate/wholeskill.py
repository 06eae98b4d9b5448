"""The whole-skill pass: one merge over every skill-tier change across topics.

Topic clusters are merged on their own and meet at assembly only when their edits clash
(``crossmerge``), so compatible redundancy across topics would reach the skill twice. This
pass shows one merge call all skill-tier edits at once (prompt ``whole_skill.md``), one
input per edit with its topic, support and lessons, and asks it to drop cross-topic
duplicates and the losing side of contradictions (each with its reason, like any merge's
``dropped``) and to return what it keeps, one edit per kept input, in reading order.

The answer is mapped back onto the topics, so each keeps its own part, provenance, tier
and place in the size rules: a returned edit replaces the kept input it matches best (same
file and section, then the closest wording, rapidfuzz); a kept input whose lines another
returned edit holds is served by it (its evidence joins that edit's topic); a kept input
the answer neither holds nor drops stays as it was. Too many edits for one call are split
by section, a section too large for one call is skipped with the reason, and a failed call
leaves its edits as assembled (both recorded); nothing is truncated.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from rapidfuzz import fuzz

from trace2skill.consolidate.merge import MergeFn, TreeStats, as_proposal
from trace2skill.consolidate.models import (
    MAX_MERGE_EDITS,
    Dropped,
    Proposal,
    WholeSkillBrief,
)
from trace2skill.consolidate.reduce import ClusterResult
from trace2skill.schema import Edit
from trace2skill.skill.model import normalize_title
from trace2skill.skill.once import normalise
from trace2skill.skill.paths import relpath_or_none

RESOLUTION_PREFIX = "whole-skill pass: "  # how the pass's resolutions start in provenance's conflict rows
UNREVIEWED = 1e9  # answer positions start far below this; edits the pass did not review keep their order after them


class Slot(BaseModel):
    """One skill-tier edit where it sits: its topic cluster, patch and place in the patch."""

    cluster: int  # index into the pass's skill clusters
    patch: int
    index: int
    edit: Edit

    def section(self) -> tuple[str, str]:
        return place(self.edit)


def place(edit: Edit) -> tuple[str, str]:
    """The file and (normalised) section an edit changes; a whole-file edit has no section."""
    path = relpath_or_none(edit.path) or edit.path
    return path, "" if edit.op in ("create", "delete_file") else normalize_title(edit.section or "")


class PassResult(BaseModel):
    """The clusters after the pass, the order of their parts, what it dropped and its record."""

    clusters: list[ClusterResult]
    order: list[int] = Field(default_factory=list, description="Skill cluster ids in the order of the pass's answer.")
    dropped: list[Dropped] = Field(default_factory=list)
    stats: TreeStats = Field(default_factory=TreeStats)
    notes: list[str] = Field(default_factory=list)


class _Answer(BaseModel):
    """What the pass's successful calls decided, by slot: the slots they reviewed, the edits
    each kept slot holds now (with their place in the answer), the slot whose edit serves
    it, the drops, and the resolutions by cluster id."""

    reviewed: set[int] = Field(default_factory=set)
    placed: dict[int, list[tuple[float, Edit]]] = Field(default_factory=dict)
    served_by: dict[int, int] = Field(default_factory=dict)
    dropped: list[Dropped] = Field(default_factory=list)
    resolutions: dict[int, list[str]] = Field(default_factory=dict)
    restored: int = 0


def whole_skill_pass(clusters: list[ClusterResult], merge: MergeFn | None, *, skill_lines: int, max_skill_lines: int) -> PassResult:
    """One merge over all skill-tier edits of ``clusters`` (see the module doc); runs when
    there is a ``merge`` and more than one skill cluster with edits."""
    skill = sorted((c for c in clusters if c.tier == "skill" and c.patches), key=lambda c: (-c.support, c.cluster_id))  # the assembly's order
    if merge is None or len(skill) < 2:
        return PassResult(clusters=clusters)
    slots = [Slot(cluster=k, patch=i, index=j, edit=e) for k, c in enumerate(skill) for i, p in enumerate(c.patches) for j, e in enumerate(p.edits)]
    calls, notes = plan_calls(slots)
    brief = WholeSkillBrief(skill_lines=skill_lines, max_skill_lines=max_skill_lines)
    stats, answer = TreeStats(), _Answer()
    while calls:
        call = calls.pop(0)
        outcome = merge(_inputs(skill, slots, call, brief))
        stats.merge_calls += 1
        stats.usage = stats.usage + outcome.usage
        if outcome.patch is not None:
            _take(outcome.patch, call, slots, skill, answer, offset=float(stats.merge_calls * 2 * (MAX_MERGE_EDITS + 1)))
            continue
        if outcome.oversize and len({slots[s].section() for s in call}) > 1:
            sections = list(dict.fromkeys(slots[s].section() for s in call))
            half = set(sections[: len(sections) // 2])
            calls[:0] = [[s for s in call if slots[s].section() in half], [s for s in call if slots[s].section() not in half]]
            continue
        stats.failed_merges += int(not outcome.oversize)
        notes.append(f"not reviewed ({len(call)} edits of {_places(slots, call)}): {outcome.error or 'no answer'}; they stay as assembled")
    notes[:0] = [_summary(slots, answer)] if answer.reviewed else []
    return _rebuilt(clusters, skill, slots, answer, stats, notes)


def plan_calls(slots: list[Slot]) -> tuple[list[list[int]], list[str]]:
    """The slots in calls of at most ``MAX_MERGE_EDITS`` edits, cut between sections (all of
    them in one call when they fit); a section with more edits than that is not reviewed (noted).
    A call whose edits all come from one topic is not made: its topic's own merge saw them."""
    sections: dict[tuple[str, str], list[int]] = {}
    for s, slot in enumerate(slots):
        sections.setdefault(slot.section(), []).append(s)
    notes = [
        f"not reviewed (section {key[1] or key[0]!r} of {key[0]}): {len(group)} edits exceed one call's room of {MAX_MERGE_EDITS}"
        for key, group in sections.items()
        if len(group) > MAX_MERGE_EDITS
    ]
    calls: list[list[int]] = []
    for group in (g for g in sections.values() if len(g) <= MAX_MERGE_EDITS):
        if calls and len(calls[-1]) + len(group) <= MAX_MERGE_EDITS:
            calls[-1].extend(group)
        else:
            calls.append(list(group))
    return [sorted(c) for c in calls if len({slots[s].cluster for s in c}) > 1], notes


def _inputs(skill: list[ClusterResult], slots: list[Slot], call: list[int], brief: WholeSkillBrief) -> list[Proposal]:
    """The call's slots as merge inputs: each edit with its patch's evidence, and the patch's
    lessons only on its first input of the call (a topic's lessons are shown once)."""
    out, shown = [], set()
    for s in call:
        slot = slots[s]
        cluster, patch = skill[slot.cluster], as_proposal(skill[slot.cluster].patches[slot.patch])
        first = (slot.cluster, slot.patch) not in shown
        shown.add((slot.cluster, slot.patch))
        out.append(
            Proposal(
                id=f"{patch.id}-e{slot.index}", edits=[slot.edit], lesson_ids=patch.lesson_ids, trajectory_ids=patch.trajectory_ids,
                support=patch.support or cluster.support, topic=cluster.label, lessons=patch.lessons if first else [], whole_skill=brief,
            )
        )  # fmt: skip
    return out


def _take(merged: Proposal, call: list[int], slots: list[Slot], skill: list[ClusterResult], answer: _Answer, offset: float) -> None:
    """Record one call's answer by slot: the drops (each with its cluster), the returned edits
    on the kept inputs they match, the kept inputs other edits serve or the answer left out."""
    answer.reviewed.update(call)
    gone: set[int] = set()
    for d in merged.dropped:
        if 1 <= d.input <= len(call):
            s = call[d.input - 1]
            gone.add(s)
            c = skill[slots[s].cluster]
            answer.dropped.append(d.model_copy(update={"cluster_id": c.cluster_id, "cluster_label": c.label}))
    kept = [s for s in call if s not in gone]
    owner = attribute(merged.edits, [slots[s].edit for s in kept])
    for j, k in owner.items():
        answer.placed.setdefault(kept[k], []).append((offset + j, merged.edits[j].model_copy(update={"lesson_ids": slots[kept[k]].edit.lesson_ids})))
    for s in kept:
        if s in answer.placed:
            continue
        server = next((j for j, e in enumerate(merged.edits) if _holds(e, slots[s].edit)), None)
        if server is None:  # neither kept nor dropped by the answer: nothing is lost
            answer.placed[s] = [(offset + len(merged.edits) + call.index(s), slots[s].edit)]
            answer.restored += 1
        else:
            answer.served_by[s] = kept[owner[server]]
    top = max((skill[slots[s].cluster] for s in call), key=lambda c: (c.support, -c.cluster_id))
    answer.resolutions.setdefault(top.cluster_id, []).extend(RESOLUTION_PREFIX + line for line in merged.notes.splitlines() if line.strip())


def attribute(returned: list[Edit], kept: list[Edit]) -> dict[int, int]:
    """Returned edit index -> kept input index: pairs by best match, one to one first (same
    file and section, then the closest wording); a returned edit left over goes to its best match."""
    if not kept:
        return {}
    scores = {(j, k): _score(r, e) for j, r in enumerate(returned) for k, e in enumerate(kept)}
    owner: dict[int, int] = {}
    for j, k in sorted(scores, key=lambda jk: (-scores[jk], jk)):
        if j not in owner and k not in owner.values():
            owner[j] = k
    for j in range(len(returned)):
        owner.setdefault(j, max(range(len(kept)), key=lambda k: (scores[(j, k)], -k)))
    return owner


def _score(returned: Edit, original: Edit) -> float:
    return 100.0 * (place(returned) == place(original)) + 10.0 * (returned.op == original.op) + fuzz.token_set_ratio(returned.content, original.content)


def _holds(returned: Edit, original: Edit) -> bool:
    """Whether ``returned`` holds every line of ``original`` (normalised), in any place."""
    have = {normalise(line) for line in returned.content.splitlines() if line.strip()}
    want = {normalise(line) for line in original.content.splitlines() if line.strip()}
    return bool(want) and want <= have


def _rebuilt(clusters: list[ClusterResult], skill: list[ClusterResult], slots: list[Slot], answer: _Answer, stats: TreeStats, notes: list[str]) -> PassResult:
    """``clusters`` with the skill clusters' patches holding the edits the pass placed, in
    its order (edits it did not review stay, after them); a patch left without edits goes,
    and the evidence of a served input joins the topic of the edit serving it."""
    placed = {s: answer.placed.get(s, []) if s in answer.reviewed else [(UNREVIEWED + s, slots[s].edit)] for s in range(len(slots))}
    updated: dict[int, ClusterResult] = {}
    for k, c in enumerate(skill):
        patches = []
        for i, p in enumerate(c.patches):
            mine = sorted((pos, n, e) for n, (s, slot) in enumerate(enumerate(slots)) if (slot.cluster, slot.patch) == (k, i) for pos, e in placed[s])
            if mine:
                patches.append(p.model_copy(update={"edits": [e for _, _, e in mine]}))
        updated[c.cluster_id] = c.model_copy(update={"patches": patches, "resolutions": c.resolutions + answer.resolutions.get(c.cluster_id, [])})
    for s, server in answer.served_by.items():
        src, dst = slots[s], slots[server]
        if src.cluster != dst.cluster:
            updated[skill[dst.cluster].cluster_id] = _with_evidence(updated[skill[dst.cluster].cluster_id], skill[src.cluster].patches[src.patch])
    first = {skill[k].cluster_id: min((pos for s, slot in enumerate(slots) if slot.cluster == k for pos, _ in placed[s]), default=UNREVIEWED * 2) for k in range(len(skill))}
    order = sorted((cid for cid, c in updated.items() if c.patches), key=lambda cid: (first[cid], -updated[cid].support, cid))
    return PassResult(clusters=[updated.get(c.cluster_id, c) for c in clusters], order=order, dropped=answer.dropped, stats=stats, notes=notes)


def _with_evidence(cluster: ClusterResult, served: Proposal) -> ClusterResult:
    """``cluster`` with the lessons and trajectories of ``served`` (an input one of its edits serves) added."""
    lesson_ids = sorted({*cluster.lesson_ids, *served.lesson_ids})
    trajectory_ids = sorted({*cluster.trajectory_ids, *served.trajectory_ids})
    return cluster.model_copy(update={"lesson_ids": lesson_ids, "trajectory_ids": trajectory_ids, "support": len(trajectory_ids)})


def _places(slots: list[Slot], call: list[int]) -> str:
    return ", ".join(dict.fromkeys(f"{path} § {section}" if section else path for path, section in (slots[s].section() for s in call)))


def _summary(slots: list[Slot], answer: _Answer) -> str:
    topics = len({slots[s].cluster for s in answer.reviewed})
    return (
        f"reviewed {len(answer.reviewed)} edits of {topics} topics: {len(answer.dropped)} dropped with the merger's reason, "
        f"{len(answer.served_by)} served by another kept edit, {answer.restored} neither kept nor dropped (kept as they were)"
    )
