"""ShareGPT conversations: ``{"conversations": [{"from", "value"}], "system"?, "tools"?}`` records.

A file is JSONL (one record per line) or one JSON array of records. ``from`` is
``human``/``gpt``/``system`` plus the tool-use turns of the LLaMA-Factory flavour:
``function_call`` (the value is the call as JSON text: ``{"name", "arguments"}`` or a
list of them) and ``observation`` (the tool's output).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from trace2skill.ingest import jsonhead
from trace2skill.ingest.base import (
    Format,
    Record,
    RecordError,
    Source,
    add_extra_fields,
    make_trajectory,
    optional_id,
    repaired,
)
from trace2skill.ingest.jsonfile import is_array_file, read_array, read_lines, record_object
from trace2skill.ingest.openai_chat import outcome
from trace2skill.ingest.outcomes import OUTCOME_FIELD
from trace2skill.ingest.steps import objects
from trace2skill.schema import Role, Step, Trajectory

NAME = "sharegpt"

SPEAKERS: dict[str, Role] = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "model": "assistant",
    "system": "system",
}
CALL_SPEAKERS = frozenset({"function_call", "tool_call"})
RESULT_SPEAKERS = frozenset({"observation", "tool", "function", "ipython"})
MEDIA_KEYS = ("images", "videos", "audios")
RECORD_KEYS = frozenset({"conversations", "system", "tools", "id", "success", "reward", "label", *MEDIA_KEYS})


def _call_steps(value: str, steps: list[Step]) -> str | None:
    """Tool-call steps of a ``function_call`` turn; returns the last tool name."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = None
    calls = parsed if isinstance(parsed, list) else [parsed]
    if not calls or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls):
        # Not the documented shape: keep the model's text as the call, it is evidence.
        steps.append(
            Step(index=len(steps), role="assistant", kind="tool_call", tool_name="function_call", tool_args=value)
        )
        return None
    for call in calls:
        args = call.get("arguments", call.get("parameters"))
        args_text = args if isinstance(args, str) else json.dumps(args if args is not None else {}, ensure_ascii=False)
        steps.append(
            Step(index=len(steps), role="assistant", kind="tool_call", tool_name=call["name"], tool_args=args_text)
        )
    return str(calls[-1]["name"])


def conversation_steps(record: dict[str, Any]) -> list[Step]:
    """Steps of one ShareGPT record (the top-level ``system`` prompt first)."""
    steps: list[Step] = []
    system = record.get("system")
    if system is not None and not isinstance(system, str):
        system = repaired(system, "system")
    if system:
        steps.append(Step(index=0, role="system", content=system))
    last_tool: str | None = None
    for where, turn in objects(record.get("conversations"), "'conversations' is", "turn"):
        speaker, value = turn.get("from"), turn.get("value")
        if value is None:
            value = ""
        if not isinstance(value, str):
            value = repaired(value, "value")
        if speaker in SPEAKERS:
            steps.append(Step(index=len(steps), role=SPEAKERS[speaker], content=value))
        elif speaker in CALL_SPEAKERS:
            last_tool = _call_steps(value, steps)
        elif speaker in RESULT_SPEAKERS:
            steps.append(Step(index=len(steps), role="tool", kind="observation", content=value, tool_name=last_tool))
        else:
            raise RecordError(f"{where} has unknown speaker {speaker!r}")
    return steps


def record_to_trajectory(record: Any, source: Source, location: str) -> Trajectory:
    """Convert one ShareGPT record; raises RecordError with the quarantine reason."""
    record_object(record, "record", needs="conversations")
    steps = conversation_steps(record)
    if not steps:
        raise RecordError("'conversations' is empty")
    raw_id = optional_id(record, "id") or location
    result, field = outcome(record, source.success_threshold)
    metadata: dict[str, Any] = {k: record[k] for k in ("tools", "label") if record.get(k) is not None}
    if field:
        metadata[OUTCOME_FIELD] = field
    for key in MEDIA_KEYS:
        if isinstance(record.get(key), list):
            metadata[f"{key}_count"] = len(record[key])
    add_extra_fields(metadata, record, RECORD_KEYS)
    return make_trajectory(source, raw_id=raw_id, location=location, steps=steps, outcome=result, metadata=metadata)


def read(source: Source) -> Iterator[Record]:
    """Yield one record per line (JSONL, ``line N``) or per array item (``item N``, from 0)."""
    yield from (read_array if is_array_file(source) else read_lines)(source, record_to_trajectory)


def sniff(head: str) -> bool:
    """JSONL whose first lines, or a JSON array whose first item, have ``conversations``."""
    view = jsonhead.view(head)
    if view.is_array:
        return view.first_item is not None and view.first_item.has("conversations")
    return view.any_line("conversations")


FORMAT = Format(
    name=NAME,
    description="ShareGPT: {'conversations': [{'from', 'value'}], 'system'?, 'tools'?} per line or in a JSON array",
    suffixes=(".json", ".jsonl"),
    sniff=sniff,
    read=read,
)
