"""Assemble the cluster patches into the final patch p*, within the method's size rules.

Order: SKILL.md content of the ``skill`` clusters by support (highest first, so new
sections land in that order), then the ``References`` section if S0 has none, then one
``create references/<topic>.md`` + SKILL.md link pair (named and described from the topic,
``consolidate.naming``) per piece of reference content (a
``reference`` cluster, the one-offs of a ``skill`` cluster, a cluster moved out of
SKILL.md), highest support first. Before that, one final merge pass resolves
cross-section conflicts: only the clusters whose edits clash (same span, same new
section, or the same guidance with opposite polarity) go to the LLM together; then the
whole-skill pass (``consolidate.wholeskill``) shows one merge every skill-tier edit across
topics, to drop cross-topic duplicates and contradictions and to order the parts.

The size rules are enforced here, not left to the fixer: while the patched SKILL.md would
pass its line budget, the lowest-support skill cluster moves to references/; a reference
file takes blocks only up to its line budget; new reference files stop at the cap on
their number (S0's count). What does not fit is dropped with the reason, and the reason
is kept in provenance.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, Field

from trace2skill.consolidate.cluster import slug
from trace2skill.consolidate.crossmerge import resolve_cross_conflicts
from trace2skill.consolidate.merge import MergeFn, TreeStats
from trace2skill.consolidate.naming import ReferenceName, Vocabulary, reference_name
from trace2skill.consolidate.reduce import ClusterResult, Dropped
from trace2skill.consolidate.wholeskill import whole_skill_pass
from trace2skill.schema import Edit, Patch, stable_id
from trace2skill.skill.apply import apply_patch
from trace2skill.skill.model import SKILL_MD, Skill, normalize_title
from trace2skill.skill.paths import relpath_or_none

REFERENCE_SECTIONS = ("references", "reference files", "further reading", "resources", "additional resources")
_MOVABLE = frozenset({"append_to_section", "insert_after", "insert_before", "add_section"})


class Part(BaseModel):
    """A self-contained slice of p*: one cluster's edits (or the References scaffold)."""

    cluster_id: int
    label: str
    tier: str  # skill | reference | scaffold
    support: int = 0
    lesson_ids: list[str] = Field(default_factory=list)
    trajectory_ids: list[str] = Field(default_factory=list)
    edits: list[Edit] = Field(default_factory=list)
    note: str = ""

    def to_patch(self) -> Patch:
        return Patch(
            id=f"part-{self.cluster_id}-{self.tier}",
            edits=list(self.edits),
            lesson_ids=list(self.lesson_ids),
            trajectory_ids=list(self.trajectory_ids),
            support=self.support,
            topic=self.label,
        )


class Assembly(BaseModel):
    patch: Patch
    parts: list[Part] = Field(default_factory=list)
    clusters: list[ClusterResult] = Field(default_factory=list, description="The clusters in p*, after the cross-section merge.")
    dropped: list[Dropped] = Field(default_factory=list)
    resolutions: list[str] = Field(default_factory=list)
    demoted: list[int] = Field(default_factory=list)
    skill_md_lines: int = 0
    stats: TreeStats = Field(default_factory=TreeStats)  # the cross-topic merges' and the whole-skill pass's calls
    whole_skill_calls: int = 0
    whole_skill_notes: list[str] = Field(default_factory=list, description="What the whole-skill pass did, or why it skipped or failed on which edits.")


def assemble(
    s0: Skill,
    clusters: list[ClusterResult],
    *,
    max_skill_lines: int = 480,
    max_reference_files: int = 10,
    max_reference_lines: int = 300,
    merge: MergeFn | None = None,
    whole_skill: bool = True,
) -> Assembly:
    """p* from the reduced clusters within the size rules (see the module doc); ``whole_skill``
    switches the whole-skill pass (it runs when there is a ``merge`` and two skill topics)."""
    active = [c for c in clusters if c.tier != "drop" and (c.patches or c.rare)]
    active, stats, merge_dropped = resolve_cross_conflicts(active, merge)
    tiers = {c.cluster_id: c.tier for c in active}
    demoted: list[int] = []
    budget = ReferenceBudget(files=max_reference_files - len(s0.reference_paths()), lines=max_reference_lines)
    review = None
    if whole_skill:
        lines = len(apply_patch(s0, combine(build_parts(s0, active, tiers, demoted, budget)[0])).skill.skill_md().splitlines())
        review = whole_skill_pass(active, merge, skill_lines=lines, max_skill_lines=max_skill_lines)
        active, stats, merge_dropped = review.clusters, stats + review.stats, merge_dropped + review.dropped
    while True:
        parts, dropped = build_parts(s0, active, tiers, demoted, budget, order=review.order if review else [])
        lines = len(apply_patch(s0, combine(parts)).skill.skill_md().splitlines())
        movable = [c for c in active if tiers[c.cluster_id] == "skill" and c.patches]
        if lines <= max_skill_lines or not movable:
            break
        lowest = min(movable, key=lambda c: (c.support, -c.cluster_id))
        tiers[lowest.cluster_id] = "reference"
        demoted.append(lowest.cluster_id)
    parts, overflow = fit_reference_files(s0, parts, max_reference_lines)
    resolutions = [r for c in active for r in c.resolutions]
    return Assembly(
        patch=combine(parts), parts=parts, clusters=active, dropped=merge_dropped + dropped + overflow, resolutions=resolutions, demoted=demoted,
        skill_md_lines=lines, stats=stats, whole_skill_calls=review.stats.merge_calls if review else 0, whole_skill_notes=review.notes if review else [],
    )  # fmt: skip


class ReferenceBudget(BaseModel):
    """How many new reference files p* may create, and how long each may be."""

    files: int
    lines: int


def combine(parts: list[Part]) -> Patch:
    """One patch of all parts' edits in order, with the union of their provenance."""
    trajectory_ids = sorted({t for p in parts for t in p.trajectory_ids})
    return Patch(
        id=stable_id(*[str(p.cluster_id) for p in parts], prefix="final-"),
        edits=[e for p in parts for e in p.edits],
        lesson_ids=sorted({l for p in parts for l in p.lesson_ids}),
        trajectory_ids=trajectory_ids,
        support=len(trajectory_ids),
        topic="final",
    )


def build_parts(
    s0: Skill, clusters: list[ClusterResult], tiers: dict[int, str], demoted: list[int], budget: ReferenceBudget, *, order: list[int] | None = None
) -> tuple[list[Part], list[Dropped]]:
    """The skill parts by support (in ``order``, the whole-skill pass's, where it gives one),
    then the reference parts (with the References scaffold when S0 has no such section)
    within the reference budget."""
    ranked = sorted(clusters, key=lambda c: (-c.support, c.cluster_id))
    rank = {cid: i for i, cid in enumerate(order or [])}
    parts = [
        _part(c, "skill", [e for p in c.patches for e in p.edits])
        for c in sorted(ranked, key=lambda c: rank.get(c.cluster_id, len(rank)))
        if tiers[c.cluster_id] == "skill" and c.patches
    ]
    pieces = [_reference_piece(c, tiers[c.cluster_id], c.cluster_id in demoted) for c in ranked]
    pieces = sorted((p for p in pieces if p is not None), key=lambda p: (-p.support, p.cluster_id))
    dropped: list[Dropped] = []
    if not pieces:
        return parts, dropped
    section = next((s.title for s in s0.body.sections if normalize_title(s.title) in REFERENCE_SECTIONS), None)
    link_section = section or "References"
    taken = set(s0.files)
    files_left = budget.files
    refs: list[Part] = []
    for piece in pieces:
        pair, kept, lost = to_reference(piece, link_section, taken, budget.lines)
        if pair and files_left <= 0:
            reason = f"reference budget full: at most {budget.files + len(s0.reference_paths())} reference files (S0 has {len(s0.reference_paths())})"
            lost.append(piece.dropped(reason, pair[0].content))
            pair = []
        elif pair:
            taken.add(relpath_or_none(pair[0].path) or pair[0].path)
            files_left -= 1
        if pair or kept:
            refs.append(piece.part(pair + kept))
        dropped.extend(lost)
    if section is None and any(e.op == "create" for p in refs for e in p.edits):
        intro = "Detail for less common situations. Read a file when its line below matches the task."
        parts.append(Part(cluster_id=-1, label="references", tier="scaffold", edits=[Edit(op="add_section", section=link_section, content=intro, reason="index of the reference files")]))
    return parts + refs, dropped


class ReferencePiece(BaseModel):
    """Content bound for references/: a cluster's patches (or its one-offs) and their evidence."""

    cluster: ClusterResult
    patches: list[Patch]
    support: int
    note: str = ""

    @property
    def cluster_id(self) -> int:
        return self.cluster.cluster_id

    @property
    def reason(self) -> str:
        return f"topic '{self.cluster.label}' backed by {self.support} trajectories"

    def trajectory_ids(self) -> list[str]:
        return sorted({t for p in self.patches for t in p.trajectory_ids})

    def name(self) -> ReferenceName:
        """The file's topic and "Read it when" line (``consolidate.naming``), from the
        cluster's topics and its lessons' descriptions, checked against their own words."""
        c = self.cluster
        words = Vocabulary(
            [*(text for p in self.patches for l in p.lessons for text in (l.title, l.content, *l.causes)), *(e.content for p in self.patches for e in p.edits)]
        )
        return reference_name(c.label, Counter(p.topic.strip().lower() for p in self.patches if p.topic.strip()), [c.description], words)

    def part(self, edits: list[Edit]) -> Part:
        c = self.cluster
        lesson_ids = sorted({l for p in self.patches for l in p.lesson_ids})
        note = "; ".join(n for n in (self.note, self.name().note) if n)
        return Part(cluster_id=c.cluster_id, label=c.label, tier="reference", support=self.support, lesson_ids=lesson_ids, trajectory_ids=self.trajectory_ids(), edits=edits, note=note)

    def dropped(self, reason: str, content: str) -> Dropped:
        c = self.cluster
        lesson_ids = sorted({l for p in self.patches for l in p.lesson_ids})
        return Dropped(reason=reason, cluster_id=c.cluster_id, cluster_label=c.label, lesson_ids=lesson_ids, trajectory_ids=self.trajectory_ids(), content=content[:500])


def _reference_piece(c: ClusterResult, tier: str, demoted: bool) -> ReferencePiece | None:
    if tier == "reference":
        patches = [*c.patches, *c.rare]
        note = "moved to references/: SKILL.md line budget" if demoted else ""
    else:
        patches = list(c.rare)
        note = f"one-off(s) kept by the merger: below the SKILL.md support of topic '{c.label}'"
    if not patches:
        return None
    return ReferencePiece(cluster=c, patches=patches, support=len({t for p in patches for t in p.trajectory_ids}), note=note)


def to_reference(piece: ReferencePiece, link_section: str, taken: set[str], max_lines: int = 300) -> tuple[list[Edit], list[Edit], list[Dropped]]:
    """The piece's SKILL.md additions as a ``create references/<slug>.md`` + link line pair
    (empty when there are none), the edits kept as they are, and what is dropped.

    Additions aimed at other files are kept as they are; edits that change or delete
    existing text are dropped: they need the support of a SKILL.md topic. Blocks that
    would take the file past ``max_lines`` are dropped, with that reason."""
    cluster = piece.cluster
    name = piece.name()
    path = f"references/{slug(name.topic, f'topic-{cluster.cluster_id}')}.md"
    if path in taken:
        path = path.removesuffix(".md") + f"-{cluster.cluster_id}.md"
    title = name.topic[:1].upper() + name.topic[1:]
    header = f"# {title}\n\nRead this when {name.when}\n"
    blocks: dict[str, list[str]] = {}
    kept: list[Edit] = []
    dropped: list[Dropped] = []
    for edit in (e for p in piece.patches for e in p.edits):
        target = relpath_or_none(edit.path)
        if edit.op in _MOVABLE and target == SKILL_MD:
            sec = edit.section or "Notes"
            grown = {**blocks, sec: [*blocks.get(sec, []), edit.content.strip()]}
            if len(_reference_body(header, grown).splitlines()) > max_lines:
                dropped.append(piece.dropped(f"{path} would pass its {max_lines}-line budget", edit.content))
                continue
            blocks = grown
        elif edit.op in _MOVABLE or (edit.op == "create" and target != SKILL_MD):
            kept.append(edit)
        else:
            dropped.append(piece.dropped(f"{edit.op} changes existing text; topic '{cluster.label}' has support {piece.support}, below the SKILL.md bar", edit.content))
    if not blocks:
        return [], kept, dropped
    link = f"- [{path}]({path}): {title}. Read it when {name.when}"
    pair = [
        Edit(op="create", path=path, content=_reference_body(header, blocks), reason=piece.reason),
        Edit(op="append_to_section", section=link_section, content=link, reason=piece.reason),
    ]
    return pair, kept, dropped


def _reference_body(header: str, blocks: dict[str, list[str]]) -> str:
    return header + "\n" + "\n\n".join(f"## {sec}\n\n" + "\n\n".join(texts) for sec, texts in blocks.items()) + "\n"


def fit_reference_files(s0: Skill, parts: list[Part], max_lines: int) -> tuple[list[Part], list[Dropped]]:
    """Drop additions to reference files that p* would take past ``max_lines`` (and past
    their S0 length), lowest-support part and last edit first, each with the reason."""
    dropped: list[Dropped] = []
    while True:
        files = apply_patch(s0, combine(parts)).skill.files
        over = [p for p, text in files.items() if p.startswith("references/") and len(text.splitlines()) > max(max_lines, len(s0.files.get(p, "").splitlines()))]
        if not over:
            return parts, dropped
        path = over[0]
        owner = min(
            (p for p in parts if any(relpath_or_none(e.path) == path and e.op in _MOVABLE for e in p.edits)), key=lambda p: (p.support, -p.cluster_id), default=None
        )
        if owner is None:  # only a create of its own: to_reference already kept that within budget
            return parts, dropped
        index = max(i for i, e in enumerate(owner.edits) if relpath_or_none(e.path) == path and e.op in _MOVABLE)
        edit = owner.edits[index]
        dropped.append(
            Dropped(
                reason=f"{path} would pass its {max_lines}-line budget", cluster_id=owner.cluster_id, cluster_label=owner.label,
                lesson_ids=owner.lesson_ids, trajectory_ids=owner.trajectory_ids, content=edit.content[:500],
            )
        )  # fmt: skip
        parts = [p.model_copy(update={"edits": [e for i, e in enumerate(p.edits) if i != index]}) if p is owner else p for p in parts]


def _part(c: ClusterResult, tier: str, edits: list[Edit], note: str = "") -> Part:
    return Part(
        cluster_id=c.cluster_id,
        label=c.label,
        tier=tier,
        support=c.support,
        lesson_ids=c.lesson_ids,
        trajectory_ids=c.trajectory_ids,
        edits=edits,
        note=note,
    )
