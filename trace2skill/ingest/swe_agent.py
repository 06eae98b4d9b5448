"""SWE-agent ``.traj`` files: ``{"trajectory": [...], "history": [...], "info": {...}}``, one run per file.

Two generations exist. Old (text actions): ``history`` messages are ``{role, content,
thought?, action?}``; the environment's reply to an action comes back as a ``user``
message. New (function calling, SWE-agent >= 1.0): assistant messages carry OpenAI
``tool_calls`` and results are ``tool`` messages with ``tool_call_ids``; ``content`` may
be a list of parts. Both may hold demonstrations (``is_demo``), which are skipped: they
are not this run. A file with only ``trajectory`` steps (``{thought, action,
observation, query?}``) is read from those. The outcome is unknown: ``exit_status:
submitted`` says nothing about whether the patch works; join a labels file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from trace2skill.ingest import jsonhead
from trace2skill.ingest.base import Format, Record, RecordError, Source, json_type, make_trajectory, optional_list, optional_object
from trace2skill.ingest.grader import GRADER_INFO_KEYS, info_grader
from trace2skill.ingest.jsonfile import read_document
from trace2skill.ingest.openai_chat import add_tool_calls
from trace2skill.ingest.steps import add_result, content_text, objects
from trace2skill.schema import Step, Trajectory

NAME = "swe_agent"

# Keys that mark another format that also has a "history" (OpenHands eval output) or "steps".
FOREIGN_KEYS = ("instance_id", "test_result", "messages", "steps", "simulations", "trajectory_format")
INFO_SKIP = frozenset({"edited_files30", "edited_files50", "edited_files70"}) | GRADER_INFO_KEYS


def command_step(action: str, steps: list[Step], tool_name: str | None = None) -> str:
    """Append a tool-call Step for a text action (a shell/tool command line); returns the tool name.

    The name is ``tool_name`` or the command's first word (``open``, ``edit``, ``python``);
    the arguments are ``{"command": <the action text>}`` as JSON.
    """
    command = action.strip()
    name = tool_name or (command.split(maxsplit=1)[0] if command else "command")
    args = json.dumps({"command": command}, ensure_ascii=False)
    steps.append(Step(index=len(steps), role="assistant", kind="tool_call", tool_name=name, tool_args=args))
    return name


def _thinking(msg: dict[str, Any], steps: list[Step]) -> None:
    for block in msg.get("thinking_blocks") or []:
        if isinstance(block, dict) and isinstance(block.get("thinking"), str) and block["thinking"]:
            steps.append(Step(index=len(steps), role="assistant", kind="reasoning", content=block["thinking"]))


def _assistant(msg: dict[str, Any], where: str, steps: list[Step], names: dict[str, str]) -> str | None:
    """Steps of an assistant message; returns the tool name of its text action, if any."""
    _thinking(msg, steps)
    thought = msg.get("thought")
    text = thought if isinstance(thought, str) and thought.strip() else content_text(msg.get("content"), where)
    calls = optional_list(msg, "tool_calls", where)
    action = msg.get("action")
    if action is not None and not isinstance(action, str):
        raise RecordError(f"{where} 'action' is {json_type(action)}, expected a string")
    if text.strip() or not (calls or (action and action.strip())):  # a bare tool call needs no empty message
        steps.append(Step(index=len(steps), role="assistant", content=text))
    if calls:
        add_tool_calls(calls, where, steps, names)
        return None
    return command_step(action, steps) if action and action.strip() else None


def history_steps(history: Any) -> tuple[list[Step], int]:
    """Steps of a ``history`` message list and the number of demonstration messages skipped."""
    steps: list[Step] = []
    names: dict[str, str] = {}
    demos = 0
    pending: str | None = None  # the text action waiting for its result
    for where, msg in objects(history, "'history' is", "history message"):
        if msg.get("is_demo"):
            demos += 1
            continue
        role = msg.get("role")
        if role == "assistant":
            pending = _assistant(msg, where, steps, names)
            continue
        content = content_text(msg.get("content"), where)
        if role == "tool":
            ids = msg.get("tool_call_ids") or [msg.get("tool_call_id")]
            call_id = ids[0] if isinstance(ids, list) and ids and isinstance(ids[0], str) else None
            add_result(steps, names, content, call_id)
        elif role == "user" and pending is not None:
            # Text-action agents get the command's output back as a user message.
            steps.append(Step(index=len(steps), role="tool", kind="observation", content=content, tool_name=pending))
        elif role in ("user", "system"):
            steps.append(Step(index=len(steps), role=role, content=content))
        else:
            raise RecordError(f"{where} has unknown role {role!r}")
        pending = None
    return steps, demos


def trajectory_steps(items: Any) -> list[Step]:
    """Steps of the ``trajectory`` list (``{thought, action, observation, query?}`` per step)."""
    steps: list[Step] = []
    for i, (where, item) in enumerate(objects(items, "'trajectory' is", "trajectory step")):
        query = item.get("query")
        if i == 0 and isinstance(query, list) and query and all(isinstance(q, dict) for q in query):
            steps.extend(history_steps(query)[0])  # the prompt the first step saw: system + task
        thought, action, observation = (item.get(k) for k in ("thought", "action", "observation"))
        for key, value in (("thought", thought), ("action", action), ("observation", observation)):
            if value is not None and not isinstance(value, str):
                raise RecordError(f"{where} '{key}' is {json_type(value)}, expected a string")
        text = thought or item.get("response") or ""
        steps.append(Step(index=len(steps), role="assistant", content=text if isinstance(text, str) else ""))
        name = command_step(action, steps) if action and action.strip() else None
        steps.append(Step(index=len(steps), role="tool", kind="observation", content=observation or "", tool_name=name))
    return [s.model_copy(update={"index": i}) for i, s in enumerate(steps)]


def _add_final_observation(steps: list[Step], items: Any) -> None:
    # The history ends at the last action; the trajectory also has that action's output.
    if not steps or steps[-1].kind != "tool_call" or not isinstance(items, list) or not items:
        return
    last = items[-1]
    observation = last.get("observation") if isinstance(last, dict) else None
    if isinstance(observation, str) and observation:
        name = steps[-1].tool_name
        steps.append(Step(index=len(steps), role="tool", kind="observation", content=observation, tool_name=name))


def traj_to_trajectory(doc: dict[str, Any], source: Source) -> Trajectory:
    """Convert a parsed ``.traj`` document; raises RecordError with the quarantine reason."""
    info = optional_object(doc, "info")
    metadata: dict[str, Any] = {k: v for k, v in info.items() if k not in INFO_SKIP}
    if doc.get("history"):
        steps, demos = history_steps(doc["history"])
        metadata["steps_from"] = "history"
        _add_final_observation(steps, doc.get("trajectory"))
        if demos:
            metadata["demonstration_messages_skipped"] = demos
    elif doc.get("trajectory"):
        steps = trajectory_steps(doc["trajectory"])
        metadata["steps_from"] = "trajectory"
    else:
        raise RecordError("file has neither 'history' nor 'trajectory' steps")
    if isinstance(doc.get("environment"), str):
        metadata["environment"] = doc["environment"]
    return instance_trajectory(source, source.path.name.removesuffix(".traj"), steps, metadata, info)


def instance_trajectory(source: Source, instance_id: str, steps: list[Step], metadata: dict[str, Any], info: dict[str, Any]) -> Trajectory:
    """The one trajectory of an agent's file on a SWE-bench instance (SWE-agent, mini-swe-agent),
    keyed by the instance id, with the grader view its ``info`` block carries."""
    metadata["instance_id"] = instance_id
    trajectory = make_trajectory(source, raw_id=instance_id, location="file", steps=steps, metadata=metadata)
    return trajectory.model_copy(update={"grader": info_grader(info, f"{source.format} info")})


def read(source: Source) -> Iterator[Record]:
    """Yield the one record of the file (location ``file``)."""
    return read_document(source, traj_to_trajectory)


def sniff(head: str) -> bool:
    """A JSON object with ``trajectory`` or ``history`` and none of the keys other formats use."""
    doc = jsonhead.view(head).document
    if doc is None or not doc.any("trajectory", "history") or doc.any(*FOREIGN_KEYS):
        return False
    history = doc.get("history")
    return not (isinstance(history, list) and history and not (isinstance(history[0], dict) and "role" in history[0]))


FORMAT = Format(
    name=NAME,
    description="SWE-agent .traj: {trajectory: [...], history: [...], info: {exit_status, submission, model_stats}}",
    suffixes=(".traj",),
    sniff=sniff,
    read=read,
)
