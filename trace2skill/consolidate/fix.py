"""One LLM repair round for a final patch whose result fails validation."""

from __future__ import annotations

import json

from trace2skill.analysts.analyze import to_edit
from trace2skill.analysts.context import TokenCounter
from trace2skill.consolidate.finalize import Fixer
from trace2skill.consolidate.merge import MergeOutcome, output_room, reference_budget
from trace2skill.consolidate.models import MergeResult, merge_room
from trace2skill.consolidate.view import REFERENCE_BUDGET_TOKENS, call_view, consolidation_view
from trace2skill.llm.base import LLMClient, LLMError, Message
from trace2skill.llm.structured import generate
from trace2skill.prompting import fence_data, load_prompt
from trace2skill.schema import Patch
from trace2skill.skill.model import Skill


def fix_messages(patch: Patch, problems: list[str], skill_view: str, *, budget_tokens: int = REFERENCE_BUDGET_TOKENS, count_tokens: TokenCounter = lambda t: len(t) // 4) -> list[Message]:
    """The repair prompt: rules, the problems and the skill the patch is applied to (the
    current state, not S0, with the reference files the patch edits: ``view.call_view``),
    then the patch as data."""
    listed = "\n".join(f"- {p}" for p in problems) or "- (none given)"
    skill = call_view(skill_view, [patch], budget_tokens=budget_tokens, count_tokens=count_tokens)
    system = load_prompt("trace2skill.consolidate", "fix").safe_substitute(skill=skill, problems=listed, room=merge_room([patch]))
    payload = [{"support": patch.support, "topic": patch.topic, "edits": [e.model_dump(exclude_none=True) for e in patch.edits]}]
    user = f"<patches>\n{fence_data(json.dumps(payload, ensure_ascii=False, indent=1))}\n</patches>"  # lesson text is data
    return [Message(role="system", content=system), Message(role="user", content=user)]


def fix_patch(
    patch: Patch,
    problems: list[str],
    skill_view: str,
    llm: LLMClient,
    *,
    max_tokens: int = 2048,
    retries: int = 2,
    schema: dict | None = None,
    context_tokens: int | None = None,
) -> MergeOutcome:
    """The repaired patch (same provenance), or the reason the call failed.

    The answer has the shape of a merge (reasoning, resolutions, edits), so every backend
    that can merge can repair; with ``context_tokens`` its room follows the patch, as a
    merge's does. A patch larger than one answer (``MAX_MERGE_EDITS``) or than the context
    leaves is not repaired whole and the caller falls back."""
    messages = fix_messages(patch, problems, skill_view, budget_tokens=reference_budget([patch], context_tokens, schema), count_tokens=llm.count_tokens)
    room = output_room(llm, messages, [patch], context_tokens, max_tokens, schema)
    if room is None:
        return MergeOutcome(error=f"the patch needs more room than one call's context of {context_tokens} tokens", oversize=True)
    try:
        result, usage = generate(llm, messages, MergeResult, max_tokens=room, retries=retries, schema=schema)
    except LLMError as exc:
        return MergeOutcome(error=str(exc), usage=exc.usage)
    except ValueError as exc:  # e.g. the state does not fit the engine's context: the part is withheld
        return MergeOutcome(error=f"{type(exc).__name__}: {exc}")
    notes = "\n".join([*patch.notes.splitlines(), *result.resolutions])
    return MergeOutcome(patch=patch.model_copy(update={"edits": [to_edit(e) for e in result.edits], "notes": notes}), usage=usage)


def llm_fixer(llm: LLMClient, *, max_tokens: int = 2048, retries: int = 2) -> Fixer:
    """A ``Fixer`` for ``finalize`` that shows the LLM the state the failing part was applied to."""

    def fix(patch: Patch, problems: list[str], state: Skill) -> MergeOutcome:
        return fix_patch(patch, problems, consolidation_view(state), llm, max_tokens=max_tokens, retries=retries)

    return fix
