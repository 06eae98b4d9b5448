"""Redacting structured records with the text scanner: quoted literals, JSON values under
credential keys, tool-call arguments, and every field of a trajectory."""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from functools import lru_cache
from typing import Any

import pydantic_core
from pydantic import TypeAdapter

from trace2skill.redact.keys import key_kind
from trace2skill.redact.patterns import FORMAT_KINDS, PATTERN, PLACEHOLDER, REDACTIONS_KEY, format_kind, is_placeholder
from trace2skill.redact.scan import authorization_span, is_credential_value, redact_counting
from trace2skill.schema import Step, Trajectory


# A quoted string in a quarantine reason (``repr``) or an excerpt (raw JSON), complete on one line.
_LITERAL = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*\"""")


def redact_quoting_text(text: str) -> tuple[str, Counter[str]]:
    """:func:`redact_text` for a text that quotes values as string literals (a quarantine reason
    quoting with ``repr``, an excerpt of raw JSON): each literal is also decoded, redacted and
    written back in the same quoting, so a value's escapes cannot hide a secret."""
    counts: Counter[str] = Counter()

    def literal(m: re.Match[str]) -> str:
        quoted = m.group(0)
        try:
            value = json.loads(quoted) if quoted[0] == '"' else ast.literal_eval(quoted)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return quoted
        if not isinstance(value, str):
            return quoted
        redacted = redact_counting(value, counts)
        if redacted is value:
            return quoted
        return json.dumps(redacted, ensure_ascii=False) if quoted[0] == '"' else repr(redacted)

    return redact_counting(_LITERAL.sub(literal, text), counts), counts


def _redact_value(value: Any, counts: Counter[str], key: str | None = None) -> Any:
    """Redact strings inside a JSON-like value; a string stored under a credential key is redacted whole."""
    if isinstance(value, str):
        before = sum(counts.values())
        out = redact_counting(value, counts)
        kind = key_kind(key) if key else None
        if kind == "authorization" and sum(counts.values()) == before:
            found = authorization_span(value, 0, len(value), True)
            if found is None:
                return out
            s, e, kind = found
            counts[kind] += 1
            return value[:s] + PLACEHOLDER.format(kind=kind) + value[e:]
        if kind and sum(counts.values()) == before and not is_placeholder(value):
            kind = format_kind(value, kind)
            if kind in FORMAT_KINDS or is_credential_value(kind, key or "", value):
                counts[kind] += 1
                return PLACEHOLDER.format(kind=kind)
        return out
    if isinstance(value, dict):  # keys too: a producer's counter of odd names may hold any text
        return {
            (redact_counting(k, counts) if isinstance(k, str) else k): _redact_value(v, counts, k if isinstance(k, str) else None)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_value(v, counts, key) for v in value]
    return value


def _redact_args(args: str, counts: Counter[str]) -> str:
    """Tool-call arguments: the text as emitted, and the strings inside it once decoded.

    A value inside a JSON string reads differently escaped (``\\n`` is no line end, ``\\"``
    no quote), so the decoded strings are scanned too; when they hold a secret the text did not
    show, the arguments are written back from the redacted values (compact JSON).
    """
    if PATTERN.search(args) is None:
        return args  # no candidate in the text: none in its strings either (they are the same characters)
    out = redact_counting(args, counts)
    if out.lstrip()[:1] not in ("{", "["):
        return out
    try:
        parsed = pydantic_core.from_json(out)
    except ValueError:
        return out
    before = sum(counts.values())
    walked = _redact_value(parsed, counts)
    return out if sum(counts.values()) == before else json.dumps(walked, ensure_ascii=False)


# Trajectory fields that hold no free text (ids, names of formats and files, numbers) or are
# redacted one by one below; any other field (a grader's view...) is redacted as JSON values.
_OWN_FIELDS = frozenset({"id", "source_format", "source_file", "raw_id", "task", "steps", "success", "reward", "metadata"})


def _redact_step(step: Step, counts: Counter[str]) -> Step:
    update = {}
    for name in ("content", "tool_name", "tool_call_id"):
        text = getattr(step, name)
        if text:
            out = redact_counting(text, counts)
            if out is not text:
                update[name] = out
    if step.tool_args:
        args = _redact_args(step.tool_args, counts)
        if args is not step.tool_args:
            update["tool_args"] = args
    return step.model_copy(update=update) if update else step


def _redact_other_fields(traj: Trajectory, counts: Counter[str]) -> dict[str, Any]:
    """Redacted values of the Trajectory fields beyond the known ones, for those that changed."""
    update: dict[str, Any] = {}
    for name, info in type(traj).model_fields.items():
        value = getattr(traj, name)
        if name in _OWN_FIELDS or value is None or isinstance(value, bool | int | float):
            continue
        plain = pydantic_core.to_jsonable_python(value)
        before = sum(counts.values())
        redacted = _redact_value(plain, counts, name)
        if sum(counts.values()) != before:
            update[name] = _adapter(info.annotation).validate_python(redacted)
    return update


@lru_cache(maxsize=32)
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


def redact_trajectory(traj: Trajectory) -> Trajectory:
    """A copy of ``traj`` with secrets redacted in every text it carries.

    The task, the raw id, every step (content, tool name, call id, arguments as text and as
    decoded JSON), the metadata values, and any other field (a grader's view) as JSON values.
    ``metadata["redactions"]`` holds the number of redactions per kind (absent when
    none; added to any counts an earlier pass left there). The secrets themselves are
    never stored.
    """
    counts: Counter[str] = Counter()
    task = redact_counting(traj.task, counts)
    raw_id = redact_counting(traj.raw_id, counts)
    steps = [_redact_step(step, counts) for step in traj.steps]
    previous = traj.metadata.get(REDACTIONS_KEY)
    metadata = _redact_value({k: v for k, v in traj.metadata.items() if k != REDACTIONS_KEY}, counts)
    others = _redact_other_fields(traj, counts)
    if isinstance(previous, dict) and all(isinstance(v, int) for v in previous.values()):
        counts.update(previous)
    if counts:  # absent means nothing was redacted, so clean records keep their metadata as read
        metadata[REDACTIONS_KEY] = dict(sorted(counts.items()))
    return traj.model_copy(update={"task": task, "raw_id": raw_id, "steps": steps, "metadata": metadata, **others})
