"""Anchor repair: an anchor that does not occur exactly in its section is matched to the
closest unique span of that section.

Models quote the text they mean to insert near or replace from memory, so anchors come back
paraphrased ("confirm booking ID before cancel" for "Always confirm the booking id before
cancelling."). The section is scored window by window (as many lines as the anchor has)
with rapidfuzz, case-insensitively: a window longer than the anchor by its best-aligned
substring (``partial_ratio_alignment``, widened to whole words), a shorter one as a whole
(``ratio``). The best span is used when it scores at least the threshold, occurs exactly
once in the section, and no other span scores as well. Otherwise the caller may ask a
:data:`Restater` (an LLM, injected by consolidation; this package stays LLM-free) and, when
that fails too, refuses the edit with the reason. A section title that the file does not
have is repaired the same way (``closest_title``, then the restater), see ``skill.repair``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process

from trace2skill.schema import Edit
from trace2skill.skill.model import normalize_title
from trace2skill.skill.once import LIST_MARKER

ANCHOR_MATCH = 85.0  # rapidfuzz score (0-100) from which a span stands for a paraphrased anchor
MIN_ANCHOR_CHARS = 10  # shorter anchors match too much by chance; they must occur exactly



class Restatement(BaseModel):
    """What a restater is asked: text an edit names that its file does not hold as written,
    with what it may be found in and the edit itself (so the meaning is in view)."""

    kind: Literal["anchor", "section"]
    written: str = Field(description="The anchor or the section title as the edit gives it.")
    title: str = Field("", description="anchor: the title of the section it should be in.")
    body: str = Field(description="anchor: the section's text; section: the file's '## ' titles, one a line.")
    edit: Edit


# A restatement request -> the anchor or title restated verbatim, or None.
Restater = Callable[[Restatement], "str | None"]


class SpanMatch(BaseModel):
    """The closest span of a section to an anchor, and whether it may stand for it."""

    span: str
    score: float
    unique: bool


class AnchorRepair(BaseModel):
    """An anchor that was replaced by the span of the section it meant."""

    path: str
    section: str
    before: str
    after: str
    how: str  # "fuzzy NN" or "restated"
    kind: Literal["anchor", "section"] = "anchor"


def closest_span(body: str, anchor: str) -> SpanMatch | None:
    """The span of ``body`` closest to ``anchor`` (None when the anchor is too short or the
    body has no text); see the module doc."""
    needle = anchor.strip()
    lines = body.split("\n")
    width = needle.count("\n") + 1
    if len(needle) < MIN_ANCHOR_CHARS or len(lines) < width:
        return None
    scored: list[tuple[float, str]] = []
    for start in range(len(lines) - width + 1):
        window = "\n".join(lines[start : start + width]).strip()
        if window:
            score, span = _score(needle, window)
            scored.append((score, span if LIST_MARKER.match(needle) else LIST_MARKER.sub("", span, count=1)))
    if not scored:
        return None
    scored.sort(key=lambda s: -s[0])
    best_score, best = scored[0]
    rivals = [span for score, span in scored[1:] if score >= best_score and span != best]
    return SpanMatch(span=best, score=round(best_score, 1), unique=not rivals and body.count(best) == 1)


def closest_title(titles: list[str], section: str) -> SpanMatch | None:
    """The title of ``titles`` closest to ``section`` (word order and case aside), with its
    score and whether no other title scores as well (None when there are no titles)."""
    if not titles:
        return None
    scored = process.extract(normalize_title(section), [normalize_title(t) for t in titles], scorer=fuzz.token_sort_ratio, limit=2)
    (_, best, index), rivals = scored[0], scored[1:]
    return SpanMatch(span=titles[index], score=round(best, 1), unique=not any(score >= best for _, score, _ in rivals))


def _score(needle: str, window: str) -> tuple[float, str]:
    low_needle, low_window = needle.lower(), window.lower()
    if len(low_needle) != len(needle) or len(low_window) != len(window):  # lower() changed lengths
        low_needle, low_window = needle, window
    if len(needle) >= len(window):
        return fuzz.ratio(low_needle, low_window), window
    found = fuzz.partial_ratio_alignment(low_needle, low_window)
    if found is None:
        return 0.0, window
    return found.score, _whole_words(window, found.dest_start, found.dest_end)


def _whole_words(text: str, start: int, end: int) -> str:
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end].strip()
