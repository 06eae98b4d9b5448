"""Verbatim quotes: texts compared as lower-cased word sequences, punctuation and spacing
ignored. Shared by the evaluation's leakage check (``evaluate.leakage``) and the grader
guard before apply (``consolidate.gold``)."""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD_RE = re.compile(r"\w+(?:['’.-]\w+)*")


def words(text: str) -> list[str]:
    """The lower-cased words of ``text``, punctuation and spacing ignored."""
    return _WORD_RE.findall(text.lower())


def shingles(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """Every run of ``n`` consecutive ``tokens``."""
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}
