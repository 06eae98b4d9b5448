""" "Did you mean": the closest known names to a mistyped one (a format, a recipe key or name)."""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

MAX_EDITS = 3  # farther than this, a name is another name, not a typo of it


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the known name closest to ``word`` (case, ``-`` and ``_``
    ignored: ``tau-bench`` is ``tau_bench``), or ``""`` when none is close."""
    names = list(known)
    found = process.extractOne(
        _plain(word),
        [_plain(n) for n in names],
        scorer=Levenshtein.distance,
        score_cutoff=MAX_EDITS,
    )
    return f"; did you mean {names[found[2]]!r}?" if found else ""


def _plain(name: str) -> str:
    return name.lower().replace("-", "_")
