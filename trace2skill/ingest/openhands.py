"""OpenHands: a saved event stream (one run per file) and the evaluation ``output.jsonl`` (one run per line).

An event is ``{id, timestamp, source, message, action | observation, args, content,
extras, tool_call_metadata?}``. The event stream file is a JSON array of events;
``output.jsonl`` lines are ``{instance_id, instruction, history, metrics, test_result,
error, metadata}``, where ``history`` is a list of events (or, in old files, of
``[action, observation]`` pairs). Bookkeeping events (agent state changes, recalls,
condensations, null events) are not steps; they are counted in metadata.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from trace2skill.ingest import jsonhead
from trace2skill.ingest.base import (
    Format,
    Outcome,
    Record,
    RecordError,
    Source,
    as_object,
    as_reward,
    as_text,
    first_user_text,
    id_value,
    make_trajectory,
    resolve_outcome,
    str_or_none,
)
from trace2skill.ingest.jsonfile import is_array_file, read_document, read_lines, record_object
from trace2skill.ingest.outcomes import OUTCOME_FIELD, find_outcome, first_outcome
from trace2skill.ingest.steps import add_call, objects
from trace2skill.schema import Role, Step, Trajectory

NAME = "openhands"

SOURCES: dict[str, Role] = {"user": "user", "agent": "assistant", "environment": "tool"}
BOOKKEEPING = frozenset(
    {"change_agent_state", "agent_state_changed", "null", "recall", "condensation", "condensation_request"}
)
NOT_ARGUMENTS = frozenset({"thought", "security_risk", "confirmation_state", "is_confirmed", "impl_source"})


def _raw_arguments(meta: dict[str, Any], call_id: str | None) -> str | None:
    """The arguments string exactly as the model sent it, from the response kept with the event."""
    choices = as_object(meta.get("model_response")).get("choices")
    for choice in choices if isinstance(choices, list) else []:
        calls = as_object(as_object(choice).get("message")).get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            fn = as_object(as_object(call).get("function"))
            if as_object(call).get("id") == call_id and isinstance(fn.get("arguments"), str):
                return str(fn["arguments"])
    return None


def _action_steps(event: dict[str, Any], action: str, role: Role, steps: list[Step], names: dict[str, str]) -> None:
    args = as_object(event.get("args"))
    if action == "system":
        steps.append(
            Step(index=len(steps), role="system", content=as_text(args.get("content") or event.get("message")))
        )
        return
    if action == "think":
        steps.append(Step(index=len(steps), role="assistant", kind="reasoning", content=as_text(args.get("thought"))))
        return
    meta = as_object(event.get("tool_call_metadata"))
    if action == "message" or (action == "finish" and not meta):
        text = as_text(args.get("content" if action == "message" else "final_thought") or event.get("message"))
        images = args.get("image_urls") or []
        text = "\n".join([text, *("[image]" for _ in images)]) if isinstance(images, list) and images else text
        steps.append(Step(index=len(steps), role="assistant" if role == "tool" else role, content=text))
        return
    thought = args.get("thought")
    if isinstance(thought, str) and thought.strip():
        steps.append(Step(index=len(steps), role="assistant", content=thought))
    call_id = str_or_none(meta.get("tool_call_id"))
    name = str_or_none(meta.get("function_name")) or action
    arguments = _raw_arguments(meta, call_id)
    if arguments is None:
        arguments = json.dumps({k: v for k, v in args.items() if k not in NOT_ARGUMENTS}, ensure_ascii=False)
    add_call(steps, names, name, arguments, call_id, "assistant" if role == "tool" else role)
    if event.get("id") is not None:
        names[f"event:{event['id']}"] = name  # observations without call metadata point back by 'cause'


def _observation_step(event: dict[str, Any], observation: str, steps: list[Step], names: dict[str, str]) -> None:
    meta = as_object(event.get("tool_call_metadata"))
    call_id = str_or_none(meta.get("tool_call_id"))
    name = (
        names.get(call_id or "")
        or str_or_none(meta.get("function_name"))
        or names.get(f"event:{event.get('cause')}")
        or observation
    )
    content = event.get("content")
    text = as_text(content if content not in (None, "") else event.get("message"))
    steps.append(
        Step(index=len(steps), role="tool", kind="observation", content=text, tool_name=name, tool_call_id=call_id)
    )


def events_to_steps(events: Any) -> tuple[list[Step], dict[str, Any]]:
    """Steps of an event list, and metadata (bookkeeping events skipped, the last agent state)."""
    steps: list[Step] = []
    names: dict[str, str] = {}
    skipped: Counter[str] = Counter()
    meta: dict[str, Any] = {}
    if isinstance(events, list):  # old eval files store [action, observation] pairs
        events = [event for item in events for event in (item if isinstance(item, list) else [item])]
    for where, event in objects(events, "events are", "event"):
        action, observation = event.get("action"), event.get("observation")
        kind = action if isinstance(action, str) else observation
        if not isinstance(kind, str):
            raise RecordError(f"{where} has neither an 'action' nor an 'observation' type")
        if observation == "agent_state_changed":
            meta["final_agent_state"] = as_object(event.get("extras")).get("agent_state")
        if kind in BOOKKEEPING:
            skipped[kind] += 1
            continue
        source = event.get("source", "agent")
        if source not in SOURCES:
            raise RecordError(f"{where} has unknown source {source!r}")
        if isinstance(action, str):
            _action_steps(event, action, SOURCES[source], steps, names)
        else:
            _observation_step(event, kind, steps, names)
    if skipped:
        meta["skipped_events"] = dict(skipped)
    return steps, meta


def _eval_outcome(record: dict[str, Any], threshold: float) -> tuple[Outcome, str | None]:
    """Outcome of an eval line and its field: ``test_result.report.resolved``, ``test_result.resolved`` /
    ``success``, ``test_result.score`` (bool or number); else, by the rules of :mod:`outcomes`, the line's
    own fields (``resolved``, ``verdict``...) and its ``report`` and ``metadata`` blocks."""
    test_result = as_object(record.get("test_result"))
    report = as_object(test_result.get("report"))
    for holder, path, key in ((report, "test_result.report", "resolved"), (test_result, "test_result", "resolved"), (test_result, "test_result", "success")):
        if isinstance(holder.get(key), bool):
            return (holder[key], None), f"{path}.{key}"
    score = test_result.get("score")
    if isinstance(score, bool):
        return (score, None), "test_result.score"
    if isinstance(score, int | float):
        return resolve_outcome(None, as_reward(score, "test_result.score"), threshold), "test_result.score"
    own = {k: v for k, v in record.items() if k not in ("history", "instruction", "test_result", "metadata")}
    blocks = [("test_result", test_result), ("", own), ("report", record.get("report")), ("metadata", record.get("metadata"))]
    found = first_outcome(blocks, threshold)
    return ((found.success, found.reward), found.field) if found else ((None, None), None)


def _stream_outcome(events: list[Any], threshold: float) -> tuple[Outcome, str | None]:
    """An event stream's outcome: the last event whose ``extras`` state one (a verifier's verdict)."""
    for i in reversed(range(len(events))):
        event = as_object(events[i])
        found = find_outcome(event.get("extras"), f"[{i}].extras", threshold)
        if found is not None:
            return (found.success, found.reward), found.field
    return (None, None), None


def eval_line_to_trajectory(record: Any, source: Source, location: str) -> Trajectory:
    """Convert one ``output.jsonl`` line; raises RecordError with the quarantine reason."""
    record_object(record, "record")
    instance_id = id_value(record, "instance_id")
    history = record.get("history")
    if not history:
        error = record.get("error")
        raise RecordError("'history' is empty" + (f" (run error: {error})" if error else ""))
    steps, metadata = events_to_steps(history)
    result, field = _eval_outcome(record, source.success_threshold)
    metadata["instance_id"] = instance_id
    if field:
        metadata[OUTCOME_FIELD] = field
    for key in ("test_result", "metrics", "error"):
        if record.get(key) not in (None, {}, ""):
            metadata[key] = record[key]
    run = record.get("metadata")
    if isinstance(run, dict):
        llm = run.get("llm_config")
        metadata.update({k: run[k] for k in ("agent_class", "dataset") if run.get(k)})
        if isinstance(llm, dict) and llm.get("model"):
            metadata["model"] = llm["model"]
    instruction = record.get("instruction")
    task = instruction if isinstance(instruction, str) and instruction.strip() else first_user_text(steps)
    return make_trajectory(
        source, raw_id=instance_id, location=location, steps=steps, task=task, outcome=result, metadata=metadata
    )


def stream_to_trajectory(events: list[Any], source: Source) -> Trajectory:
    """Convert a saved event stream (the whole file); raises RecordError with the quarantine reason."""
    steps, metadata = events_to_steps(events)
    raw_id = source.path.name.removesuffix(".json")
    result, field = _stream_outcome(events, source.success_threshold)
    if field:
        metadata[OUTCOME_FIELD] = field
    return make_trajectory(source, raw_id=raw_id, location="file", steps=steps, outcome=result, metadata=metadata)


def read(source: Source) -> Iterator[Record]:
    """An event stream yields one record (``file``); ``output.jsonl`` one per line (``line N``)."""
    if is_array_file(source):
        yield from read_document(source, stream_to_trajectory, list)
    else:
        yield from read_lines(source, eval_line_to_trajectory)


def sniff(head: str) -> bool:
    """A JSON array of events (``source`` + ``action``/``observation``) or JSONL with ``instance_id`` + ``history``."""
    view = jsonhead.view(head)
    if view.is_array:
        first = view.first_item
        return first is not None and first.has("source") and first.any("action", "observation")
    return any(line.has("instance_id") and line.any("history", "test_result") for line in view.lines)


FORMAT = Format(
    name=NAME,
    description="OpenHands event stream JSON array, or evaluation output.jsonl {instance_id, history, test_result}",
    suffixes=(".json", ".jsonl"),
    sniff=sniff,
    read=read,
)
