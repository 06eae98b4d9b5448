"""Structured outputs consolidation asks the LLM for (merges and validation fixes)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from trace2skill.analysts.models import EditDraft


class MergeResult(BaseModel):
    """One conflict-free set of edits merged from several patches."""

    edits: list[EditDraft] = Field(max_length=12)
    resolutions: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=6, description="Each conflict resolved, and why."
    )
