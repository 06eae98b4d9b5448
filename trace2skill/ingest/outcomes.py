"""Outcomes where producers put them: flags, verdict words and rewards in a record or its extra blocks.

Each adapter first reads its format's own outcome fields; where those are absent it asks
:func:`find_outcome` about the blocks its producers use (a run-level ``extra`` or ``metadata``,
an evaluation's ``test_result``, the last step's ``extra``). The field path an outcome came from
is kept in ``metadata["outcome_field"]`` (``trace2skill inspect`` counts them per file).

The rules, in order, for one block (a JSON object):

1. a pass/fail flag: ``success``, ``resolved``, ``passed``, ``pass``, ``solved``, ``is_success``,
   ``correct``: a boolean, a verdict word, or 0/1;
2. a verdict word under ``verdict``, ``outcome``, ``result``, ``label``: ``pass``/``passed``/
   ``success``/``resolved``/``solved``/``correct`` or ``fail``/``failed``/``failure``/
   ``unresolved``/``incorrect`` (any case); other words (``completed``, ``error``) say nothing;
3. a number under ``reward`` or ``score``: success when ``reward >= threshold`` (kept as the reward).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

OUTCOME_FIELD = "outcome_field"
FLAG_KEYS = ("success", "resolved", "passed", "pass", "solved", "is_success", "correct")
VERDICT_KEYS = ("verdict", "outcome", "result", "label")
REWARD_KEYS = ("reward", "score")
VERDICT_WORDS = {
    **dict.fromkeys(("pass", "passed", "success", "succeeded", "resolved", "solved", "correct", "true", "yes"), True),
    **dict.fromkeys(("fail", "failed", "failure", "unresolved", "unsolved", "incorrect", "false", "no"), False),
}


@dataclass(frozen=True)
class Found:
    """An outcome and the field path it was read from (``extra.verdict``, ``steps[-1].extra.passed``)."""

    success: bool | None
    reward: float | None
    field: str


def verdict(value: Any) -> bool | None:
    """``value`` as pass (True) / fail (False): a boolean, 0 or 1, or a verdict word; else None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return VERDICT_WORDS.get(value.strip().lower())
    return None


def number(value: Any) -> float | None:
    """A finite number (or a numeric string) as float; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def find_outcome(block: Any, path: str, threshold: float) -> Found | None:
    """The outcome that the JSON object ``block`` (found at ``path``) states by the rules above, if any."""
    if not isinstance(block, dict):
        return None
    prefix = f"{path}." if path else ""
    reward_key = next((k for k in REWARD_KEYS if number(block.get(k)) is not None), None)
    reward = number(block.get(reward_key)) if reward_key else None
    for keys in (FLAG_KEYS, VERDICT_KEYS):
        for key in keys:
            flag = verdict(block.get(key))
            if flag is not None:
                return Found(flag, reward, prefix + key)
    if reward is not None:
        return Found(reward >= threshold, reward, prefix + str(reward_key))
    return None


def first_outcome(blocks: Iterable[tuple[str, Any]], threshold: float) -> Found | None:
    """The outcome of the first ``(path, block)`` that states one."""
    return next((f for path, block in blocks if (f := find_outcome(block, path, threshold)) is not None), None)
