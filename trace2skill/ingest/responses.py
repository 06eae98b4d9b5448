"""The OpenAI Responses API item list (``message``, ``function_call``, ``function_call_output``, ``reasoning``, ...).

A record stores a conversation as items instead of chat messages: ``{"instructions"?,
"input": str | [items], "output": [items]}`` (also a whole Response object, whose
``output`` holds the items). :func:`record_steps` turns it into Steps; the OpenAI chat
adapter calls it for records without ``messages``.
"""

from __future__ import annotations

import json
from typing import Any

from trace2skill.ingest.base import RecordError, args_text, as_text, json_type, optional_list, optional_str
from trace2skill.ingest.steps import ROLE_ALIASES, add_call, add_result, content_text, message_role
from trace2skill.schema import Step

# A message item's roles: tool results are items of their own.
MESSAGE_ROLES = {name: role for name, role in ROLE_ALIASES.items() if role != "tool"}
# Keys of a built-in tool call item that are bookkeeping, not the call's arguments or result.
CALL_BOOKKEEPING = frozenset({"type", "id", "status", "call_id"})
RESULT_KEYS = ("output", "outputs", "results", "result", "error")
CONTENT_PARTS = frozenset({"input_text", "output_text", "text", "input_image", "input_file", "refusal"})


def _message(item: dict[str, Any], where: str, steps: list[Step]) -> None:
    role = message_role(item, where, MESSAGE_ROLES)
    steps.append(Step(index=len(steps), role=role, content=content_text(item.get("content"), where)))


def _reasoning(item: dict[str, Any], where: str, steps: list[Step]) -> None:
    texts: list[str] = []
    for key in ("summary", "content"):
        parts = optional_list(item, key, where)
        texts.extend(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))
    if texts:
        steps.append(Step(index=len(steps), role="assistant", kind="reasoning", content="\n".join(texts)))
    elif item.get("encrypted_content"):
        steps.append(Step(index=len(steps), role="assistant", kind="reasoning", content="[encrypted reasoning]"))


def _observation(call_id: str | None, output: Any, names: dict[str, str], steps: list[Step], where: str) -> None:
    if isinstance(output, list) and all(isinstance(p, dict) and p.get("type") in CONTENT_PARTS for p in output):
        output = content_text(output, where)  # function output given as content parts
    add_result(steps, names, as_text(output), call_id)


def _call(item: dict[str, Any], itype: str, where: str, names: dict[str, str], steps: list[Step]) -> None:
    call_id = optional_str(item, "call_id", where) or optional_str(item, "id", where)
    if itype in ("function_call", "custom_tool_call", "mcp_call"):
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise RecordError(f"{where} has no 'name'")
        args = args_text(item.get("arguments", item.get("input")), where)
    else:  # a built-in tool (web_search_call, local_shell_call, ...): its fields are the arguments
        name = itype.removesuffix("_call")
        args = json.dumps(
            {k: v for k, v in item.items() if k not in CALL_BOOKKEEPING and k not in RESULT_KEYS},
            ensure_ascii=False,
        )
    add_call(steps, names, name, args, call_id)
    # Server-side tools carry their result in the same item.
    result = next((item[k] for k in RESULT_KEYS if item.get(k) not in (None, [], "")), None)
    if result is not None:
        _observation(call_id, result, names, steps, where)


def item_steps(item: Any, where: str, names: dict[str, str], steps: list[Step]) -> None:
    """Append the Steps of one Responses item to ``steps``; ``names`` maps call ids to tool names."""
    if not isinstance(item, dict):
        raise RecordError(f"{where} is {json_type(item)}, expected an object")
    itype = item.get("type")
    if itype is None and "role" in item:  # the short {"role", "content"} input form
        itype = "message"
    if not isinstance(itype, str):
        raise RecordError(f"{where} has no 'type'")
    if itype == "message":
        _message(item, where, steps)
    elif itype == "reasoning":
        _reasoning(item, where, steps)
    elif itype.endswith("_call_output"):
        call_id = optional_str(item, "call_id", where) or optional_str(item, "id", where)
        _observation(call_id, item.get("output"), names, steps, where)
    elif itype.endswith("_call"):
        _call(item, itype, where, names, steps)
    elif itype != "item_reference":  # a pointer to an item stored server-side: nothing to read here
        raise RecordError(f"{where} has unknown type {itype!r}")


def record_steps(record: dict[str, Any]) -> list[Step]:
    """Steps of a ``{"instructions"?, "input"?, "output"?}`` record, in order (instructions, input, output)."""
    steps: list[Step] = []
    names: dict[str, str] = {}
    instructions = record.get("instructions")
    if isinstance(instructions, str) and instructions:
        steps.append(Step(index=0, role="system", content=instructions))
    elif instructions not in (None, "") and not isinstance(instructions, list):
        raise RecordError(f"'instructions' is {json_type(instructions)}, expected a string")
    for key in ("input", "output"):
        value = record.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            steps.append(Step(index=len(steps), role="user", content=value))
            continue
        if not isinstance(value, list):
            raise RecordError(f"'{key}' is {json_type(value)}, expected a string or an array of items")
        for i, item in enumerate(value):
            item_steps(item, f"{key} item {i}", names, steps)
    return steps
