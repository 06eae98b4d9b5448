"""The skill as merges and fixes see it: SKILL.md, the file listing, and the reference files
the call's edits touch, whole.

A merge or fix must copy anchors exactly from the file an edit targets, so it needs that
file's text, not its titles. The view handed to consolidation (one string, the same for
every call of a run, as Serve requests carry it) is ``skill_prompt_view`` followed by the
markdown files' texts; each call shows only the files its inputs edit, fitted to a token
budget by the analysts' rule (``analysts.context.render_skill``: whole while they fit, in
path order, else by their ``##`` titles, and the prompt says which).
"""

from __future__ import annotations

import json

from trace2skill.analysts.context import SkillContext, TokenCounter, render_skill
from trace2skill.prompting import fence_data
from trace2skill.schema import Patch
from trace2skill.skill.folder import skill_prompt_view
from trace2skill.skill.model import Skill

FILES_MARK = "\n<!-- trace2skill: reference files for merges -->\n"  # what separates the listing from the files' texts
REFERENCE_BUDGET_TOKENS = 4096  # for the touched files of one call when the engine's context is unknown


def consolidation_view(skill: Skill) -> str:
    """``skill_prompt_view(skill)`` carrying the texts of its markdown files for ``call_view``."""
    files = {p: t for p, t in sorted(skill.files.items()) if p.endswith(".md")}
    return skill_prompt_view(skill) + (FILES_MARK + json.dumps(files, ensure_ascii=False) if files else "")


def call_view(view: str, patches: list[Patch], *, budget_tokens: int = REFERENCE_BUDGET_TOKENS, count_tokens: TokenCounter = lambda t: len(t) // 4) -> str:
    """The ``<skill>`` block of one merge or fix prompt: the listing of ``view`` and the files
    the ``patches`` edit, fitted to ``budget_tokens`` (a plain ``skill_prompt_view`` has no
    files to show)."""
    head, _, tail = view.partition(FILES_MARK)
    files = json.loads(tail) if tail else {}
    touched = {e.path for p in patches for e in p.edits if e.path in files}
    if not touched:
        return f"<skill>\n{fence_data(head.rstrip())}\n</skill>"
    text, _ = render_skill(SkillContext(skill_md=head, files={p: files[p] for p in touched}), reference_budget_tokens=budget_tokens, count_tokens=count_tokens)
    return text
