"""Exactly once: a line an edit adds that its target file already holds is folded, not stacked.

The guarded apply runs every content edit through :func:`fold_repeats` against the file as
it stands at that moment, so a line is left out when S0 has it or an earlier edit of the
same patch added it, and equally when it is near-identical (rapidfuzz ``ratio`` of the
normalised lines at least the threshold) and names the same specifics: numbers, link
targets and code spans must be equal ("within 30 days" and "within 60 days" are two facts,
two links to different files two links). Fenced code is never folded (a repeated ``}`` or
fence line is layout), and neither are short lines such as table rules. Because every
added line is checked against the file, applying a patch to its own result adds nothing.
"""

from __future__ import annotations

import re

from pydantic import BaseModel
from rapidfuzz import fuzz, process

from trace2skill.skill.model import code_flags, split_lines

NEAR_DUPLICATE = 90.0  # rapidfuzz ratio (0-100) from which two lines say the same thing
MIN_CHARS = 12  # shorter normalised lines are layout or labels, never folded
MAX_FUZZY_CHARS = 500  # longer lines are folded only when equal (fuzzy scoring grows with length squared)

_SPECIFICS = re.compile(r"\d+(?:[.,:]\d+)*|\]\([^)]*\)|`[^`]*`")  # what two near-identical lines must share
LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")  # a list marker is layout, not content


class Folded(BaseModel):
    """A line an edit would have added, left out because ``into`` is already there."""

    path: str
    line: str
    into: str
    score: float


def normalise(line: str) -> str:
    """The form lines are compared in: no list marker, whitespace collapsed, case-folded."""
    return " ".join(LIST_MARKER.sub("", line).split()).casefold()


def prose_lines(text: str) -> list[str]:
    """Normalised lines of ``text`` outside fenced code, long enough to be compared."""
    out = []
    for line, code in zip(split_lines(text), code_flags(text)):
        norm = normalise(line)
        if not code and len(norm) >= MIN_CHARS:
            out.append(norm)
    return out


def fold_repeats(path: str, content: str, existing: str, threshold: float = NEAR_DUPLICATE) -> tuple[str, list[Folded]]:
    """``content`` without the lines already in ``existing`` or earlier in ``content``
    (exact or near-identical), and one record per line left out. Blank lines that the
    removal leaves in a row are collapsed."""
    seen = set(prose_lines(existing))
    by_specifics: dict[tuple[str, ...], list[str]] = {}  # lines short enough to score, by what they name
    for norm in seen:
        _remember(by_specifics, norm)
    kept: list[str] = []
    folded: list[Folded] = []
    for line, code in zip(split_lines(content), code_flags(content)):
        norm = normalise(line)
        if code or len(norm) < MIN_CHARS:
            kept.append(line)
            continue
        match = (norm, 100.0) if norm in seen else None
        near = by_specifics.get(tuple(_SPECIFICS.findall(norm)), [])
        if match is None and near and len(norm) <= MAX_FUZZY_CHARS:
            match = process.extractOne(norm, near, scorer=fuzz.ratio, score_cutoff=threshold)
        if match is not None:
            folded.append(Folded(path=path, line=line.rstrip("\n"), into=match[0], score=round(float(match[1]), 1)))
            continue
        seen.add(norm)
        _remember(by_specifics, norm)
        kept.append(line)
    if not folded:
        return content, []
    return _squeeze_blank_lines("".join(kept)), folded


def _remember(by_specifics: dict[tuple[str, ...], list[str]], norm: str) -> None:
    if len(norm) <= MAX_FUZZY_CHARS:
        by_specifics.setdefault(tuple(_SPECIFICS.findall(norm)), []).append(norm)


def _squeeze_blank_lines(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")
