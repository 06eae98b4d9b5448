"""Structured outputs the analysts ask the LLM for.

Every string and list is capped: the caps go into the JSON schema, so engines with
constrained decoding (llama.cpp grammars, vLLM, OpenAI ``response_format``) cannot run
away, and pydantic rejects anything longer from engines that ignore them.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, Field

from trace2skill.llm.structured import schema_of
from trace2skill.schema import SectionOp
from trace2skill.skill.folder import skill_md_titles

MAX_LESSONS = 3
MAX_EDITS = 3
EDIT_PATH_PATTERN = r"^(SKILL[.]md|references/[a-z0-9][a-z0-9-]{0,39}[.]md)$"
REFERENCE_PATH_PATTERN = r"^references/[a-z0-9][a-z0-9-]{0,39}[.]md$"
# Ops on a section that must already exist (all but add_section).
EXISTING_SECTION_OPS = [op for op in get_args(SectionOp) if op != "add_section"]

# An analyst may add files (with their link) but never delete one.
LlmEditOp = Literal[SectionOp, "create"]


class LessonDraft(BaseModel):
    """A lesson as the model writes it; ids and provenance are added by code."""

    title: str = Field(min_length=3, max_length=60, description="Short imperative title.")
    description: str = Field(max_length=120, description="When this lesson applies.")
    content: str = Field(min_length=10, max_length=240, description="The guidance, phrased for future tasks.")
    topic: str = Field(min_length=2, max_length=30, description="A short topic label, e.g. 'cancellation'.")


class EditDraft(BaseModel):
    """An edit as the model writes it (see ``trace2skill.schema.Edit`` for the semantics)."""

    op: LlmEditOp
    # A pattern, not just a description: engines then cannot emit any other path at all.
    path: str = Field(default="SKILL.md", pattern=EDIT_PATH_PATTERN, description="SKILL.md or references/<name>.md")
    section: str = Field(max_length=60, description="The '## ' heading the edit targets (or adds).")
    anchor: str = Field(default="", max_length=100, description="Existing text to insert near or replace.")
    content: str = Field(max_length=300, description="Markdown text to add.")
    reason: str = Field(default="", max_length=100, description="Why this edit helps.")


class FailureCause(BaseModel):
    """One cause of a failure, tied to the steps that show it."""

    title: str = Field(min_length=3, max_length=60)
    description: str = Field(max_length=120, description="What went wrong, in one sentence.")
    steps: list[int] = Field(max_length=4, description="Indices of the steps that show it.")
    explanation: str = Field(max_length=240, description="What the agent did and why it led to the failure.")


class ErrorAnalysis(BaseModel):
    """What the error analyst returns for one failed trajectory."""

    explained: bool = Field(description="False if the failure cannot be causally explained from the trajectory.")
    failure_causes: list[FailureCause] = Field(default_factory=list, max_length=2)
    lessons: list[LessonDraft] = Field(default_factory=list, max_length=MAX_LESSONS)
    edits: list[EditDraft] = Field(default_factory=list, max_length=MAX_EDITS)


class SuccessAnalysis(BaseModel):
    """What the success analyst returns for one successful trajectory."""

    solution_path: list[Annotated[str, Field(max_length=100)]] = Field(max_length=6, description="The steps that mattered, in order.")
    lessons: list[LessonDraft] = Field(default_factory=list, max_length=MAX_LESSONS)
    edits: list[EditDraft] = Field(default_factory=list, max_length=MAX_EDITS)


@lru_cache(maxsize=16)
def edit_schema(output: type[BaseModel], skill_view: str) -> dict:
    """``output``'s strict schema with its edits narrowed to the starting skill.

    Every analysis of a run asks for the same few schemas, so they are built once per
    replica (cached; callers must not modify the returned dict).

    An edit of an existing SKILL.md section can only name one of S0's ``##`` titles, so a
    small model cannot aim an edit at a section that is not there (which the guarded
    apply would refuse). New sections and files, and edits in ``references/``, keep free
    titles. The pydantic model is unchanged: this only narrows what the engine may write.
    """
    schema = schema_of(output)
    draft = schema.get("$defs", {}).get("EditDraft")
    titles = skill_md_titles(skill_view)
    if draft is None or not titles:
        return schema

    def variant(ops: list[str], **properties: dict) -> dict:
        narrowed = copy.deepcopy(draft)
        narrowed["properties"]["op"] = {"type": "string", "enum": ops}
        narrowed["properties"].update(properties)
        return narrowed

    schema["$defs"]["EditDraft"] = {
        "anyOf": [
            variant(EXISTING_SECTION_OPS, path={"type": "string", "enum": ["SKILL.md"]}, section={"type": "string", "enum": titles}),
            variant(EXISTING_SECTION_OPS, path={"type": "string", "pattern": REFERENCE_PATH_PATTERN}),
            variant(["add_section", "create"]),
        ]
    }
    return schema
