"""The format registry and the entry points: find input files, detect their format, read them.

To add a format, write one module that defines ``FORMAT`` (see ``base.Format``) and
list it in ``FORMATS`` below. The sniffers are written so that a file is claimed by one
format only (the tests check this on every fixture); when a cut-off head leaves two
claimants, detection takes the first in this order, so a looser ``sniff`` goes later.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from trace2skill.ingest import (
    atif,
    claude_code,
    inspect_ai,
    mini_swe_agent,
    openai_chat,
    openhands,
    otel_genai,
    sharegpt,
    swe_agent,
    tau2_bench,
    tau_bench,
)
from trace2skill.ingest.base import Format, Record, Source, UnknownFormatError
from trace2skill.ingest.jsonfile import foreign_encoding
from trace2skill.ingest.labels import Label, apply_labels
from trace2skill.ingest.signals import with_outcome_source
from trace2skill.redact import redact_quoting_text, redact_trajectory
from trace2skill.schema import Trajectory

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        mini_swe_agent.FORMAT,
        swe_agent.FORMAT,
        tau2_bench.FORMAT,
        atif.FORMAT,
        inspect_ai.FORMAT,
        openhands.FORMAT,
        claude_code.FORMAT,
        otel_genai.FORMAT,
        sharegpt.FORMAT,
        tau_bench.FORMAT,
        openai_chat.FORMAT,
    )
}

SNIFF_BYTES = 1 << 20
# An empty file has no records in any format; this one keeps detection from failing on it.
EMPTY_FILE_FORMAT = openai_chat.NAME


def read_head(path: str | Path) -> str:
    """The first MiB of ``path`` as sniffers see it: decoded, BOM and leading whitespace stripped."""
    with Path(path).open("rb") as fh:
        head_bytes = fh.read(SNIFF_BYTES)
    # A UTF-16/32 file is still recognised, so that its reader can quarantine it with a reason.
    encoding = foreign_encoding(head_bytes) or "utf-8"
    # "replace" only matters for a multi-byte character cut at the end of the head.
    return head_bytes.decode(encoding, "replace").removeprefix("\ufeff").lstrip()


def _claims(fmt: Format, head: str) -> bool:
    """``fmt.sniff(head)``; a sniffer that trips over an odd value does not claim the file."""
    try:
        return bool(fmt.sniff(head))
    except (TypeError, ValueError, KeyError, AttributeError, IndexError):
        return False


def matching_formats(path: str | Path) -> list[str]:
    """Every registered format whose ``sniff`` claims ``path`` (normally exactly one)."""
    head = read_head(path)
    return [name for name, fmt in FORMATS.items() if head and _claims(fmt, head)]


def detect_format(path: str | Path) -> str:
    """The name of the registered format of ``path``, judged from its first MiB.

    An empty (or whitespace-only) file is ``openai_chat`` with zero records. Raises
    UnknownFormatError naming the formats tried, and OSError if the file cannot be read.
    """
    path = Path(path)
    head = read_head(path)
    if not head:
        return EMPTY_FILE_FORMAT
    for name, fmt in FORMATS.items():
        if _claims(fmt, head):
            return name
    raise UnknownFormatError(
        f"{path}: not a recognised trajectory file (tried {', '.join(FORMATS)}); "
        f"starts with {head[:60]!r}. Pass the format explicitly if it is one of these."
    )


def read_file(
    path: str | Path,
    *,
    fmt: str = "auto",
    success_threshold: float = 1.0,
    id_scope: str | None = None,
    labels: Mapping[str, Label] | None = None,
    redact: bool = True,
    personal_data: bool = False,
) -> Iterator[Record]:
    """Stream the records of one file, each a Trajectory or a QuarantinedRecord.

    ``fmt="auto"`` detects the format (UnknownFormatError if none fits). A reward
    counts as success when ``reward >= success_threshold``. ``id_scope`` is the file
    name hashed into ids (default: the basename); pass a relative path when several
    inputs share a basename. ``labels`` (from ``read_labels``) sets the outcome of every
    trajectory it has a label for; a run left without one gets an outcome from the signals
    in its trace where they speak (``ingest.signals``), and every outcome names its source
    in ``metadata["outcome_source"]``. With ``redact`` (the default) secrets are redacted
    from every text a record carries, quarantined excerpts and reasons included, before
    the record leaves ingest; with ``personal_data`` too, personal data becomes typed
    placeholders (``redact.personal``; the read stage turns it on unless a recipe says
    ``redact: {personal_data: false}``). Unknown formats and missing files raise here, at call
    time; record-level problems never raise, they become QuarantinedRecords.
    """
    path = Path(path)
    if fmt == "auto":
        fmt = detect_format(path)
    elif fmt not in FORMATS:
        raise UnknownFormatError(f"unknown format {fmt!r}; known formats: {', '.join(FORMATS)}")
    elif not path.is_file():
        raise FileNotFoundError(f"input file does not exist: {path}")
    source = Source(path=path, format=fmt, success_threshold=success_threshold, id_scope=id_scope or path.name)
    records = _labelled(FORMATS[fmt].read(source), labels or {}, success_threshold)
    return _with_sources(_redacted(records, personal_data) if redact else records)


def _labelled(records: Iterator[Record], labels: Mapping[str, Label], success_threshold: float) -> Iterator[Record]:
    if not labels:
        yield from records
        return
    for record in records:
        yield apply_labels(record, labels, success_threshold) if isinstance(record, Trajectory) else record


def _with_sources(records: Iterator[Record]) -> Iterator[Record]:
    # After redaction: a signal's excerpt is cut from redacted text. Cut first, a secret in it
    # could lose what makes it recognisable (a URL's '@host', a YAML value's line end).
    for record in records:
        yield with_outcome_source(record) if isinstance(record, Trajectory) else record


def _redacted(records: Iterator[Record], personal_data: bool) -> Iterator[Record]:
    if personal_data:  # imported on first use: Presidio's import pulls in spaCy, torch and transformers (~20 s)
        from trace2skill.redact.personal import redact_personal_data, redact_personal_text
    for record in records:
        if isinstance(record, Trajectory):
            record = redact_trajectory(record)
            yield redact_personal_data(record) if personal_data else record
        else:  # a reason can quote the offending value, an excerpt is raw input, a location names a record by its id
            update = {name: redact_quoting_text(getattr(record, name))[0] for name in ("reason", "excerpt", "location")}
            if personal_data:
                update = {name: redact_personal_text(text) for name, text in update.items()}
            yield record.model_copy(update=update)


def known_suffixes() -> tuple[str, ...]:
    """File suffixes owned by registered formats, used when walking directories."""
    return tuple(sorted({s for f in FORMATS.values() for s in f.suffixes}))


def discover_files(inputs: Iterable[str | Path], *, suffixes: Iterable[str] | None = None) -> list[Path]:
    """The input files named by ``inputs`` (files or directories), sorted and deduplicated.

    Directories are walked recursively, skipping hidden files and folders and keeping
    only files whose suffix belongs to a registered format (or to ``suffixes``). A
    file named explicitly is always kept. A missing input raises FileNotFoundError.
    """
    wanted = tuple(s.lower() for s in (known_suffixes() if suffixes is None else suffixes))
    found: dict[Path, Path] = {}
    for item in inputs:
        root = Path(item).expanduser()
        if root.is_file():
            found.setdefault(root.resolve(), root)
        elif root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for name in filenames:
                    if not name.startswith(".") and name.lower().endswith(wanted):
                        path = Path(dirpath) / name
                        if path.is_file():  # not a dangling link
                            found.setdefault(path.resolve(), path)
        elif root.exists():
            raise FileNotFoundError(f"input is neither a file nor a directory: {item}")
        else:
            raise FileNotFoundError(f"input path does not exist: {item}")
    return sorted(found.values())
