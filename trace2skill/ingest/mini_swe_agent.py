"""mini-swe-agent ``.traj.json`` files: ``{"info", "messages", "trajectory_format": "mini-swe-agent-1[.1]"}``.

``messages`` are OpenAI chat messages with an extra ``extra`` field. Text-based agents
(every v1 run) put one shell command in a fenced ``bash`` (v2: ``mswea_bash_command``)
block of the assistant message, and get its output back as the next ``user`` message;
that pair becomes a ``bash`` tool call and its observation. Tool-calling agents (v2
default) use ``tool_calls`` and ``tool`` messages; models on the Responses API store
Responses items instead. A final ``{"role": "exit"}`` message (v2) ends the run. The
outcome is unknown (``exit_status: Submitted`` is not a grade): join a labels file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from trace2skill.ingest import jsonhead, responses
from trace2skill.ingest.base import Format, Record, RecordError, Source, optional_object, optional_str
from trace2skill.ingest.grader import GRADER_INFO_KEYS
from trace2skill.ingest.jsonfile import read_document
from trace2skill.ingest.openai_chat import assistant_steps
from trace2skill.ingest.steps import add_result, content_text, objects
from trace2skill.ingest.swe_agent import command_step, instance_trajectory
from trace2skill.schema import Step, Trajectory

NAME = "mini_swe_agent"
FORMAT_PREFIX = "mini-swe-agent"
ACTION_BLOCK = re.compile(r"```(?:bash|mswea_bash_command)[ \t]*\n(.*?)\n```", re.DOTALL)


def _text_action(text: str) -> str | None:
    """The command of a text-based reply: its only fenced bash block (two or none is a format error)."""
    blocks = ACTION_BLOCK.findall(text)
    return blocks[0] if len(blocks) == 1 else None


def messages_to_steps(messages: Any) -> tuple[list[Step], dict[str, Any]]:
    """Steps of mini-swe-agent ``messages`` and what the exit message said (``{}`` if none)."""
    steps: list[Step] = []
    names: dict[str, str] = {}
    exit_info: dict[str, Any] = {}
    pending = False  # a text action is waiting for its output
    for where, msg in objects(messages, "'messages' is", "message"):
        role = msg.get("role")
        if role is None and "type" in msg:  # a Responses API item
            responses.item_steps(msg, where, names, steps)
            pending = False
            continue
        if role == "exit":
            extra = msg.get("extra")
            exit_info = dict(extra) if isinstance(extra, dict) else {"content": msg.get("content")}
            continue
        text = content_text(msg.get("content"), where)
        if role == "assistant":
            assistant_steps(msg, text, where, steps, names)
            action = None if msg.get("tool_calls") else _text_action(text)
            if action is not None:
                command_step(action, steps, "bash")
            pending = action is not None
        elif role == "tool":
            add_result(steps, names, text, optional_str(msg, "tool_call_id", where))
        elif role == "user" and pending:
            steps.append(Step(index=len(steps), role="tool", kind="observation", content=text, tool_name="bash"))
            pending = False
        elif role in ("user", "system"):
            steps.append(Step(index=len(steps), role=role, content=text))
            pending = False
        else:
            raise RecordError(f"{where} has unknown role {role!r}")
    return steps, exit_info


def traj_to_trajectory(doc: dict[str, Any], source: Source) -> Trajectory:
    """Convert a parsed trajectory document; raises RecordError with the quarantine reason."""
    info = optional_object(doc, "info")
    if "messages" not in doc:
        raise RecordError("file has no 'messages'")
    steps, exit_info = messages_to_steps(doc["messages"])
    metadata: dict[str, Any] = {k: v for k, v in info.items() if k != "config" and k not in GRADER_INFO_KEYS}
    config = info.get("config")
    model = config.get("model") if isinstance(config, dict) else None
    if isinstance(model, dict) and model.get("model_name"):
        metadata["model_name"] = model["model_name"]
    if exit_info:
        metadata["exit"] = exit_info
    metadata["trajectory_format"] = doc.get("trajectory_format")
    return instance_trajectory(source, source.path.name.removesuffix(".json").removesuffix(".traj"), steps, metadata, info)


def read(source: Source) -> Iterator[Record]:
    """Yield the one record of the file (location ``file``)."""
    return read_document(source, traj_to_trajectory)


def sniff(head: str) -> bool:
    """``trajectory_format: mini-swe-agent-*``; for a head cut before that key, ``info`` + ``messages``
    with mini-swe-agent's ``info`` fields."""
    doc = jsonhead.view(head).document
    if doc is None:
        return False
    fmt = doc.get("trajectory_format")
    if isinstance(fmt, str):
        return fmt.startswith(FORMAT_PREFIX)
    info = doc.get("info")
    return (
        not doc.complete
        and doc.has("info", "messages")
        and not doc.any("trajectory", "history")
        and isinstance(info, dict)
        and ("mini_version" in info or "model_stats" in info)
    )


FORMAT = Format(
    name=NAME,
    description="mini-swe-agent .traj.json: {info, messages, trajectory_format: 'mini-swe-agent-1'}",
    suffixes=(".json",),
    sniff=sniff,
    read=read,
)
