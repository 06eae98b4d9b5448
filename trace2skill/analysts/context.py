"""The starting skill S0 as the analysts see it: SKILL.md and its reference files' contents.

An analyst can only say whether a lesson is already written down (and the agent ignored
it) or missing when it reads the references too, not just their titles. The whole folder
rarely fits a small context, so :func:`render_skill` fits it to a token budget by one
stated rule, and the prompt says what was left out:

- SKILL.md is always shown whole (the method keeps it at most 500 lines);
- markdown files under ``references/`` are shown whole, in path order, each one that fits
  in what is left of the budget; one that does not is shown by its ``##`` titles only,
  and later (smaller) files may still fit;
- other files (scripts, licences) are listed by path.

The budget and the rule depend on the run, never on a trajectory, so the rendered skill
is the same text in every call of a run: engines with prefix caching reuse it.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from trace2skill.prompting import fence_data
from trace2skill.skill.model import Skill, parse_markdown

TokenCounter = Callable[[str], int]


class SkillContext(BaseModel):
    """SKILL.md text and the text of the skill's other files (``references/x.md`` -> text)."""

    model_config = ConfigDict(frozen=True)

    skill_md: str
    files: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of(cls, skill: Skill) -> SkillContext:
        return cls(skill_md=skill.skill_md(), files=dict(skill.files))

    def references(self) -> list[str]:
        """Paths of the markdown files under ``references/``, sorted."""
        return sorted(p for p in self.files if p.startswith("references/") and p.endswith(".md"))


class SkillFit(BaseModel):
    """What of the skill a prompt shows."""

    tokens: int
    references_shown: list[str] = Field(default_factory=list)
    references_titles_only: list[str] = Field(default_factory=list)


def _file_block(path: str, text: str) -> str:
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    return f'<file path="{path}" lines="{lines}">\n{fence_data(text.rstrip())}\n</file>'


def _titles_block(path: str, text: str) -> str:
    titles = parse_markdown(text).titles()
    listed = "\n".join(f"- {fence_data(t)}" for t in titles) or "- (no ## sections)"
    return f'<file path="{path}" shown="section titles only">\n{listed}\n</file>'


def render_skill(context: SkillContext, *, reference_budget_tokens: int, count_tokens: TokenCounter) -> tuple[str, SkillFit]:
    """The ``<skill>`` and ``<references>`` blocks of a prompt, references fitted to
    ``reference_budget_tokens`` by the rule in this module's docstring."""
    skill = f"<skill>\n{fence_data(context.skill_md.rstrip())}\n</skill>"
    refs = context.references()
    if not refs and not context.files:
        text = skill + "\n\n(The skill has no reference files.)"
        return text, SkillFit(tokens=count_tokens(text))
    blocks, shown, titled, left = [], [], [], reference_budget_tokens
    for path in refs:
        block = _file_block(path, context.files[path])
        cost = count_tokens(block)
        if cost <= left:
            blocks.append(block)
            shown.append(path)
            left -= cost
        else:
            blocks.append(_titles_block(path, context.files[path]))
            titled.append(path)
    others = sorted(p for p in context.files if p not in refs)
    if others:
        blocks.append("Other files (not shown): " + ", ".join(fence_data(p) for p in others))
    note = "Reference files are shown whole."
    if titled:
        note = (
            f"Reference files are shown whole, in path order, while they fit the prompt; {len(titled)} did not "
            f"and show their section titles only ({', '.join(titled)}): do not assume what they say beyond their titles."
        )
    text = f"{skill}\n\n<references>\n" + "\n\n".join(blocks) + f"\n</references>\n{note}"
    return text, SkillFit(tokens=count_tokens(text), references_shown=shown, references_titles_only=titled)
