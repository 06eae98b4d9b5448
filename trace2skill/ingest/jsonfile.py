"""Reading JSONL and JSON document files into records: the file-level half of every ``read``.

An adapter's ``read`` picks one of :func:`read_lines` (a record per JSONL line),
:func:`read_document` (one record per file), :func:`read_array` (a record per array item)
or, for a document that holds its records deeper, :func:`stream_array` (the array under a
top-level key, streamed) or :func:`load_json_document` and :func:`read_items`. Each
converts records with a ``build`` function that raises RecordError, and quarantines what
fails (see :func:`base.guarded`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import pydantic_core

from trace2skill.ingest.base import Record, RecordError, Source, guarded, json_excerpt, json_type
from trace2skill.schema import QuarantinedRecord, Trajectory

UTF8_BOM = b"\xef\xbb\xbf"

# Byte-order marks of encodings that are not UTF-8; the longer UTF-32 marks first.
FOREIGN_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def foreign_encoding(head: bytes) -> str | None:
    """The encoding named by a UTF-16/32 byte-order mark at the start of ``head``, else ``None``."""
    return next((name for bom, name in FOREIGN_BOMS if head.startswith(bom)), None)


def wrong_encoding(source: Source, encoding: str) -> QuarantinedRecord:
    """The one quarantined record of a whole file in an encoding other than UTF-8."""
    return source.quarantine("file", f"file is {encoding} encoded (byte-order mark); expected UTF-8")


def parse_json(text: str) -> Any:
    """``json.loads(text)``, done by pydantic_core's Rust parser (about twice as fast) where it can.

    That parser accepts a subset of what ``json.loads`` does and builds the same values; what it
    rejects (a syntax error, a lone surrogate escape, nesting deeper than 200) is parsed again by
    ``json.loads``, so every result, error and error message stays the standard library's.
    """
    try:
        return pydantic_core.from_json(text)
    except ValueError:
        return json.loads(text)


@dataclass(frozen=True)
class JsonLine:
    """One parsed non-blank line of a JSONL file."""

    location: str
    value: Any
    text: str


def iter_jsonl(source: Source) -> Iterator[JsonLine | QuarantinedRecord]:
    """Stream the non-blank lines of ``source`` as parsed JSON; a bad line becomes a QuarantinedRecord.

    ``location`` is ``line N`` counted from 1. A UTF-8 BOM on the first line is ignored; a
    UTF-16/32 file is one quarantined record (``file``).
    """
    with source.path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if lineno == 1:
                encoding = foreign_encoding(raw)
                if encoding:
                    yield wrong_encoding(source, encoding)
                    return
                raw = raw.removeprefix(UTF8_BOM)
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue
            location = f"line {lineno}"
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield source.quarantine(location, f"line is not valid UTF-8: {exc}", raw.decode("utf-8", "replace"))
                continue
            try:
                yield JsonLine(location, parse_json(text), text)
            except json.JSONDecodeError as exc:
                yield source.quarantine(location, f"invalid JSON: {exc}", text)
            except RecursionError:
                yield source.quarantine(location, "JSON is nested too deeply", text)


def load_json_document(
    source: Source,
    expected: type[dict[str, Any]] | type[list[Any]] | None = None,
    excerpt: Callable[[Any], str] = json_excerpt,
) -> tuple[Any, QuarantinedRecord | None]:
    """Parse ``source`` as one JSON document: ``(value, None)``, ``(None, None)`` if blank, or ``(None, quarantine)``.

    A document that is not of the ``expected`` type (``dict`` or ``list``) is quarantined
    too, shown by ``excerpt``. Undecodable bytes are kept as surrogate escapes, so only
    the records that hold them fail (``check_encodable``) instead of the whole file.
    """
    data = source.path.read_bytes()
    if not data.strip():
        return None, None
    encoding = foreign_encoding(data)
    if encoding:
        return None, wrong_encoding(source, encoding)
    text = data.decode("utf-8-sig", errors="surrogateescape")
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return None, source.quarantine("file", f"file is not valid JSON (truncated or corrupt?): {exc}", text)
    if expected is not None and value is not None and not isinstance(value, expected):
        want = "a JSON object" if expected is dict else "a JSON array"
        return None, source.quarantine("file", f"file holds {json_type(value)}, expected {want}", excerpt(value))
    return value, None


JSONL_SUFFIXES = (".jsonl", ".ndjson")


def is_array_file(source: Source) -> bool:
    """Whether the file starts (after a UTF-8 BOM and white space) with ``[``: a JSON array, not JSONL.

    A ``.jsonl`` file is never an array: a first line that is broken or holds an array must not
    turn the whole file into one quarantined document and lose its intact lines."""
    if source.path.suffix.lower() in JSONL_SUFFIXES:
        return False
    with source.path.open("rb") as fh:
        return fh.read(4096).lstrip(UTF8_BOM + b" \t\r\n")[:1] == b"["


def record_object(value: Any, what: str, needs: str | None = None) -> dict[str, Any]:
    """``value``, one record of a file (``what`` names it: ``"record"``, ``"item"``), if it is
    an object (holding the key ``needs``, when given); else RecordError, the quarantine reason."""
    if not isinstance(value, dict):
        raise RecordError(f"{what} is {json_type(value)}, expected an object")
    if needs is not None and needs not in value:
        raise RecordError(f"{what} has no {needs!r}")
    return value


def read_lines(source: Source, build: Callable[[Any, Source, str], Trajectory]) -> Iterator[Record]:
    """One record per non-blank JSONL line (``line N``): ``build(value, source, location)``, streaming."""
    for line in iter_jsonl(source):
        if isinstance(line, QuarantinedRecord):
            yield line
        else:
            yield guarded(source, line.location, line.text, build, line.value, source, line.location)


def read_document(
    source: Source,
    build: Callable[[Any, Source], Trajectory],
    expected: type[dict[str, Any]] | type[list[Any]] = dict,
) -> Iterator[Record]:
    """The one record (``file``) of a file holding one JSON document: ``build(document, source)``."""
    doc, bad = load_json_document(source, expected)
    if bad is not None:
        yield bad
    elif doc is not None:
        yield guarded(source, "file", doc, build, doc, source)


def read_items(
    source: Source,
    items: list[Any],
    build: Callable[..., Trajectory],
    *args: Any,
    excerpt: Callable[[Any], str] = json_excerpt,
    start: int = 0,
) -> Iterator[Record]:
    """One record per item (``item N``, counted from ``start``): ``build(item, source, location, *args)``."""
    for i, item in enumerate(items, start):
        location = f"item {i}"
        yield guarded(source, location, item, build, item, source, location, *args, excerpt=excerpt)


def read_array(
    source: Source, build: Callable[[Any, Source, str], Trajectory], excerpt: Callable[[Any], str] = json_excerpt
) -> Iterator[Record]:
    """One record per item (``item N``) of a file holding one JSON array; ``excerpt`` shows a quarantined one.

    The array is streamed item by item (:func:`stream_array`).
    """
    with source.path.open("rb") as fh:
        head = fh.read(4096)
    if not head.strip() or foreign_encoding(head) or head.removeprefix(UTF8_BOM).lstrip()[:1] != b"[":
        yield from _read_array_whole(source, build, excerpt)  # blank, UTF-16/32, or not an array: one clear record
        return
    yield from stream_array(source, build, excerpt=excerpt)


def stream_array(
    source: Source,
    build: Callable[..., Trajectory],
    *args: Any,
    key: str | None = None,
    excerpt: Callable[[Any], str] = json_excerpt,
) -> Iterator[Record]:
    """One record per item (``item N``) of the file's top-level JSON array, or of the array under its top-level ``key``.

    ``build(item, source, location, *args)`` converts an item. The array is streamed item by
    item (ijson), so a multi-GB results file never sits in memory whole. Where the stream
    breaks (a truncated or corrupt file) the items before are kept and the rest is one
    quarantined record located at the first item not read. A break that the whole-file
    parser gets past (undecodable bytes inside a string) falls back to it, so only the
    records holding those bytes fail.
    """
    count = 0
    try:
        with _open_json(source.path) as fh:
            for item in ijson.items(fh, "item" if key is None else f"{key}.item", use_float=True):
                yield from read_items(source, [item], build, *args, excerpt=excerpt, start=count)
                count += 1
    except ijson.JSONError as exc:
        items = _whole_array(source, key)
        if items is not None:
            yield from read_items(source, items[count:], build, *args, excerpt=excerpt, start=count)
        else:
            reason = str(exc).splitlines()[0].strip() if str(exc).strip() else type(exc).__name__
            yield source.quarantine(f"item {count}", f"file is not valid JSON from item {count} on (truncated or corrupt?): {reason}", "")


def _open_json(path: Path) -> BinaryIO:
    """``path`` opened for ijson, past a UTF-8 byte-order mark (which ijson would reject)."""
    fh = path.open("rb")
    fh.seek(len(UTF8_BOM) if fh.read(len(UTF8_BOM)) == UTF8_BOM else 0)
    return fh


def _whole_array(source: Source, key: str | None) -> list[Any] | None:
    doc, bad = load_json_document(source)
    value = doc.get(key) if key is not None and isinstance(doc, dict) else doc
    return value if bad is None and isinstance(value, list) else None


def _read_array_whole(source: Source, build: Callable[[Any, Source, str], Trajectory], excerpt: Callable[[Any], str]) -> Iterator[Record]:
    items, bad = load_json_document(source, list, excerpt)
    if bad is not None:
        yield bad
    elif items is not None:
        yield from read_items(source, items, build, excerpt=excerpt)


def top_level_event(path: Path, key: str) -> str | None:
    """The first ijson event of the value of ``key`` in the file's top-level JSON object (``"start_array"``...).

    ``None`` when the file is not a JSON object, has no ``key``, or breaks before it. Only
    what comes before the value is read.
    """
    # basic_parse and a depth count, not ijson.parse: its prefix strings cost O(depth^2)
    # memory, gigabytes for a 100,000-deep value.
    depth = 0
    try:
        with _open_json(path) as fh:
            events = ijson.basic_parse(fh)
            for event, value in events:
                if depth == 1 and event == "map_key" and value == key:
                    return next(events, (None, None))[0]
                if depth == 0 and event != "start_map":
                    return None
                if event in ("start_map", "start_array"):
                    depth += 1
                elif event in ("end_map", "end_array"):
                    depth -= 1
    except ijson.JSONError:
        return None
    return None


def top_level_value(path: Path, key: str) -> Any:
    """The value of ``key`` in the file's top-level JSON object, ``None`` when absent or unreadable.

    ijson scans in C and stops at the value, so a key near the start is cheap and one
    after a multi-GB array costs one pass without holding it.
    """
    try:
        with _open_json(path) as fh:
            return next(ijson.items(fh, key, use_float=True), None)
    except ijson.JSONError:
        return None


def read_sidecar_json(path: Path) -> dict[str, Any]:
    """A small JSON object file next to an input (a results or trial summary), ``{}`` if absent or unreadable.

    Cached per file version, so the many runs of one folder parse it once.
    """
    try:
        stat = path.stat()
    except OSError:
        return {}
    return _sidecar(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _sidecar(path: Path, _mtime_ns: int, _size: int) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}
