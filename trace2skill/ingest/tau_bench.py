"""tau-bench (v1) results: one JSON array of ``{task_id, reward, info, traj, trial}`` items.

``traj`` holds OpenAI chat messages, converted by :func:`openai_chat.messages_to_steps`.
The file is one JSON document, so it is parsed whole; a file that does not parse
(truncated, corrupt) becomes a single quarantined record located at ``"file"``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from trace2skill.ingest.base import (
    Format,
    Record,
    RecordError,
    Source,
    add_extra_fields,
    as_reward,
    first_user_text,
    json_text,
    json_type,
    make_trajectory,
    optional_int,
    resolve_outcome,
)
from trace2skill.ingest.grader import as_passed, json_texts, non_empty, reward_checks
from trace2skill.ingest.jsonfile import read_array, record_object
from trace2skill.ingest.openai_chat import messages_to_steps
from trace2skill.schema import GraderCheck, GraderView, Trajectory

NAME = "tau_bench"

ITEM_KEYS = frozenset({"task_id", "reward", "info", "traj", "trial"})


def _task_id(item: dict[str, Any]) -> str:
    task_id = item.get("task_id")
    if task_id is None:
        raise RecordError("item has no 'task_id'")
    if isinstance(task_id, bool) or not isinstance(task_id, int | str):
        raise RecordError(f"'task_id' is {json_type(task_id)}, expected an integer or a string")
    trial = optional_int(item, "trial")
    return str(task_id) if trial is None else f"{task_id}:{trial}"


def grader_view(info: dict[str, Any]) -> GraderView | None:
    """What tau-bench's grader knew: the task's expected actions and outputs, and ``reward_info``
    (``info.r_actions`` / ``r_outputs`` scores, ``info.outputs`` found or not)."""
    task = info.get("task") if isinstance(info.get("task"), dict) else {}
    reward_info = info.get("reward_info") if isinstance(info.get("reward_info"), dict) else {}
    details = reward_info.get("info") if isinstance(reward_info.get("info"), dict) else {}
    checks = reward_checks({k.removeprefix("r_"): v for k, v in details.items() if k.startswith("r_")})
    outputs = details.get("outputs")
    if isinstance(outputs, dict):
        checks += [GraderCheck(kind="output", name=str(k), passed=as_passed(v)) for k, v in outputs.items()]
    expected = task.get("actions") or reward_info.get("actions")
    view = GraderView(source="tau_bench info", expected_actions=json_texts(expected), reference_answers=json_texts(task.get("outputs")), checks=checks)
    return non_empty(view)


def _metadata(item: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"task_id": item.get("task_id"), "trial": item.get("trial")}
    task = info.get("task")
    if isinstance(task, dict) and "user_id" in task:
        meta["user_id"] = task["user_id"]
    for key, value in info.items():
        if key not in ("task", "reward_info"):
            meta.setdefault(key, value)
    add_extra_fields(meta, item, ITEM_KEYS)
    return meta


def item_to_trajectory(item: Any, source: Source, location: str) -> Trajectory:
    """Convert one results item; raises RecordError with the quarantine reason."""
    record_object(item, "item", needs="traj")
    info = item.get("info") or {}
    if not isinstance(info, dict):
        raise RecordError(f"'info' is {json_type(info)}, expected an object")
    steps = messages_to_steps(item["traj"])
    if not steps:
        # tau-bench writes an empty traj when the run itself crashed; say why.
        error = info.get("error")
        raise RecordError("'traj' is empty" + (f" (run error: {error})" if error else ""))
    raw_id = _task_id(item)
    result = resolve_outcome(None, as_reward(item.get("reward")), source.success_threshold)
    task_info = info.get("task")
    instruction = task_info.get("instruction") if isinstance(task_info, dict) else None
    task = instruction if isinstance(instruction, str) and instruction.strip() else first_user_text(steps)
    metadata = _metadata(item, info)
    trajectory = make_trajectory(
        source, raw_id=raw_id, location=location, steps=steps, task=task, outcome=result, metadata=metadata
    )
    return trajectory.model_copy(update={"grader": grader_view(info)})


def read(source: Source) -> Iterator[Record]:
    """Yield one Trajectory or QuarantinedRecord per array item (``location`` is ``item N``, from 0)."""
    # An excerpt is the item's JSON text, so a string item keeps its quotes.
    return read_array(source, item_to_trajectory, excerpt=json_text)


def sniff(head: str) -> bool:
    """True for a JSON array whose first item has ``traj`` (or, if cut off, mentions it)."""
    if not head.startswith("["):
        return False
    body = head[1:].lstrip()
    if not body or body.startswith("]"):
        return True
    try:
        first, _ = json.JSONDecoder().raw_decode(body)
    except (json.JSONDecodeError, RecursionError):
        return '"traj"' in head
    return isinstance(first, dict) and "traj" in first


FORMAT = Format(
    name=NAME,
    description="tau-bench v1 results JSON: [{task_id, reward, info, traj, trial}, ...]",
    suffixes=(".json",),
    sniff=sniff,
    read=read,
)
