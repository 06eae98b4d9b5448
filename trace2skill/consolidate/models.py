"""What consolidation carries between its steps, and the structured outputs it asks the LLM for
(merges, validation fixes, anchor restatements)."""

from __future__ import annotations

import copy
from typing import Annotated

from pydantic import BaseModel, Field

from trace2skill.analysts.models import ANALYSIS_CHARS_MAX, Cap, EditDraft
from trace2skill.schema import Edit, Lesson, Patch, Usage

MAX_CARRIED_LESSONS = 12  # lessons a merged patch carries up the tree (the most supported inputs' first)
MAX_MERGE_EDITS = 64  # edits one merge or fix answer may hold; the tree never gives one call inputs with more (merge.merge_groups)


class LessonBrief(BaseModel):
    """What a merge is shown of one lesson behind a patch: its words and, for a failure, the
    causes the error analyst found."""

    id: str
    kind: str = ""
    title: str
    content: str = ""
    causes: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, lesson: Lesson) -> LessonBrief:
        causes = [
            ": ".join(part for part in (str(c.get("title", "")).strip(), str(c.get("explanation", "")).strip()) if part)
            for c in lesson.metadata.get("failure_causes", [])
            if isinstance(c, dict)
        ]
        return cls(id=lesson.id, kind=lesson.kind, title=lesson.title, content=lesson.content, causes=[c for c in causes if c])


class Dropped(BaseModel):
    """Content left out of the skill, and why (listed in provenance and the report)."""

    reason: str
    cluster_id: int = -1
    cluster_label: str = ""
    lesson_ids: list[str] = Field(default_factory=list)
    trajectory_ids: list[str] = Field(default_factory=list)
    content: str = ""
    input: int = Field(0, description="The number of the input a merge call dropped (0: not a merger's drop); how the whole-skill pass finds the edit it dropped.")

    @property
    def support(self) -> int:
        return len(set(self.trajectory_ids))


class WholeSkillBrief(BaseModel):
    """Set on the inputs of the whole-skill pass (``consolidate.wholeskill``): the merge then
    uses that pass's prompt, which states this line budget."""

    skill_lines: int = Field(ge=0, description="SKILL.md's lines with all the assembled changes applied.")
    max_skill_lines: int = Field(ge=1, description="The SKILL.md line budget (ConsolidateConfig.max_skill_lines).")


class Proposal(Patch):
    """A patch on its way through consolidation: with the lessons behind it (shown to the
    next merge) and the inputs merges dropped on the way (kept for provenance)."""

    lessons: list[LessonBrief] = Field(default_factory=list)
    alternatives: list[Edit] = Field(default_factory=list, description="Edits of near-duplicates collapsed into it, shown to its first merge.")
    dropped: list[Dropped] = Field(default_factory=list)
    whole_skill: WholeSkillBrief | None = None


class InputDrop(BaseModel):
    """An input patch the merger left out entirely, and its judgement why."""

    input: int = Field(ge=1, description="The number of the input patch, as shown in <patches>.")
    reason: str = Field(max_length=200, description="Why it is not worth keeping.")


class MergeResult(BaseModel):
    """One conflict-free set of edits merged from several patches (or a repaired patch).

    Reasoning comes first, then the resolutions and drops it decides, and the edits last,
    so that a model writes its edits after it has weighed the inputs."""

    analysis: Annotated[str, Cap("analysis", 400)] = Field(
        "", max_length=ANALYSIS_CHARS_MAX, description="Your reasoning, before the answer: which inputs say the same, which conflict and why, what each edit keeps."
    )
    resolutions: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=MAX_MERGE_EDITS, description="Each conflict resolved or advice synthesised, and why."
    )
    dropped: list[InputDrop] = Field(
        default_factory=list, max_length=MAX_MERGE_EDITS, description="Inputs left out entirely (none of their advice is kept), each with the reason."
    )
    edits: list[EditDraft] = Field(max_length=MAX_MERGE_EDITS)


def merge_room(patches: list[Patch]) -> int:
    """How many edits a merge of ``patches`` may return: as many as the inputs hold (at least
    one per input, whose lessons may carry no edit); the tree keeps it within ``MAX_MERGE_EDITS``."""
    return min(MAX_MERGE_EDITS, max(sum(len(p.edits) for p in patches), len(patches)))


def merge_schema_for(schema: dict, patches: list[Patch]) -> dict:
    """``schema`` (an engine schema of ``MergeResult``) narrowed to what a merge of ``patches``
    can need: ``merge_room`` edits, as many resolutions, and drops only of inputs that exist,
    numbered 1..n (the prompt states the same numbers).
    A small model otherwise fills every slot (a 270M merge of two 3-edit patches wrote 12
    edits, most of them repeats) and numbers inputs that are not there. Returns a copy."""
    room = merge_room(patches)
    narrowed = copy.deepcopy(schema)
    props = narrowed["properties"]
    props["edits"]["maxItems"] = room
    props["resolutions"]["maxItems"] = min(props["resolutions"]["maxItems"], room)
    props["dropped"]["maxItems"] = min(props["dropped"]["maxItems"], len(patches))
    drop = narrowed["$defs"]["InputDrop"]["properties"]["input"]
    drop.pop("minimum", None)
    drop["enum"] = list(range(1, len(patches) + 1))
    return narrowed


class RestatedAnchor(BaseModel):
    """The text of a section an edit's paraphrased anchor means, copied exactly."""

    found: bool = Field(description="False if no text of the section is what the anchor means.")
    anchor: str = Field(default="", max_length=400, description="The exact text from the section, copied character for character.")


class RestatedSection(BaseModel):
    """The section title of a file that an edit's misnamed section means, copied exactly."""

    found: bool = Field(description="False if no section of the file is the one the edit means.")
    section: str = Field(default="", max_length=200, description="One of the file's section titles, copied character for character.")


class RestatedEdit(BaseModel):
    """An edit restated without the values of a few trajectories, each named by its role."""

    content: str = Field(description="The edit's content, every listed value replaced by its role; everything else kept.")
    section: str = Field(default="", max_length=200, description="The new section's title restated the same way (add_section only; else empty).")


class ConsolidationStats(BaseModel):
    """What consolidation did, in counts (``consolidation.json``; the run summary holds it)."""

    units: int = 0
    clusters: int = 0
    collapsed: int = 0
    units_merged: int = 0
    skill_clusters: int = 0
    reference_clusters: int = 0
    dropped_clusters: int = 0
    dropped_items: int = 0
    conflicts_resolved: int = 0
    merge_calls: int = 0
    merge_calls_per_level: list[int] = Field(default_factory=list)  # summed over the topic clusters' trees
    failed_merges: int = 0  # tree and cross-topic merges without a usable answer
    forced_merges: int = 0
    final_merge_calls: int = 0  # cross-topic conflict merges and the whole-skill pass's calls
    whole_skill_calls: int = 0  # the whole-skill pass's calls (in final_merge_calls)
    whole_skill_pass: list[str] = Field(default_factory=list)  # what the pass did, or why it was skipped or failed
    fix_calls: int = 0
    failed_fixes: int = 0  # validation fix calls without a usable answer
    demoted: int = 0
    anchor_repairs: int = 0  # anchors matched to the span they meant (fuzzy or restated)
    anchor_restate_calls: int = 0  # LLM calls asked to restate an anchor no span matched
    folded_lines: int = 0  # lines left out because their file already had them
    merger_dropped: int = 0  # inputs a merge left out, with its stated reason
    refused_by_reason: dict[str, int] = Field(default_factory=dict)  # the guards' refusals: "quotes the grader", "instance detail", "noise"
    instance_restated: int = 0  # edits the guard's restatement round cleared of instance detail
    instance_restate_calls: int = 0  # LLM calls of that round (one per edit carrying instance detail), in merge_usage
    model_review_calls: int = 0  # LLM calls of the safety model reviewer (``safety.model_review``), in merge_usage
    merge_usage: Usage = Field(default_factory=Usage)  # the merge, fix, model-review and instance-restatement calls'
    usage: Usage = Field(default_factory=Usage)  # every LLM call: merge_usage and the anchor restatements
