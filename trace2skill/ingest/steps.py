"""Building Steps, shared by the adapters: message arrays, content parts, tool calls and their results.

A converter appends to a ``steps`` list (a Step's index is its position) and keeps
``names``, the tool name of each call id, so that a result that only names its call id
gets the tool name too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from trace2skill.ingest.base import RecordError, args_text, json_type, optional_str, repaired
from trace2skill.schema import Role, Step

# Chat message roles and their other names: "developer" is the newer name of "system",
# "function" the pre-tool_calls name of "tool".
ROLE_ALIASES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}
TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
PART_PLACEHOLDERS = {
    "image_url": "[image]",
    "image": "[image]",
    "input_image": "[image]",
    "input_audio": "[audio]",
    "audio": "[audio]",
    "file": "[file]",
    "input_file": "[file]",
}


_STEP_VALIDATOR = Step.__pydantic_validator__


def new_step(**fields: Any) -> Step:
    """``Step(**fields)``, validated by the same validator without ``BaseModel.__init__``'s Python layer.

    Adapters build tens of Steps per record; this is measurably faster per Step.
    """
    return _STEP_VALIDATOR.validate_python(fields)


def objects(value: Any, what: str, item: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, object)`` for each element of the JSON array ``value``; ``where`` is ``"{item} {i}"``.

    When iterated, raises RecordError if ``value`` is not an array (``what`` names it with
    its verb, e.g. ``"'messages' is"``) or an element is not an object.
    """
    if not isinstance(value, list):
        raise RecordError(f"{what} {json_type(value)}, expected an array")
    for i, element in enumerate(value):
        where = f"{item} {i}"
        if not isinstance(element, dict):
            raise RecordError(f"{where} is {json_type(element)}, expected an object")
        yield where, element


def content_text(content: Any, where: str) -> str:
    """Flatten a message ``content`` (string, null or list of parts) to text.

    Non-text parts become placeholders such as ``[image]``; parts are joined by newlines. An
    off-spec value (an object or a number as the content, a part without a type, a part's text
    that is not a string) is kept as its JSON text and counted as a repair.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return repaired(content, "content")  # an object or a number where the spec has text
    pieces: list[str] = []
    for part in content:
        if isinstance(part, str):
            pieces.append(part)
            continue
        if not isinstance(part, dict):
            pieces.append(repaired(part, "content part"))
            continue
        ptype = part.get("type")
        if (isinstance(ptype, str) and ptype in TEXT_PARTS) or (ptype is None and "text" in part):
            text = part.get("text")
            pieces.append(text if isinstance(text, str) else repaired(text, "content part text"))
        elif ptype == "refusal":
            pieces.append(str(part.get("refusal") or ""))
        elif isinstance(ptype, str):
            pieces.append(PART_PLACEHOLDERS.get(ptype, f"[{ptype}]"))
        else:
            pieces.append(repaired(part, "content part"))  # no type: the part as it is
    return "\n".join(pieces)


def add_call(
    steps: list[Step],
    names: dict[str, str],
    name: str,
    args: str | None,
    call_id: str | None,
    role: Role = "assistant",
) -> None:
    """Append a tool-call Step and remember its tool name under its call id."""
    steps.append(
        new_step(index=len(steps), role=role, kind="tool_call", tool_name=name, tool_args=args, tool_call_id=call_id)
    )
    if call_id:
        names[call_id] = name


def add_result(
    steps: list[Step], names: dict[str, str], content: str, call_id: str | None, name: str | None = None
) -> None:
    """Append a tool-result Step; without a ``name``, the tool is the one its call id was given to."""
    steps.append(
        new_step(
            index=len(steps),
            role="tool",
            kind="observation",
            content=content,
            tool_name=name or names.get(call_id or ""),
            tool_call_id=call_id,
        )
    )


def message_role(msg: dict[str, Any], where: str, roles: dict[str, Role] = ROLE_ALIASES) -> Role:
    """The Step role of a message's ``role`` (a name in ``roles``); RecordError for any other."""
    role = msg.get("role")
    if not isinstance(role, str) or role not in roles:
        raise RecordError(f"{where} has unknown role {role!r}")
    return roles[role]


def add_assistant_text(steps: list[Step], text: str, reasoning: str | None, calls: list[Any]) -> None:
    """Append an assistant turn's reasoning (if any) and its message, before its ``calls``:
    a turn that only calls tools has no text worth a step; a fully empty turn is kept."""
    if reasoning:
        steps.append(new_step(index=len(steps), role="assistant", kind="reasoning", content=reasoning))
    if text or not calls:
        steps.append(new_step(index=len(steps), role="assistant", content=text))


def add_named_calls(steps: list[Step], names: dict[str, str], calls: list[Any], where: str, name_key: str, id_key: str) -> None:
    """Append a tool-call Step for each of ``calls``, flat objects that name the tool under
    ``name_key`` and the call id under ``id_key``, with their ``arguments``."""
    for j, call in enumerate(calls):
        cwhere = f"{where} tool call {j}"
        if not isinstance(call, dict) or not isinstance(call.get(name_key), str) or not call[name_key]:
            raise RecordError(f"{cwhere} has no {name_key!r}")
        add_call(steps, names, call[name_key], args_text(call.get("arguments"), cwhere), optional_str(call, id_key, cwhere))
