"""OpenAI chat records: one ``{"messages": [...], ...}`` object per JSONL line, or a dataset export.

A dataset export is one JSON array of such records (``[{"instance_id", "messages", "tools",
"resolved", "reward", ...}, ...]``), streamed item by item.

A line may instead hold an OpenAI Responses API conversation (``{"input": ..., "output":
[items]}`` or a whole Response object), converted by :mod:`responses`. This module also
owns the chat-message -> Step conversion (:func:`messages_to_steps`), which every format
that stores OpenAI-style messages reuses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from trace2skill.ingest import jsonhead, responses
from trace2skill.ingest.base import (
    Format,
    Outcome,
    Record,
    RecordError,
    Source,
    add_extra_fields,
    as_reward,
    json_type,
    make_trajectory,
    note_repair,
    optional_id,
    optional_list,
    optional_str,
    repaired,
)
from trace2skill.ingest.jsonfile import is_array_file, read_array, read_lines, record_object
from trace2skill.ingest.outcomes import OUTCOME_FIELD, find_outcome, first_outcome, number, verdict
from trace2skill.ingest.steps import add_assistant_text, add_result, content_text, message_role, new_step, objects
from trace2skill.schema import Step, Trajectory

NAME = "openai_chat"

RECORD_KEYS = frozenset(
    {"messages", "input", "output", "instructions", "tools", "reward", "success", "label", "id", "metadata", "instance_id"}
)
# Other formats that also have a top-level "messages" key (mini-swe-agent, a tau2 simulation).
FOREIGN_KEYS = ("trajectory_format", "termination_reason")


def tool_call_step(call: Any, index: int, where: str) -> Step:
    """The tool-call Step of one OpenAI ``tool_calls`` entry (``{id, function: {name, arguments}}``)."""
    if not isinstance(call, dict):
        raise RecordError(f"{where} is {json_type(call)}, expected an object")
    fn = call.get("function")
    if not isinstance(fn, dict):
        raise RecordError(f"{where} has no 'function' object")
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise RecordError(f"{where} has no function name")
    args = fn.get("arguments")
    if isinstance(args, dict | list):
        # Some exporters store parsed arguments; keep them as the JSON text the agent sent.
        args = json.dumps(args, ensure_ascii=False)
    elif args is not None and not isinstance(args, str):
        args = repaired(args, "arguments")  # a number or a boolean: kept as its JSON text
    call_id = optional_str(call, "id", where)
    return new_step(index=index, role="assistant", kind="tool_call", tool_name=name, tool_args=args, tool_call_id=call_id)


def add_tool_calls(calls: list[Any], where: str, steps: list[Step], names: dict[str, str]) -> None:
    """Append the tool-call Step of each OpenAI ``tool_calls`` entry, remembering tool names by call id."""
    for j, call in enumerate(calls):
        step = tool_call_step(call, len(steps), f"{where} tool call {j}")
        steps.append(step)
        if step.tool_call_id and step.tool_name:
            names[step.tool_call_id] = step.tool_name


def assistant_steps(msg: dict[str, Any], text: str, where: str, steps: list[Step], names: dict[str, str]) -> None:
    """Append the Steps of an OpenAI assistant message: reasoning, text, then one per tool call."""
    reasoning = next((r for r in (msg.get("reasoning_content"), msg.get("reasoning")) if isinstance(r, str) and r), None)
    calls = optional_list(msg, "tool_calls", where)
    legacy = msg.get("function_call")
    if legacy is not None:
        # The pre-tool_calls API put one {name, arguments} object here, without an id.
        calls = [*calls, {"function": legacy}]
    add_assistant_text(steps, text, reasoning, calls)
    add_tool_calls(calls, where, steps, names)


def messages_to_steps(messages: Any) -> list[Step]:
    """Convert OpenAI chat messages to Steps with indices 0..n-1.

    Raises RecordError (the quarantine reason) on an unknown role or wrongly typed field.
    """
    steps: list[Step] = []
    names: dict[str, str] = {}
    for where, msg in objects(messages, "messages are", "message"):
        role = message_role(msg, where)
        text = content_text(msg.get("content"), where)
        if role == "assistant":
            assistant_steps(msg, text, where, steps, names)
        elif role == "tool":
            call_id = optional_str(msg, "tool_call_id", where)
            add_result(steps, names, text, call_id, optional_str(msg, "name", where))
        else:
            steps.append(new_step(index=len(steps), role=role, content=text))
    return steps


# Where an outcome is looked for after the spec's fields, in order (dataset exports put
# ``resolved``/``reward`` on the record, others a verdict in ``metadata`` or ``extra``).
OUTCOME_BLOCKS = ("metadata", "extra", "extra_fields", "info", "eval", "evaluation")


def outcome(record: dict[str, Any], success_threshold: float) -> tuple[Outcome, str | None]:
    """``(success, reward)`` and the field it came from.

    The spec's fields first: ``success`` wins, else ``reward >= threshold``, else ``label``; a
    value of another type that still says it (``"true"``, ``1``, ``"1.0"``, ``"PASS"``) is read and
    counted as a repair, one that does not is a RecordError. Then, by the rules of
    :mod:`outcomes`, the record's other fields (``resolved``, ``passed``, ``verdict``, ``score``)
    and its ``metadata``/``extra``/``info`` blocks.
    """
    spec = {k: record[k] for k in ("success", "reward", "label") if record.get(k) is not None}
    _check_spec_types(spec)
    found = find_outcome({k: v for k, v in spec.items() if k != "label"}, "", success_threshold) or find_outcome(
        {"label": spec.get("label")}, "", success_threshold
    )
    if found is None:
        others = {k: v for k, v in record.items() if k not in ("success", "reward", "label")}
        found = first_outcome([("", others), *((key, record.get(key)) for key in OUTCOME_BLOCKS)], success_threshold)
    return ((found.success, found.reward), found.field) if found else ((None, None), None)


def _check_spec_types(spec: dict[str, Any]) -> None:
    """Repairs of the spec's outcome fields written as another type; RecordError for values that say nothing."""
    for key, value in spec.items():
        if key == "reward":
            if number(value) is None:
                as_reward(value)  # raises with the reason
            if not isinstance(value, int | float) or isinstance(value, bool):
                note_repair(key)
        else:
            if verdict(value) is None:
                if key == "success":
                    raise RecordError(f"'success' is {json_type(value)}, expected a boolean")
                raise RecordError(f"'label' is {value!r}, expected 'success', 'failure' or a boolean")
            if key == "success" and not isinstance(value, bool):
                note_repair(key)


def _metadata(record: dict[str, Any]) -> dict[str, Any]:
    meta = record.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        note_repair("metadata")  # kept as it is, under its own name
        meta = {"metadata": meta}
    out = dict(meta or {})
    if record.get("tools") is not None:
        out["tools"] = record["tools"]
    if record.get("label") is not None:
        out["label"] = record["label"]
    add_extra_fields(out, record, RECORD_KEYS)
    return out


def record_to_trajectory(record: Any, source: Source, location: str) -> Trajectory:
    """Convert one parsed JSONL record; raises RecordError with the quarantine reason."""
    record_object(record, "record")
    if "messages" in record:
        steps = messages_to_steps(record["messages"])
        if not steps:
            raise RecordError("'messages' is empty")
    elif "input" in record or "output" in record:
        steps = responses.record_steps(record)
        if not steps:
            raise RecordError("'input' and 'output' hold no items")
    else:
        raise RecordError("record has no 'messages'")
    raw_id = optional_id(record, "id") or optional_id(record, "instance_id") or location
    result, field = outcome(record, source.success_threshold)
    metadata = _metadata(record)
    if field:
        metadata[OUTCOME_FIELD] = field
    if record.get("instance_id") is not None:
        metadata["instance_id"] = record["instance_id"]
    return make_trajectory(source, raw_id=raw_id, location=location, steps=steps, outcome=result, metadata=metadata)


def read(source: Source) -> Iterator[Record]:
    """One Trajectory or QuarantinedRecord per non-blank line (``line N``) or per array item (``item N``), streaming."""
    return (read_array if is_array_file(source) else read_lines)(source, record_to_trajectory)


def _is_chat_record(obj: jsonhead.HeadObject) -> bool:
    if obj.any(*FOREIGN_KEYS):
        return False
    return obj.has("messages") or obj.has("input", "output") or obj.get("object") == "response"


def sniff(head: str) -> bool:
    """True when one of the first lines (or the first item of a JSON array) is an object with ``messages``
    (or Responses ``input``/``output``).

    A line or item cut off by the end of the sniffed head is judged by the keys seen before the cut.
    """
    view = jsonhead.view(head)
    if view.is_array:
        return view.first_item is not None and not view.first_item.has("conversations") and _is_chat_record(view.first_item)
    lines = view.lines
    if any(line.has("conversations") for line in lines):
        return False  # ShareGPT
    return any(_is_chat_record(line) for line in lines)


FORMAT = Format(
    name=NAME,
    description="OpenAI chat: one {'messages': [...]} object per JSONL line, or a JSON array of them (dataset export)",
    suffixes=(".jsonl", ".ndjson", ".json"),
    sniff=sniff,
    read=read,
)
