"""The one call shape every LLM backend offers: messages + output model -> validated instance."""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, Field

from trace2skill.schema import Usage

T = TypeVar("T", bound=BaseModel)


class Message(BaseModel):
    role: str
    content: str


class LLMError(Exception):
    """The backend could not produce a valid instance; ``attempts`` holds each failure reason."""

    def __init__(self, message: str, attempts: list[str] | None = None, usage: Usage | None = None):
        super().__init__(message)
        self.attempts = attempts or []
        self.usage = usage or Usage()


class Completion(BaseModel):
    """Raw text of one engine call plus its token usage."""

    text: str
    usage: Usage = Field(default_factory=Usage)
    truncated: bool = Field(False, description="The answer was cut off at its token limit (finish_reason length), after the backend's retry with more room.")


@runtime_checkable
class LLMClient(Protocol):
    """A backend. ``complete`` returns raw JSON text constrained by the engine to ``schema``,
    by default ``output``'s strict schema (``structured.schema_of``); a caller may pass a
    narrowed form of it (fewer allowed values, never another shape: pydantic validates the
    answer against ``output``)."""

    def complete(self, messages: list[Message], output: type[BaseModel], max_tokens: int, schema: dict | None = None) -> Completion: ...

    def count_tokens(self, text: str) -> int: ...
