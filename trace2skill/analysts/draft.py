"""Create mode with ``--draft``: the model drafts S0 from the task descriptions alone.

This is the paper's parametric baseline: what the model knows about the domain before
it sees any trajectory. The trajectories then evolve the draft like any other S0.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from trace2skill.llm.base import LLMClient, Message
from trace2skill.llm.structured import generate
from trace2skill.prompting import fence_data, load_prompt
from trace2skill.schema import Usage
from trace2skill.skill.folder import minimal_skill
from trace2skill.skill.model import Skill, parse_markdown
from trace2skill.skill.validate import validate_skill

MAX_TASKS = 20
MAX_TASK_CHARS = 400


class DraftSection(BaseModel):
    title: str = Field(min_length=3, max_length=60)
    body: str = Field(min_length=10, max_length=600)


class SkillDraft(BaseModel):
    """A first skill the model writes for the domain."""

    description: str = Field(min_length=20, max_length=300)
    sections: list[DraftSection] = Field(min_length=1, max_length=5)


def draft_messages(tasks: list[str]) -> list[Message]:
    listed = "\n".join(f"- {fence_data(t.strip()[:MAX_TASK_CHARS])}" for t in tasks[:MAX_TASKS] if t.strip())
    return [
        Message(role="system", content=load_prompt("trace2skill.analysts", "draft").template),
        Message(role="user", content=f"<tasks>\n{listed}\n</tasks>"),
    ]


def skill_from_draft(name: str, draft: SkillDraft) -> Skill:
    """A skill named ``name`` with the drafted description and sections."""
    text = f"\n# {name.replace('-', ' ').capitalize()}\n\n"
    for section in draft.sections:
        title = " ".join(section.title.split())  # a heading is one line
        text += f"## {title}\n\n{section.body.strip()}\n\n"
    base = minimal_skill(name, " ".join(draft.description.split()))
    return base.model_copy(update={"body": parse_markdown(text)})


def draft_skill(name: str, tasks: list[str], llm: LLMClient, *, max_tokens: int = 1024) -> tuple[Skill, Usage, str]:
    """Draft S0 from ``tasks``. Returns (skill, usage, note); a draft that fails or does not
    validate gives the minimal skill, and the note says why."""
    fallback = minimal_skill(name, f"Guidance for {name.replace('-', ' ')} tasks. Use when doing such tasks.")
    try:
        draft, usage = generate(llm, draft_messages(tasks), SkillDraft, max_tokens=max_tokens)
    except Exception as exc:  # any failure of the draft leaves the run on the minimal skill
        return fallback, getattr(exc, "usage", Usage()), f"draft failed, minimal skill used: {exc}"
    skill = skill_from_draft(name, draft)
    problems = validate_skill(skill)
    if problems:
        return fallback, usage, f"draft did not validate, minimal skill used: {problems[0]}"
    return skill, usage, "drafted from the task descriptions"
