"""Structured outputs the analysts ask the LLM for, and the schema each engine is given.

Every string and list is capped. The pydantic models carry the most any backend may be
given (they validate every answer); :func:`engine_schema` narrows the JSON schema an
engine decodes against to the run's :class:`OutputLimits` (short for the embedded 270M
model, room for code blocks and tables on real models) and to S0's section titles. So
engines with constrained decoding (llama.cpp grammars, vLLM, OpenAI ``response_format``)
cannot run away, and pydantic rejects anything longer from engines that ignore them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from trace2skill.llm.structured import schema_of
from trace2skill.schema import Coverage, Lesson, Patch, SectionOp, Status, Usage
from trace2skill.skill.folder import skill_md_titles

MAX_LESSONS = 3
LessonIndex = Literal[0, 1, 2]  # one value per lesson an analysis may return (MAX_LESSONS)
MAX_EDITS = 3
# The most any backend may be given; a recipe's limits are at most these.
LESSON_CHARS_MAX = 2000
EDIT_CHARS_MAX = 8000
ANCHOR_CHARS_MAX = 600
ANALYSIS_CHARS_MAX = 8000
ROOMY_EDIT_CHARS = 1000  # from this size an edit can hold a code block or a small table
EDIT_PATH_PATTERN = r"^(SKILL[.]md|references/[a-z0-9][a-z0-9-]{0,39}[.]md)$"
REFERENCE_PATH_PATTERN = r"^references/[a-z0-9][a-z0-9-]{0,39}[.]md$"
# Ops on a section that must already exist (all but add_section).
EXISTING_SECTION_OPS = [op for op in get_args(SectionOp) if op != "add_section"]

# An analyst may add files (with their link) but never delete one.
LlmEditOp = Literal[SectionOp, "create"]


@dataclass(frozen=True)
class Cap:
    """Marks a string field whose length the run's :class:`OutputLimits` set (``<kind>_chars``).

    The model's own JSON schema shows ``default`` (short) as the field's ``maxLength``, so an
    engine given a schema without :func:`engine_schema` gets a small one (a llama.cpp grammar
    of an 8,000-character string is too large to build); pydantic still accepts the
    generous cap the field declares.
    """

    kind: Literal["lesson", "edit", "anchor", "analysis"]
    default: int

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict:
        schema = handler(core_schema)
        schema["maxLength"] = self.default
        return schema


class OutputLimits(BaseModel):
    """How much room a backend's answers get: characters per lesson, per edit, per anchor, and
    whether the answer opens with free-text reasoning (the ``analysis`` field)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lesson_chars: int = Field(600, ge=60, le=LESSON_CHARS_MAX, description="Characters of one lesson's content.")
    edit_chars: int = Field(2000, ge=100, le=EDIT_CHARS_MAX, description="Characters of one edit's content (code blocks and tables fit from ~1000).")
    anchor_chars: int = Field(300, ge=40, le=ANCHOR_CHARS_MAX, description="Characters of an edit's anchor (the existing text it points at).")
    analysis: bool = Field(True, description="Ask for free-text reasoning first, before the structured answer.")
    analysis_chars: int = Field(4000, ge=200, le=ANALYSIS_CHARS_MAX, description="Characters of that reasoning.")


# The embedded 270M model writes one or two lines well and wanders beyond; real models get room.
SHORT_LIMITS = OutputLimits(lesson_chars=240, edit_chars=300, anchor_chars=100, analysis=False)
LONG_LIMITS = OutputLimits()


def default_limits(backend: str) -> OutputLimits:
    """The limits a backend gets when the recipe sets none: short for ``embedded``, long otherwise."""
    return SHORT_LIMITS if backend == "embedded" else LONG_LIMITS


class LessonDraft(BaseModel):
    """A lesson as the model writes it; ids and provenance are added by code."""

    title: str = Field(min_length=3, max_length=60, description="Short imperative title.")
    description: str = Field(max_length=160, description="When an agent should apply this lesson, stated generically: no names, ids or values.")
    content: Annotated[str, Cap("lesson", 240)] = Field(min_length=10, max_length=LESSON_CHARS_MAX, description="The guidance, phrased for future tasks.")
    topic: str = Field(min_length=2, max_length=30, description="2-5 generic words naming the situation the lesson covers, e.g. 'booking changes': no names, ids or values.")
    coverage: Coverage = Field(
        description="Does the skill already say this? covered: yes, and the agent did not follow it; partial: in part or too vaguely; missing: no."
    )


class EditDraft(BaseModel):
    """An edit as the model writes it (see ``trace2skill.schema.Edit`` for the semantics)."""

    op: LlmEditOp
    # A pattern, not just a description: engines then cannot emit any other path at all.
    path: str = Field(default="SKILL.md", pattern=EDIT_PATH_PATTERN, description="SKILL.md or references/<name>.md")
    section: str = Field(max_length=60, description="The '## ' heading the edit targets (or adds).")
    anchor: Annotated[str, Cap("anchor", 100)] = Field(
        default="", max_length=ANCHOR_CHARS_MAX, description="Existing text of the section, copied exactly, to insert near or replace."
    )
    content: Annotated[str, Cap("edit", 300)] = Field(max_length=EDIT_CHARS_MAX, description="Markdown text to add.")
    reason: str = Field(default="", max_length=100, description="Why this edit helps.")


class AnalystEdit(EditDraft):
    """An analyst's edit, tied to the lesson it serves by that lesson's index in ``lessons``."""

    # An enum, not a bounded integer: llama.cpp's grammar enforces the values of an enum but
    # not an integer's bounds, and a small model otherwise writes indices past the lessons.
    lesson: LessonIndex = Field(description="Index (from 0) of the lesson in 'lessons' this edit serves.")


class FailureCause(BaseModel):
    """One cause of a failure, tied to the steps that show it."""

    title: str = Field(min_length=3, max_length=60)
    description: str = Field(max_length=160, description="What went wrong, in one sentence.")
    steps: list[int] = Field(max_length=4, description="Indices of the steps that show it.")
    explanation: Annotated[str, Cap("lesson", 240)] = Field(max_length=LESSON_CHARS_MAX, description="What the agent did and why it led to the failure.")


def cited_step(metadata: dict[str, Any] | str | None) -> int | None:
    """The first step a lesson's analysis cites, from the evidence ``analyze`` keeps in the
    lesson's metadata (a dict, or the JSON text of a ``lessons.parquet`` row): its
    ``failure_causes``' steps, else the ``divergence_step`` from a successful sibling;
    None when it cites none (a success lesson) or the metadata is not an object."""
    if not isinstance(metadata, dict):
        try:
            metadata = json.loads(metadata or "{}")
        except ValueError:
            return None
        if not isinstance(metadata, dict):
            return None
    causes = metadata.get("failure_causes")
    steps = [s for cause in causes if isinstance(cause, dict) for s in cause.get("steps") or []] if isinstance(causes, list) else []
    steps.append(metadata.get("divergence_step"))
    return next((s for s in steps if isinstance(s, int) and not isinstance(s, bool) and s >= 0), None)


class ErrorAnalysis(BaseModel):
    """What the error analyst returns for one failed trajectory."""

    analysis: Annotated[str, Cap("analysis", 400)] = Field(
        "", max_length=ANALYSIS_CHARS_MAX, description="Your reasoning, before the answer: what happened, the root cause, what the skill says."
    )
    explained: bool = Field(description="False if the failure cannot be causally explained from the trajectory.")
    failure_causes: list[FailureCause] = Field(default_factory=list, max_length=2)
    lessons: list[LessonDraft] = Field(default_factory=list, max_length=MAX_LESSONS)
    edits: list[AnalystEdit] = Field(default_factory=list, max_length=MAX_EDITS)


class SuccessAnalysis(BaseModel):
    """What the success analyst returns for one successful trajectory."""

    analysis: Annotated[str, Cap("analysis", 400)] = Field(
        "", max_length=ANALYSIS_CHARS_MAX, description="Your reasoning, before the answer: what made the run work, what the skill says."
    )
    solution_path: list[Annotated[str, Field(max_length=160)]] = Field(max_length=6, description="The steps that mattered, in order.")
    lessons: list[LessonDraft] = Field(default_factory=list, max_length=MAX_LESSONS)
    edits: list[AnalystEdit] = Field(default_factory=list, max_length=MAX_EDITS)


def _models(output: type[BaseModel]) -> list[type[BaseModel]]:
    """``output`` and every model nested in its fields, each once."""
    found: list[type[BaseModel]] = []

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp in found:
                return
            found.append(tp)
            for field in tp.model_fields.values():
                visit(field.annotation)
        for arg in get_args(tp):
            visit(arg)

    visit(output)
    return found


def _apply_caps(model: type[BaseModel], node: dict, limits: OutputLimits) -> None:
    for name, field in model.model_fields.items():
        cap = next((m for m in field.metadata if isinstance(m, Cap)), None)
        if cap is None or name not in node.get("properties", {}):
            continue
        if cap.kind == "analysis" and not limits.analysis:
            del node["properties"][name]
            node["required"] = [r for r in node.get("required", []) if r != name]
        else:
            node["properties"][name]["maxLength"] = getattr(limits, f"{cap.kind}_chars")


def _narrow_sections(draft: dict, titles: list[str]) -> dict:
    """An edit schema whose SKILL.md edits can only name one of S0's ``##`` titles."""

    def variant(ops: list[str], **properties: dict) -> dict:
        narrowed = copy.deepcopy(draft)
        narrowed["properties"]["op"] = {"type": "string", "enum": ops}
        narrowed["properties"].update(properties)
        return narrowed

    return {
        "anyOf": [
            variant(EXISTING_SECTION_OPS, path={"type": "string", "enum": ["SKILL.md"]}, section={"type": "string", "enum": titles}),
            variant(EXISTING_SECTION_OPS, path={"type": "string", "pattern": REFERENCE_PATH_PATTERN}),
            variant(["add_section", "create"]),
        ]
    }


@lru_cache(maxsize=32)
def engine_schema(output: type[BaseModel], limits: OutputLimits, skill_md: str = "") -> dict:
    """The JSON schema an engine decodes ``output`` against, for a run's ``limits`` and S0.

    Works for any output model (the analysts', consolidation's ``MergeResult``): every
    field marked with :class:`Cap` gets the limit's length (the ``analysis`` field is left
    out when ``limits.analysis`` is off), and every edit (an :class:`EditDraft` or a
    subclass) of an existing SKILL.md section can only name one of the ``##`` titles of
    ``skill_md`` (S0's SKILL.md text or a ``skill_prompt_view``), so a small model cannot
    aim an edit at a section that is not there. New sections and files, and edits in
    ``references/``, keep free titles. The pydantic model is unchanged: this only narrows
    what the engine may write. Cached (every analysis of a run asks for the same few
    schemas); callers must not modify the returned dict.
    """
    schema = schema_of(output)
    titles = skill_md_titles(skill_md) if skill_md else []
    defs = schema.get("$defs", {})
    for model in _models(output):
        node = schema if model is output else defs.get(model.__name__)
        if node is None:
            continue
        _apply_caps(model, node, limits)
        if titles and issubclass(model, EditDraft):
            defs[model.__name__] = _narrow_sections(node, titles)
    return schema


class AnalysisResult(BaseModel):
    """What one trajectory yielded; ``status`` is its manifest status."""

    trajectory_id: str
    source_file: str = ""
    status: Status
    reason: str = ""
    lessons: list[Lesson] = Field(default_factory=list)
    patch: Patch | None = None
    usage: Usage = Field(default_factory=Usage)
    sibling_id: str = ""  # the successful run of the same task the failure was contrasted with
    turns: int = 0  # agentic mode: turns of the loop
    tool_errors: int = 0  # agentic mode: actions answered with an error
    verified: str = ""  # the diagnosis's check: passed / failed / unchecked (analysts/check.py); "" until settled
    outcome_source: str = ""  # label | grader | signal | judged; "" when the outcome stayed unknown
    content_hash: str = ""  # the analysed trajectory's (schema.Trajectory.content_hash), set by the analysis stage
    notes: list[str] = Field(default_factory=list)  # e.g. siblings skipped, with the reason
