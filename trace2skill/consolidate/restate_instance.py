"""The instance-detail guard's restatement round: one bounded LLM call per edit.

The guard (``consolidate.instance``) finds the values of a few trajectories an edit
carries; this asks the LLM once to restate the edit with each value named by its role
(``prompts/instance.md``). The guard checks the answer again, so a restatement that
still carries a value is refused like no restatement.
"""

from __future__ import annotations

import json

from trace2skill.consolidate.models import RestatedEdit
from trace2skill.llm.base import LLMClient, LLMError, Message
from trace2skill.llm.structured import generate
from trace2skill.prompting import fence_data, load_prompt
from trace2skill.schema import Edit, Usage

ROOM_TOKENS = 256  # answer room beside the restated content's own length


def instance_messages(edit: Edit, values: list[str]) -> list[Message]:
    """The restatement prompt: the rules, then the values and the edit as data."""
    system = load_prompt("trace2skill.consolidate", "instance").safe_substitute()
    data = {
        "values": values,
        "edit": edit.model_dump(include={"op", "path", "section", "content"}),
    }
    user = f"<patches>\n{fence_data(json.dumps(data, ensure_ascii=False, indent=1))}\n</patches>"  # lesson text is data
    return [Message(role="system", content=system), Message(role="user", content=user)]


def restate_instance(
    edit: Edit,
    values: list[str],
    llm: LLMClient,
    *,
    max_tokens: int = 4096,
    retries: int = 1,
) -> tuple[Edit | None, Usage]:
    """``edit`` restated without ``values`` (the new section's title too, for ``add_section``),
    or None when the call gives no valid answer; and the tokens spent. The answer's room
    follows the content's length, up to ``max_tokens``."""
    messages = instance_messages(edit, values)
    room = min(max_tokens, ROOM_TOKENS + 2 * llm.count_tokens(edit.content))
    try:
        answer, usage = generate(
            llm, messages, RestatedEdit, max_tokens=room, retries=retries
        )
    except LLMError as exc:
        return None, exc.usage
    except (
        ValueError
    ):  # e.g. an edit too long for the engine's context: refused as it is
        return None, Usage()
    update = {"content": answer.content}
    if edit.op == "add_section" and answer.section.strip():
        update["section"] = answer.section.strip()
    return edit.model_copy(update=update), usage
