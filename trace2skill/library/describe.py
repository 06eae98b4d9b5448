"""A skill's description rewritten from the tasks routed to it: one bounded LLM call.

A library's descriptions are what an agent chooses a skill by, so each says when to use
the skill in general terms: the answer is refused (and sent back, by
``llm.structured.generate``) when it is empty, over the Agent Skills limit, does not say
when to use the skill, or carries a value of the tasks (an id, code or path:
``consolidate.instance.value_tokens``).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from trace2skill.consolidate.instance import value_tokens
from trace2skill.llm.base import LLMClient, LLMError, Message
from trace2skill.llm.structured import generate
from trace2skill.prompting import fence_data, load_prompt
from trace2skill.schema import Usage

MAX_DESCRIPTION_CHARS = 1024  # the Agent Skills limit
MAX_TASKS = 30
MAX_TASK_CHARS = 300


class SkillDescription(BaseModel):
    """A skill's description: what it covers and when to use it, with no instance detail."""

    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION_CHARS)

    @field_validator("description")
    @classmethod
    def _general(cls, text: str) -> str:
        text = " ".join(text.split())
        if not text:
            raise ValueError("the description is empty")
        if "when" not in text.lower():
            raise ValueError('the description does not say when to use the skill (write "Use when ...")')
        values = sorted(value_tokens(text))
        if values:
            raise ValueError(f"the description names instance detail ({', '.join(values)}): describe the kind of task instead")
        return text


def describe_messages(current: str, skill_name: str, tasks: list[str]) -> list[Message]:
    """The prompt asking for ``skill_name``'s description (now ``current``) from ``tasks``
    (the first ``MAX_TASKS`` non-blank ones, each cut at ``MAX_TASK_CHARS``)."""
    listed = "\n".join(f"- {fence_data(' '.join(t.split())[:MAX_TASK_CHARS])}" for t in [t for t in tasks if t.strip()][:MAX_TASKS])
    return [
        Message(role="system", content=load_prompt("trace2skill.library", "describe_skill").template),
        Message(role="user", content=f"<skill>\nname: {fence_data(skill_name)}\ndescription: {fence_data(current)}\n</skill>\n<tasks>\n{listed}\n</tasks>"),
    ]


def describe_skill(current: str, skill_name: str, tasks: list[str], llm: LLMClient, *, max_tokens: int = 512) -> tuple[str, Usage, str]:
    """``skill_name``'s description rewritten from ``tasks``: (description, usage, note); an
    answer that fails or stays invalid after the retries keeps ``current``, and the note says why."""
    try:
        answer, usage = generate(llm, describe_messages(current, skill_name, tasks), SkillDescription, max_tokens=max_tokens)
    except LLMError as exc:  # the current description stays: a library never loses a description to a failed call
        return current, exc.usage, f"description kept: {exc}"
    return answer.description, usage, "described from the routed tasks"
