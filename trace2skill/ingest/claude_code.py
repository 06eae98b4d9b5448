"""Claude Code sessions: ``~/.claude/projects/<project>/<sessionId>.jsonl``, one event per line.

Events are ``{type: user|assistant|system, uuid, parentUuid, sessionId, isSidechain,
timestamp, message{role, content: str | [text|thinking|tool_use|tool_result|image]}}``;
``summary``, ``file-history-snapshot``, ``queue-operation`` and other bookkeeping lines
are not steps. A file holds one or more sessions, grouped by ``sessionId`` (one
trajectory each, raw id = the session id). Subagents (the Task tool) run as sidechains:
inline in old files, in ``agent-<id>.jsonl`` files next to the session (2.0.x) or in
``<sessionId>/subagents/`` (2.1.x). Their events are merged into the parent session by
timestamp, marked ``[subagent <id>]`` in the step content and listed in
``metadata["sidechain_steps"]``; an agent file whose parent session file is present
yields nothing itself (its lines are read with the parent). A bad line is quarantined
on its own and the rest of its session is kept. The outcome comes from a labels file.
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from trace2skill.ingest import jsonhead
from trace2skill.ingest.base import (
    REPAIRS_KEY,
    SHAPE_ERRORS,
    Format,
    Record,
    RecordError,
    Source,
    clip,
    guarded,
    make_trajectory,
    repair_scope,
    repaired,
    shape_reason,
    str_or_none,
)
from trace2skill.ingest.jsonfile import JsonLine, iter_jsonl, record_object
from trace2skill.ingest.outcomes import OUTCOME_FIELD, Found, first_outcome
from trace2skill.ingest.steps import content_text
from trace2skill.schema import QuarantinedRecord, Step, Trajectory

NAME = "claude_code"
EVENT_TYPES = frozenset({"user", "assistant", "system"})
SNIFF_TYPES = EVENT_TYPES | {"summary", "file-history-snapshot", "queue-operation", "custom-title", "progress"}


@dataclass
class Event:
    """One conversation line, already converted to (unnumbered) steps."""

    steps: list[Step]
    timestamp: str
    sidechain: bool
    agent_id: str | None
    task_text: str | None  # the user's own words, when this line is one
    uuid: str | None = None


@dataclass
class Session:
    """The events of one sessionId, per file, plus what the bookkeeping lines said."""

    files: dict[str, list[Event]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def add(self, file: str, event: Event) -> None:
        self.files.setdefault(file, []).append(event)


def _user_steps(content: Any, where: str) -> tuple[list[Step], str | None]:
    if not isinstance(content, str | list):
        content = repaired(content, "content")
    if isinstance(content, str):
        return [Step(index=0, role="user", content=content)], content
    steps: list[Step] = []
    texts: list[str] = []
    for i, part in enumerate(content):
        if isinstance(part, dict) and part.get("type") == "tool_result":
            text = content_text(part.get("content"), f"{where} part {i}")
            if part.get("is_error"):
                text = f"[error] {text}"
            call_id = part.get("tool_use_id") if isinstance(part.get("tool_use_id"), str) else None
            steps.append(Step(index=0, role="tool", kind="observation", content=text, tool_call_id=call_id))
        else:
            texts.append(content_text([part], where))
    if texts:
        steps.insert(0, Step(index=0, role="user", content="\n".join(texts)))
    return steps, "\n".join(texts) or None


def _assistant_steps(content: Any, where: str) -> list[Step]:
    if not isinstance(content, str | list):
        content = repaired(content, "content")
    if isinstance(content, str):
        return [Step(index=0, role="assistant", content=content)]
    steps: list[Step] = []
    for i, part in enumerate(content):
        ptype = part.get("type") if isinstance(part, dict) else None
        if ptype == "thinking":
            steps.append(Step(index=0, role="assistant", kind="reasoning", content=str(part.get("thinking") or "")))
        elif ptype == "redacted_thinking":
            steps.append(Step(index=0, role="assistant", kind="reasoning", content="[redacted thinking]"))
        elif ptype in ("tool_use", "server_tool_use"):
            name = part.get("name")
            if not isinstance(name, str) or not name:
                raise RecordError(f"{where} part {i} tool_use has no 'name'")
            args = json.dumps(part.get("input") or {}, ensure_ascii=False)
            call_id = part.get("id") if isinstance(part.get("id"), str) else None
            steps.append(
                Step(index=0, role="assistant", kind="tool_call", tool_name=name, tool_args=args, tool_call_id=call_id)
            )
        elif isinstance(ptype, str) and ptype.endswith("_tool_result"):  # server tools (web search)
            text = (
                content_text(part.get("content"), f"{where} part {i}")
                if isinstance(part.get("content"), list | str)
                else json.dumps(part.get("content"), ensure_ascii=False)
            )
            steps.append(
                Step(index=0, role="tool", kind="observation", content=text, tool_call_id=part.get("tool_use_id"))
            )
        else:
            steps.append(Step(index=0, role="assistant", content=content_text([part], where)))
    return steps or [Step(index=0, role="assistant", content="")]


def event_steps(record: dict[str, Any], where: str) -> tuple[list[Step], str | None]:
    """Steps of one user/assistant/system line and, for a user's own message, its text."""
    rtype = record["type"]
    if rtype == "system":
        text = record.get("content")
        subtype = record.get("subtype")
        return [
            Step(index=0, role="system", content=text if isinstance(text, str) and text else f"[{subtype or 'system'}]")
        ], None
    message = record.get("message")
    if not isinstance(message, dict):
        raise RecordError(f"{where} has no 'message' object")
    role = message.get("role", rtype)
    if role != rtype:
        raise RecordError(f"message has unknown role {role!r} (line type {rtype!r})")
    if rtype == "assistant":
        return _assistant_steps(message.get("content"), where), None
    steps, text = _user_steps(message.get("content"), where)
    return steps, None if record.get("isMeta") else text


def _parse_line(line: JsonLine, file: str, sessions: dict[str, Session], loose: dict[str, Any]) -> str | None:
    """Add one line to its session (returning the session id) or to the file's bookkeeping (``None``)."""
    record = line.value
    record_object(record, "record")
    rtype = record.get("type")
    found = _line_outcome(record)
    sid_of_line = str_or_none(record.get("sessionId"))
    if found is not None and sid_of_line:
        sessions.setdefault(sid_of_line, Session()).info[OUTCOME_KEY] = found  # the last line that states one wins
    if rtype == "summary":
        loose.setdefault("summaries", []).append(record.get("summary"))
        return None
    if not isinstance(rtype, str) or rtype not in EVENT_TYPES:
        loose.setdefault("ignored_events", Counter())[clip(str(rtype), 40)] += 1
        return None
    sid = record.get("sessionId")
    if not isinstance(sid, str) or not sid:
        raise RecordError(f"{rtype} line has no 'sessionId'")
    steps, task_text = event_steps(record, f"{rtype} line")
    agent_id = str_or_none(record.get("agentId"))
    if agent_id is None and Path(file).name.startswith("agent-"):
        agent_id = Path(file).stem.removeprefix("agent-")
    timestamp = str_or_none(record.get("timestamp")) or ""
    session = sessions.setdefault(sid, Session())
    for key in ("cwd", "gitBranch", "version"):
        if record.get(key) and key not in session.info:
            session.info[key] = record[key]
    model = record["message"].get("model") if isinstance(record.get("message"), dict) else None
    if isinstance(model, str):
        session.info.setdefault("models", {})[model] = None
    sidechain = bool(record.get("isSidechain"))
    session.add(file, Event(steps, timestamp, sidechain, agent_id, task_text, str_or_none(record.get("uuid"))))
    return sid


OUTCOME_KEY = "_outcome"
# Claude Code writes no grade; a harness that adds one puts it on a line of its own: a top-level
# ``verdict``/``passed``/``resolved``/``reward``, or any of the outcome rules in an ``extra`` or
# ``metadata`` block of a line.
LINE_OUTCOME_KEYS = ("verdict", "passed", "resolved", "reward")


def _line_outcome(record: dict[str, Any]) -> Found | None:
    own = {k: record[k] for k in LINE_OUTCOME_KEYS if k in record}
    return first_outcome([("", own), ("extra", record.get("extra")), ("metadata", record.get("metadata"))], 1.0)


def _read_file(
    path: Path, source: Source, label: str, sessions: dict[str, Session], loose: dict[str, Any]
) -> Iterator[QuarantinedRecord]:
    """Parse one session file into ``sessions``; yield a QuarantinedRecord per bad line."""
    file_source = Source(path=path, format=source.format, id_scope=source.scope)
    for line in iter_jsonl(file_source):
        if isinstance(line, QuarantinedRecord):
            yield source.quarantine(f"{label}{line.location}", line.reason, line.excerpt)
            continue
        try:
            with repair_scope() as repairs:
                sid = _parse_line(line, str(path), sessions, loose)
            if repairs and sid is not None:
                sessions[sid].info.setdefault(REPAIRS_KEY, Counter()).update(repairs)
        except RecordError as exc:
            yield source.quarantine(f"{label}{line.location}", str(exc), line.text)
        except SHAPE_ERRORS as exc:
            yield source.quarantine(f"{label}{line.location}", shape_reason(exc), line.text)


def _first_session_id(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            for _, raw in zip(range(50), fh, strict=False):
                try:
                    record = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    continue
                sid = str_or_none(record.get("sessionId")) if isinstance(record, dict) else None
                if sid:
                    return sid
    except OSError:
        return None
    return None


@lru_cache(maxsize=16)
def _agent_files_by_session(directory: Path, _mtime_ns: int) -> dict[str, tuple[Path, ...]]:
    index: dict[str, list[Path]] = {}
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith("agent-") and entry.name.endswith(".jsonl") and entry.is_file():
                sid = _first_session_id(Path(entry.path))
                if sid:
                    index.setdefault(sid, []).append(Path(entry.path))
    return {sid: tuple(sorted(paths)) for sid, paths in index.items()}


def subagent_files(session_file: Path, session_id: str) -> list[Path]:
    """The agent-*.jsonl files of ``session_id``: in ``<sessionId>/subagents/`` or next to the session file."""
    found: list[Path] = []
    if _plain_name(session_id):
        nested = session_file.parent / session_id / "subagents"
        with contextlib.suppress(OSError):  # a name too long for the file system
            found = sorted(nested.glob("*.jsonl")) if nested.is_dir() else []
    directory = session_file.parent
    flat = _agent_files_by_session(directory, directory.stat().st_mtime_ns).get(session_id, ())
    return [*found, *(p for p in flat if p != session_file)]


def parent_session_file(agent_file: Path, session_id: str) -> Path | None:
    """The session file an agent file belongs to, when it exists on disk."""
    if not _plain_name(session_id):
        return None
    candidates = [agent_file.parent / f"{session_id}.jsonl"]
    if agent_file.parent.name == "subagents":
        candidates.append(agent_file.parent.parent.parent / f"{session_id}.jsonl")
    with contextlib.suppress(OSError):
        return next((c for c in candidates if c.is_file() and c != agent_file), None)
    return None


def _plain_name(session_id: str) -> bool:
    """A session id usable as a file name: one path component, not a way out of the folder."""
    return 0 < len(session_id) <= 200 and session_id not in (".", "..") and not any(c in session_id for c in "/\\\0\n")


def _merged(session: Session) -> list[Event]:
    """All events of a session, each file in its own order, interleaved by timestamp; a repeated uuid once."""
    streams = []
    for order, events in enumerate(session.files.values()):
        keyed, last = [], ""
        for n, event in enumerate(events):
            last = event.timestamp or last  # a line without a time stays after its predecessor
            keyed.append((last, order, n, event))
        streams.append(keyed)
    seen: set[str] = set()
    merged: list[Event] = []
    for *_, event in heapq.merge(*streams, key=lambda item: item[:3]):
        if event.uuid is not None:
            if event.uuid in seen:
                continue
            seen.add(event.uuid)
        merged.append(event)
    return merged


def session_to_trajectory(sid: str, session: Session, source: Source, loose: dict[str, Any]) -> Trajectory:
    """Number the steps of one merged session; raises RecordError when it has none."""
    steps: list[Step] = []
    names: dict[str, str] = {}
    sidechain_steps: list[int] = []
    events = _merged(session)
    # The user's first own words; a subagent-only session has its Task prompt instead.
    texts = [e.task_text for e in events if e.task_text and not e.sidechain] or [
        e.task_text for e in events if e.task_text
    ]
    task = texts[0] if texts else ""
    for event in events:
        for step in event.steps:
            update: dict[str, Any] = {"index": len(steps)}
            if step.kind == "tool_call" and step.tool_call_id and step.tool_name:
                names[step.tool_call_id] = step.tool_name
            if step.kind == "observation" and step.tool_call_id:
                update["tool_name"] = names.get(step.tool_call_id)
            if event.sidechain:
                mark = f"[subagent {event.agent_id}]" if event.agent_id else "[subagent]"
                update["content"] = f"{mark} {step.content}" if step.content else mark
                sidechain_steps.append(len(steps))
            steps.append(step.model_copy(update=update))
    if not steps:
        raise RecordError(f"session {sid} has no user or assistant messages")
    only_sidechain = all(e.sidechain for e in events)
    agent_ids = sorted({e.agent_id for e in events if e.agent_id})
    info = dict(session.info)
    found: Found | None = info.pop(OUTCOME_KEY, None)
    metadata: dict[str, Any] = {"session_id": sid, **info}
    outcome: tuple[bool | None, float | None] = (None, None)
    if found is not None:
        by_reward = found.reward is not None and found.field.endswith(("reward", "score"))
        outcome = (found.reward >= source.success_threshold if by_reward else found.success, found.reward)  # type: ignore[operator]
        metadata[OUTCOME_FIELD] = found.field
    if "models" in metadata:
        metadata["models"] = list(metadata["models"])
    if REPAIRS_KEY in metadata:
        metadata[REPAIRS_KEY] = dict(metadata[REPAIRS_KEY])
    if sidechain_steps:
        metadata["sidechain_steps"] = sidechain_steps
        metadata["subagents"] = agent_ids
    if len(session.files) > 1:
        metadata["files"] = [Path(f).name for f in session.files]
    for key, value in loose.items():
        metadata[key] = dict(value) if isinstance(value, Counter) else value
    raw_id = f"{sid}:{agent_ids[0]}" if only_sidechain and len(agent_ids) == 1 else sid
    return make_trajectory(
        source, raw_id=raw_id, location=f"session {sid}", task=task, steps=steps, outcome=outcome, metadata=metadata
    )


def read(source: Source) -> Iterator[Record]:
    """Yield a QuarantinedRecord per bad line, then one Trajectory per session (``session <id>``)."""
    sessions: dict[str, Session] = {}
    loose: dict[str, Any] = {}
    yield from _read_file(source.path, source, "", sessions, loose)
    had_sessions = bool(sessions)
    for sid, session in list(sessions.items()):
        events = session.files[str(source.path)]
        if all(e.sidechain for e in events):
            if parent_session_file(source.path, sid) is not None:
                del sessions[sid]  # read with its parent session
            continue
        for agent_file in subagent_files(source.path, sid):
            yield from _read_file(agent_file, source, f"{agent_file.name} ", sessions, loose)
    for sid, session in sessions.items():
        yield guarded(source, f"session {sid}", sid, session_to_trajectory, sid, session, source, loose)
    if not had_sessions and loose:
        counts = {**loose.get("ignored_events", {}), "summary": len(loose.get("summaries", []))}
        listed = ", ".join(f"{k} x{v}" for k, v in counts.items() if v)
        yield source.quarantine("file", f"file has no user or assistant messages (only {listed})")


def sniff(head: str) -> bool:
    """JSONL whose first lines are Claude Code events: a known ``type`` with a ``sessionId``, a summary or a
    file-history snapshot."""
    for line in jsonhead.view(head).lines:
        rtype = line.get("type")
        if line.has("sessionId") and (rtype in SNIFF_TYPES or line.has("parentUuid", "uuid")):
            return True
        if (rtype == "summary" and line.has("leafUuid")) or (rtype == "file-history-snapshot" and line.has("snapshot")):
            return True
    return False


FORMAT = Format(
    name=NAME,
    description="Claude Code session JSONL: {type, uuid, parentUuid, sessionId, isSidechain, message} per line",
    suffixes=(".jsonl",),
    sniff=sniff,
    read=read,
)
