"""Scanning texts and trajectories for secrets with the compiled pattern, and replacing them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from trace2skill.redact.patterns import (
    FORMAT_KINDS,
    KEY_NAME,
    PATTERN,
    PLACEHOLDER,
    POSITION_KINDS,
    REDACTIONS_KEY,
    RULES,
    format_kind,
    is_placeholder,
    key_kind,
    token_value,
)
from trace2skill.schema import Trajectory


def _unquote(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of a value without its quotes (``"x"``, ``'x'``, ``\\"x\\"``; closing quote optional)."""
    i = start
    while i < end and text[i] == "\\":
        i += 1
    if i < end and text[i] in "\"'":
        quote = text[i]
        s = i + 1
        e = end
        if e > s and text[e - 1] == quote:
            e -= 1
            while i > start and e > s and text[e - 1] == "\\":  # \" closes \"
                e -= 1
        return s, e
    return start, end


_PATH_OR_URL = re.compile(r"~?\.{0,2}/|[A-Za-z][A-Za-z0-9+.-]*://")
_CODE_VALUE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")  # module.attr, self.config.key
_NOT_NAME_CHAR = re.compile(r"[^A-Za-z_.]")


def _credential_value(kind: str, key: str, value: str) -> bool:
    """Whether ``value``, stored under credential key ``key``, is plausibly the credential itself."""
    if value.lower() == key.lower() or _PATH_OR_URL.match(value) or value.startswith("arn:"):
        return False  # NAME = "NAME", key: /path/to/key.pem, token_url: https://..., an AWS ARN
    if not any(c.isalnum() for c in value):
        return False  # getpass('Password: ') read as key, separator and the value ")"
    if kind == "token":
        return token_value(value)  # "token" is also a word-piece: {"token": "Hello"}, pad_token="[PAD]"
    return True


def _keyword_secret(text: str, m: re.Match[str], group: str, floor: int) -> tuple[int, int, str] | None:
    """The value after ``key:``/``key=`` if it is a credential; its kind comes from the key or its format."""
    vs, ve = m.span(group)
    s, e = _unquote(text, vs, ve)
    value = text[s:e]
    if is_placeholder(value):
        return None
    sep = m.start()
    gap_end = sep
    while gap_end > floor and text[gap_end - 1] in " \"'\\":
        gap_end -= 1
    key_start = gap_end
    while key_start > max(floor, gap_end - 64) and (text[key_start - 1].isalnum() or text[key_start - 1] in "_-."):
        key_start -= 1
    key = text[key_start:gap_end]
    kind = key_kind(key)
    if kind is None:  # a key with a space in it ("API Key")
        name = KEY_NAME.search(text, max(floor, gap_end - 24), gap_end)
        kind = (key_kind(name.group(0)) if name else None) or "secret"
    kind = format_kind(value, kind)
    if kind in POSITION_KINDS and not _credential_value(kind, key, value):
        return None
    if s == vs and kind in POSITION_KINDS:  # unquoted and not a known token format
        env_style = gap_end == sep and text[sep] == "=" and key.upper() == key and vs == sep + 1
        # key=value in code is usually key=variable or key=module.call(...); a secret
        # there has a digit or a symbol.
        if not env_style and (
            len(value) < 4
            or not _NOT_NAME_CHAR.search(value)
            or _CODE_VALUE.fullmatch(value)
            or text[e : e + 1] in ("(", "[")
        ):
            return None
    return s, e, kind


def _secret(text: str, m: re.Match[str], floor: int) -> tuple[int, int, str] | None:
    """(start, end, kind) of the secret in match ``m``, or None if the match is not a secret.

    ``floor`` is the end of the previous secret: the key name before a separator is
    read from there on, as it will read once that secret is replaced.
    """
    i = int(m.lastgroup[1:])  # type: ignore[index]  # every branch ends with its k<i> group
    rule = RULES[i]
    if not rule.kind:
        return _keyword_secret(text, m, f"v{i}", floor)
    if rule.value:
        s, e = m.span(f"v{i}")
        value = text[s:e]
        if is_placeholder(value) or (rule.check is not None and not rule.check(value)):
            return None
        return s, e, format_kind(value, rule.kind)
    s = m.start() - rule.back
    e = m.end()
    if rule.check is not None and not rule.check(text[m.start() : e]):
        return None
    return s, e, rule.kind


def find_secrets(text: str) -> Iterator[tuple[int, int, str]]:
    """Yield ``(start, end, kind)`` of each secret in ``text``, in order, not overlapping."""
    return _find(text, 0, len(text), 0)


def _find(text: str, pos: int, endpos: int, last: int) -> Iterator[tuple[int, int, str]]:
    search = PATTERN.search
    while True:
        m = search(text, pos, endpos)
        if m is None:
            return
        found = _secret(text, m, last)
        if found is None:
            pos = m.start() + 1  # not a secret: let other alternatives try from the next character
            continue
        s, e, kind = found
        if s > m.start() + 1:  # the context before a value (a URL's user name) may hold a token too
            for inner in _find(text, m.start() + 1, s, last):
                yield inner
                last = inner[1]
        yield max(s, last), e, kind
        last = e
        pos = max(m.end(), m.start() + 1)


def _redact(text: str, counts: Counter[str]) -> str:
    pieces: list[str] = []
    last = 0
    for s, e, kind in find_secrets(text):
        pieces.append(text[last:s])
        pieces.append(PLACEHOLDER.format(kind=kind))
        counts[kind] += 1
        last = e
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def redact_text(text: str) -> tuple[str, Counter[str]]:
    """``text`` with every secret replaced by ``[REDACTED:<kind>]``, and the count per kind.

    Context around a secret stays: ``password=`` of ``password=hunter2``, the user and
    host of a URL, ``Bearer`` of an ``Authorization`` header. Idempotent: redacting the
    result again changes nothing.
    """
    counts: Counter[str] = Counter()
    return _redact(text, counts), counts


def _redact_value(value: Any, counts: Counter[str], key: str | None = None) -> Any:
    """Redact strings inside a JSON-like value; a string stored under a credential key is redacted whole."""
    if isinstance(value, str):
        before = sum(counts.values())
        out = _redact(value, counts)
        kind = key_kind(key) if key else None
        if kind and sum(counts.values()) == before and not is_placeholder(value):
            kind = format_kind(value, kind)
            if kind in FORMAT_KINDS or _credential_value(kind, key or "", value):
                counts[kind] += 1
                return PLACEHOLDER.format(kind=kind)
        return out
    if isinstance(value, dict):
        return {k: _redact_value(v, counts, k if isinstance(k, str) else None) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v, counts, key) for v in value]
    return value


def redact_trajectory(traj: Trajectory) -> Trajectory:
    """A copy of ``traj`` with secrets redacted in the task, every step, the grader view and the metadata values.

    ``metadata["redactions"]`` holds the number of redactions per kind (absent when
    none; added to any counts an earlier pass left there). The secrets themselves are
    never stored.
    """
    counts: Counter[str] = Counter()
    task = _redact(traj.task, counts)
    steps = []
    for step in traj.steps:
        content = _redact(step.content, counts)
        args = _redact(step.tool_args, counts) if step.tool_args else step.tool_args
        if content is not step.content or args is not step.tool_args:
            step = step.model_copy(update={"content": content, "tool_args": args})
        steps.append(step)
    # The grader's view is text from the benchmark (test logs, expected calls): scanned alike.
    grader = None if traj.grader is None else type(traj.grader).model_validate(_redact_value(traj.grader.model_dump(), counts))
    previous = traj.metadata.get(REDACTIONS_KEY)
    metadata = _redact_value({k: v for k, v in traj.metadata.items() if k != REDACTIONS_KEY}, counts)
    if isinstance(previous, dict) and all(isinstance(v, int) for v in previous.values()):
        counts.update(previous)
    if counts:  # absent means nothing was redacted, so clean records keep their metadata as read
        metadata[REDACTIONS_KEY] = dict(sorted(counts.items()))
    return traj.model_copy(update={"task": task, "steps": steps, "grader": grader, "metadata": metadata})
