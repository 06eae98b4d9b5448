"""What every format adapter shares: the adapter record, the read context, errors and record helpers.

An adapter is one module that builds a :class:`Format` (a name, the file suffixes it
owns, a ``sniff`` test on the first bytes and a ``read`` generator) and is listed in
``registry.FORMATS``. Adapters turn each bad record into a :class:`QuarantinedRecord`
instead of raising, so one broken line never stops a file. Reading whole files (JSONL,
JSON documents) is in :mod:`jsonfile`; building Steps in :mod:`steps`.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trace2skill.ingest.tasks import task_key_of
from trace2skill.schema import QuarantinedRecord, Step, Trajectory, stable_id

Record = Trajectory | QuarantinedRecord
Outcome = tuple[bool | None, float | None]  # (success, reward); None is unknown

EXCERPT_CHARS = 200


class IngestError(Exception):
    """Base class of the errors this package raises."""


class UnknownFormatError(IngestError, ValueError):
    """No registered format recognised a file."""


class RecordError(IngestError, ValueError):
    """One record cannot become a Trajectory; the message is the quarantine reason."""


@dataclass
class Source:
    """One input file being read, with everything an adapter needs to name its records.

    ``id_scope`` is the file name that goes into ids; it defaults to the basename so
    ids do not change when a data folder moves.
    """

    path: Path
    format: str
    success_threshold: float = 1.0
    id_scope: str = ""
    _seen: set[str] = field(default_factory=set, repr=False, compare=False)

    @property
    def source_file(self) -> str:
        return str(self.path)

    @property
    def scope(self) -> str:
        return self.id_scope or self.path.name

    def make_id(self, raw_id: str) -> str:
        """The stable trajectory id of ``raw_id`` within this file."""
        return stable_id(self.format, self.scope, raw_id, prefix="t-")

    def unique_raw_id(self, raw_id: str, location: str) -> str:
        """``raw_id``, or ``raw_id@location`` when the file already used it.

        Sources repeat ids (several samples of one task); suffixing keeps every
        record and every trajectory id distinct, and stays stable across runs.
        """
        if raw_id in self._seen:
            raw_id = f"{raw_id}@{location}"
        self._seen.add(raw_id)
        return raw_id

    def quarantine(self, location: str, reason: str, excerpt: str = "") -> QuarantinedRecord:
        """A quarantined record whose id derives from its location, like an id-less record."""
        return QuarantinedRecord(
            trajectory_id=self.make_id(location),
            source_file=self.source_file,
            location=location,
            source_format=self.format,
            reason=reason,
            excerpt=make_excerpt(excerpt),
        )


@dataclass(frozen=True)
class Format:
    """A registered trajectory format.

    ``sniff`` gets the decoded first bytes of a file (BOM and leading whitespace
    stripped, never empty) and says whether this format owns it; ``read`` yields one
    Trajectory or QuarantinedRecord per source record.
    """

    name: str
    description: str
    suffixes: tuple[str, ...]
    sniff: Callable[[str], bool]
    read: Callable[[Source], Iterator[Record]]


# Where a cut excerpt may end: a secret cut in two is no longer recognisable, so the word the
# cut falls in is dropped up to one of these.
_EXCERPT_BREAKS = re.compile(r"[\s\"'\\,;:={}\[\]()<>]")


def clip(text: str, limit: int) -> str:
    """The first ``limit`` characters of ``text``; a word the cut falls in is dropped (it may be a cut secret)."""
    head = text[:limit]
    if len(text) > limit and not _EXCERPT_BREAKS.match(text, limit):
        breaks = [m.end() for m in _EXCERPT_BREAKS.finditer(head)]
        head = head[: breaks[-1] if breaks else 0]
    return head


def make_excerpt(text: str) -> str:
    """The first characters of ``text`` (:func:`clip`), made safe to store as UTF-8."""
    return clip(text, EXCERPT_CHARS).encode("utf-8", "replace").decode("utf-8")


def json_type(value: Any) -> str:
    """The JSON type of a parsed value with its article ("an array", "null"), for quarantine reasons."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


def as_reward(value: Any, what: str = "reward") -> float | None:
    """A finite float from a JSON number (``None`` stays ``None``); anything else is a RecordError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"'{what}' is {json_type(value)}, expected a number")
    reward = float(value)
    if not math.isfinite(reward):
        raise RecordError(f"'{what}' is {value}, expected a finite number")
    return reward


def resolve_outcome(success: Any, reward: float | None, threshold: float) -> Outcome:
    """``(success, reward)``: ``success`` when it is a boolean, else ``reward >= threshold``, else unknown."""
    if isinstance(success, bool):
        return success, reward
    return (None if reward is None else reward >= threshold), reward


def check_encodable(steps: list[Step], *texts: str) -> None:
    """Reject text that cannot be written as UTF-8 (undecoded bytes, lone surrogate escapes)."""
    for text in texts:
        _check_utf8(text)
    for step in steps:
        for text in (step.content, step.tool_name, step.tool_args, step.tool_call_id):
            if text:
                _check_utf8(text)


def _check_utf8(text: str) -> None:
    # isascii() is a flag lookup in CPython and ASCII always encodes: most texts skip the copy.
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RecordError(f"text is not valid UTF-8 (undecodable bytes or a lone surrogate): {exc}") from None


def json_text(value: Any) -> str:
    """``value`` as compact JSON text (``repr`` if it does not serialise)."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


# --- repairs: off-spec values inside a readable record ------------------------------------

REPAIRS_KEY = "repairs"
_REPAIRS: ContextVar[Counter[str] | None] = ContextVar("repairs", default=None)


@contextmanager
def repair_scope() -> Iterator[Counter[str]]:
    """Count the repairs (:func:`repaired`) made while one record is built."""
    counter: Counter[str] = Counter()
    token = _REPAIRS.set(counter)
    try:
        yield counter
    finally:
        _REPAIRS.reset(token)


def note_repair(field: str) -> None:
    """Count one repair of ``field`` (``content``, ``tool_call_id``...) in the record being built."""
    counter = _REPAIRS.get()
    if counter is not None:
        counter[field] += 1


def repaired(value: Any, field: str) -> str:
    """An off-spec value where the spec has text (an object, a number...): its JSON text, counted as a repair."""
    note_repair(field)
    return json_text(value)


def add_repairs(traj: Trajectory, repairs: Counter[str]) -> Trajectory:
    """``traj`` with ``repairs`` added to ``metadata["repairs"]`` (field -> count)."""
    if repairs:
        previous = traj.metadata.get(REPAIRS_KEY)
        total = Counter(previous) if isinstance(previous, dict) else Counter()
        total.update(repairs)
        traj.metadata[REPAIRS_KEY] = dict(sorted(total.items()))
    return traj


def json_excerpt(value: Any) -> str:
    """A record as compact JSON text for a quarantine excerpt; a string is taken to be that text already."""
    return value if isinstance(value, str) else json_text(value)


def first_user_text(steps: list[Step]) -> str:
    """The text of the first user message, the usual statement of the task."""
    return next((s.content for s in steps if s.role == "user" and s.kind == "message"), "")


def make_trajectory(
    source: Source,
    *,
    raw_id: str,
    location: str,
    steps: list[Step],
    task: str | None = None,
    outcome: Outcome = (None, None),
    metadata: dict[str, Any] | None = None,
) -> Trajectory:
    """The Trajectory of one source record, with a unique raw id and its stable id.

    ``task`` defaults to the first user message. Raises RecordError when the record has
    no steps or holds text that is not valid UTF-8.
    """
    if not steps:
        raise RecordError("record has no steps")
    if task is None:
        task = first_user_text(steps)
    check_encodable(steps, task, raw_id)
    unique = source.unique_raw_id(raw_id, location)
    return Trajectory(
        id=source.make_id(unique),
        source_format=source.format,
        source_file=source.source_file,
        raw_id=unique,
        task=task,
        steps=steps,
        success=outcome[0],
        reward=outcome[1],
        task_key=task_key_of(metadata or {}),
        metadata=metadata or {},
    )


# Where adapters record a task's identity: tau-bench and tau2-bench ``task_id``, the
# SWE-bench formats' ``instance_id`` (SWE-agent, mini-swe-agent, OpenHands).
# A value of a type no adapter check anticipated (a list where a string was expected...)
# surfaces as one of these; the record is quarantined and the file goes on.
SHAPE_ERRORS = (TypeError, ValueError, KeyError, AttributeError, IndexError)


def shape_reason(exc: Exception) -> str:
    """The quarantine reason for a record that tripped over an unexpected value."""
    return f"unexpected value in record: {type(exc).__name__}: {exc}"


def guarded(
    source: Source,
    location: str,
    raw: Any,
    build: Callable[..., Trajectory],
    *args: Any,
    excerpt: Callable[[Any], str] = json_excerpt,
) -> Record:
    """``build(*args)``, or the quarantined record of ``raw`` (shown by ``excerpt``) when it raises RecordError."""
    try:
        with repair_scope() as repairs:
            return add_repairs(build(*args), repairs)
    except RecordError as exc:
        return source.quarantine(location, str(exc), excerpt(raw))
    except RecursionError:
        return source.quarantine(location, "record is nested too deeply", excerpt(raw))
    except SHAPE_ERRORS as exc:
        return source.quarantine(location, shape_reason(exc), excerpt(raw))


def as_object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``{}`` (for optional sub-objects read leniently)."""
    return value if isinstance(value, dict) else {}


def str_or_none(value: Any) -> str | None:
    """``value`` if it is a string, else ``None``."""
    return value if isinstance(value, str) else None


def optional_str(obj: dict[str, Any], key: str, where: str) -> str | None:
    """``obj[key]`` if it is a non-empty string, ``None`` if absent/null/empty; any other value as its JSON
    text (a repair of ``key``)."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value or None
    return repaired(value, key)


def optional_int(obj: dict[str, Any], key: str) -> int | None:
    """``obj[key]`` if it is an integer, ``None`` if absent/null; RecordError for other types."""
    value = obj.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise RecordError(f"'{key}' is {json_type(value)}, expected an integer")
    return value


def id_value(obj: dict[str, Any], key: str) -> str:
    """``obj[key]`` (a string or an integer) as text; RecordError for other types or when it is missing."""
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordError(f"'{key}' is {json_type(value)}, expected a string or an integer")
    return str(value)


def optional_id(obj: dict[str, Any], key: str) -> str | None:
    """``obj[key]`` as text like :func:`id_value`, ``None`` if absent/null."""
    return None if obj.get(key) is None else id_value(obj, key)


def optional_object(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """``obj[key]`` if it is an object, ``{}`` if absent/null; RecordError for other types."""
    value = obj.get(key)
    if value is not None and not isinstance(value, dict):
        raise RecordError(f"'{key}' is {json_type(value)}, expected an object")
    return value or {}


def optional_list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    """``obj[key]`` if it is an array, ``[]`` if absent/null/empty; RecordError for other types."""
    value = obj.get(key) or []
    if not isinstance(value, list):
        raise RecordError(f"{where} '{key}' is {json_type(value)}, expected an array")
    return value


def add_extra_fields(metadata: dict[str, Any], record: dict[str, Any], known: Collection[str]) -> None:
    """Keep the fields of ``record`` that the format does not read, under ``metadata["extra_fields"]``."""
    extra = {k: v for k, v in record.items() if k not in known}
    if extra:
        metadata["extra_fields"] = extra


def as_text(value: Any) -> str:
    """Free-form tool output as text: strings as is, null as empty, anything else as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json_text(value)


def args_text(value: Any, where: str) -> str | None:
    """Tool-call arguments as JSON text: strings kept exactly, objects/arrays serialised."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return repaired(value, "arguments")  # a number or a boolean: kept as its JSON text
