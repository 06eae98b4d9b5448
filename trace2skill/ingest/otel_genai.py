"""OpenTelemetry GenAI spans in an OTLP JSON export: ``{"resourceSpans": [{"scopeSpans": [{"spans": [...]}]}]}``.

A file is one OTLP document or JSONL with one document per line (the collector's file
exporter). Spans with ``gen_ai.*`` attributes are grouped into trajectories by
``gen_ai.conversation.id``, else by trace id, and read in start-time order:
``chat``-like spans give their new ``gen_ai.input.messages`` and their
``gen_ai.output.messages`` (each chat call repeats the history; only what was not seen
yet becomes a step), ``execute_tool`` spans give tool calls and results
(``gen_ai.tool.name``, ``gen_ai.tool.call.id``, ``.arguments``, ``.result``). Outcome:
a ``trace2skill.success`` / ``trace2skill.reward`` attribute on any span; else the last span
attribute ending in ``.verdict``/``.passed``/``.resolved``/``.success``/``.reward`` or a
``gen_ai.evaluation.score.label``/``.value``; else an error status on an ``invoke_agent`` (or
root) span means failure; else unknown.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from trace2skill.ingest import jsonhead, otlp
from trace2skill.ingest.base import (
    Format,
    Outcome,
    Record,
    RecordError,
    Source,
    args_text,
    as_reward,
    as_text,
    guarded,
    json_type,
    make_trajectory,
    resolve_outcome,
)
from trace2skill.ingest.otlp import Span
from trace2skill.ingest.outcomes import OUTCOME_FIELD, find_outcome
from trace2skill.ingest.steps import ROLE_ALIASES, add_call, add_result, message_role
from trace2skill.schema import QuarantinedRecord, Role, Step, StepKind, Trajectory

NAME = "otel_genai"
CHAT_OPS = frozenset({"chat", "text_completion", "generate_content"})
MEDIA_PARTS = {"blob": "[{modality}]", "uri": "[{modality}]", "file": "[file]"}
ROLES = {name: role for name, role in ROLE_ALIASES.items() if name == role}  # the four roles by their own names


def _json_attr(span: Span, key: str) -> list[Any]:
    value = span.attrs.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RecordError(f"span {span.span_id} '{key}' is not valid JSON") from None
    if not isinstance(value, list):
        raise RecordError(f"span {span.span_id} '{key}' is {json_type(value)}, expected an array")
    return value


def _message_key(msg: dict[str, Any]) -> str:
    return json.dumps(
        {"role": msg.get("role"), "parts": msg.get("parts", msg.get("content"))}, sort_keys=True, ensure_ascii=False
    )


class Conversation:
    """Steps of one trajectory, built span by span without repeating what chat calls re-send."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.seen: Counter[str] = Counter()
        self.calls: set[str] = set()
        self.results: set[str] = set()
        self.names: dict[str, str] = {}

    def add(self, role: Role, kind: StepKind = "message", **fields: Any) -> None:
        self.steps.append(Step(index=len(self.steps), role=role, kind=kind, **fields))

    def part(self, role: Role, part: Any, where: str) -> None:
        if not isinstance(part, dict):
            raise RecordError(f"{where} is {json_type(part)}, expected an object")
        ptype = part.get("type")
        if ptype == "tool_call":
            call_id = part.get("id") if isinstance(part.get("id"), str) else None
            if call_id in self.calls:
                return
            name = str(part.get("name") or "")
            add_call(self.steps, self.names, name, args_text(part.get("arguments"), where), call_id)
            if call_id:
                self.calls.add(call_id)
        elif ptype == "tool_call_response":
            call_id = part.get("id") if isinstance(part.get("id"), str) else None
            if call_id in self.results:
                return
            add_result(self.steps, self.names, as_text(part.get("response", part.get("result"))), call_id)
            if call_id:
                self.results.add(call_id)
        elif ptype in ("reasoning", "thinking"):
            self.add("assistant", "reasoning", content=as_text(part.get("content")))
        elif ptype == "text":
            self.add(role, "observation" if role == "tool" else "message", content=as_text(part.get("content")))
        else:
            template = MEDIA_PARTS.get(str(ptype), f"[{ptype}]")
            self.add(role, content=template.format(modality=part.get("modality") or "media"))

    def message(self, msg: Any, where: str) -> None:
        if not isinstance(msg, dict):
            raise RecordError(f"{where} is {json_type(msg)}, expected an object")
        role = message_role(msg, where, ROLES)
        parts = msg.get("parts")
        if parts is None:  # instrumentations that log {role, content}
            parts = [{"type": "text", "content": as_text(msg.get("content"))}]
        if not isinstance(parts, list):
            raise RecordError(f"{where} parts are {json_type(parts)}, expected an array")
        for i, part in enumerate(parts):
            self.part(role, part, f"{where} part {i}")

    def chat(self, span: Span) -> None:
        """The messages of a model call that were not seen in an earlier call."""
        for i, block in enumerate(_json_attr(span, "gen_ai.system_instructions")):
            msg = {"role": "system", "parts": [block]}
            if not self.seen[_message_key(msg)]:
                self.seen[_message_key(msg)] += 1
                self.message(msg, f"span {span.span_id} system instruction {i}")
        local: Counter[str] = Counter()
        for i, msg in enumerate(_json_attr(span, "gen_ai.input.messages")):
            key = _message_key(msg) if isinstance(msg, dict) else repr(msg)
            local[key] += 1
            if local[key] > self.seen[key]:
                self.seen[key] = local[key]
                self.message(msg, f"span {span.span_id} input message {i}")
        for i, msg in enumerate(_json_attr(span, "gen_ai.output.messages")):
            if isinstance(msg, dict):
                self.seen[_message_key(msg)] += 1
            self.message(msg, f"span {span.span_id} output message {i}")

    def tool(self, span: Span) -> None:
        """An ``execute_tool`` span: the call (unless a chat output had it) and its result."""
        attrs = span.attrs
        call_id = attrs.get("gen_ai.tool.call.id")
        call_id = str(call_id) if call_id is not None else None
        name = str(attrs.get("gen_ai.tool.name") or span.name)
        self.part(
            "assistant",
            {"type": "tool_call", "id": call_id, "name": name, "arguments": attrs.get("gen_ai.tool.call.arguments")},
            f"span {span.span_id}",
        )
        result = attrs.get("gen_ai.tool.call.result")
        if result is None and span.error:
            result = f"[error] {span.status_message}".strip()
        if result is not None:
            self.part("tool", {"type": "tool_call_response", "id": call_id, "response": result}, f"span {span.span_id}")


# Span attributes that state an outcome besides ``trace2skill.success``/``.reward``: any key ending
# in one of these, and the GenAI evaluation score (semantic conventions' ``gen_ai.evaluation.*``).
OUTCOME_SUFFIXES = (".verdict", ".passed", ".resolved", ".success", ".reward")
EVALUATION_ATTRS = {"gen_ai.evaluation.score.label": "verdict", "gen_ai.evaluation.score.value": "score"}


def _outcome(spans: list[Span], threshold: float) -> tuple[Outcome, str | None]:
    for span in spans:
        success, reward = span.attrs.get("trace2skill.success"), span.attrs.get("trace2skill.reward")
        if isinstance(success, bool) or reward is not None:
            field = "trace2skill.success" if isinstance(success, bool) else "trace2skill.reward"
            return resolve_outcome(success, as_reward(reward, "trace2skill.reward"), threshold), field
    for span in reversed(spans):  # the last verdict wins: a grader span comes after the run
        for key, value in span.attrs.items():
            role = EVALUATION_ATTRS.get(key) or (key.rsplit(".", 1)[-1] if key.endswith(OUTCOME_SUFFIXES) else None)
            found = find_outcome({role: value}, "", threshold) if role else None
            if found is not None:
                return (found.success, found.reward), key
    ids = {s.span_id for s in spans}
    top = [s for s in spans if s.op == "invoke_agent"] or [s for s in spans if s.parent_id not in ids]
    return ((False, None), "status (error)") if any(s.error for s in top) else ((None, None), None)


def group_to_trajectory(key: str, spans: list[Span], source: Source) -> Trajectory:
    """Convert the spans of one conversation (sorted by start time); RecordError with the reason."""
    conv = Conversation()
    has_chat = any(s.op in CHAT_OPS for s in spans)
    for span in spans:
        if span.op == "execute_tool":
            conv.tool(span)
        elif span.op in CHAT_OPS or (not has_chat and span.attrs.get("gen_ai.input.messages") is not None):
            conv.chat(span)
    steps = conv.steps
    metadata: dict[str, Any] = {"trace_ids": list(dict.fromkeys(s.trace_id for s in spans)), "spans": len(spans)}
    for attr, meta_key in (
        ("gen_ai.conversation.id", "conversation_id"),
        ("gen_ai.agent.name", "agent_name"),
        ("service.name", "service_name"),
    ):
        value = next((s.attrs[attr] for s in spans if s.attrs.get(attr) is not None), None)
        if value is not None:
            metadata[meta_key] = value
    models = {s.attrs.get("gen_ai.response.model") or s.attrs.get("gen_ai.request.model") for s in spans} - {None}
    if models:
        metadata["models"] = sorted(map(str, models))
    for direction in ("input", "output"):
        tokens = [s.attrs.get(f"gen_ai.usage.{direction}_tokens") for s in spans]
        if any(isinstance(t, int) for t in tokens):
            metadata[f"{direction}_tokens"] = sum(t for t in tokens if isinstance(t, int))
    result, field = _outcome(spans, source.success_threshold)
    if field:
        metadata[OUTCOME_FIELD] = field
    return make_trajectory(
        source, raw_id=key, location=f"conversation {key}", steps=steps, outcome=result, metadata=metadata
    )


def read(source: Source) -> Iterator[Record]:
    """Yield a QuarantinedRecord per bad line or span, then one Trajectory per conversation/trace."""
    spans: list[Span] = []
    counter = [0]
    for item in otlp.documents(source):
        if isinstance(item, QuarantinedRecord):
            yield item
            continue
        prefix, doc = item
        for span in otlp.document_spans(doc, prefix, counter):
            if isinstance(span, otlp.Span):
                spans.append(span)
            else:
                yield source.quarantine(span[0], span[1], json.dumps(span[2], ensure_ascii=False, default=str))
    spans.sort(key=lambda s: (s.start, s.order))
    conversation_of: dict[str, str] = {}
    for span in spans:
        cid = span.attrs.get("gen_ai.conversation.id")
        if cid is not None:
            conversation_of.setdefault(span.trace_id, str(cid))
    groups: dict[str, list[Span]] = {}
    for span in spans:
        if any(k.startswith("gen_ai.") for k in span.attrs):
            groups.setdefault(conversation_of.get(span.trace_id, span.trace_id), []).append(span)
    for key, group in groups.items():
        yield guarded(source, f"conversation {key}", key, group_to_trajectory, key, group, source)
    if spans and not groups:
        yield source.quarantine("file", f"none of the {len(spans)} spans has gen_ai.* attributes")


def sniff(head: str) -> bool:
    """An OTLP JSON document (or JSONL of them): an object with ``resourceSpans``."""
    view = jsonhead.view(head)
    return (view.document is not None and view.document.has("resourceSpans")) or view.any_line("resourceSpans")


FORMAT = Format(
    name=NAME,
    description="OpenTelemetry GenAI spans, OTLP JSON export: {resourceSpans: [{scopeSpans: [{spans}]}]}",
    suffixes=(".json", ".jsonl"),
    sniff=sniff,
    read=read,
)
