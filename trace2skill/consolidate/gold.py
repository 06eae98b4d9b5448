"""The grader guard: no gold in a skill, by code.

The error analyst sees the grader's view of a failed run (its expected actions and
reference answers) as ground truth to diagnose against; the skill must carry the lesson,
never the answer. Before apply, a line an edit adds (or a new section's title or file
name) *quotes the grader* when it reproduces, from the grader's view of a trajectory
behind the edit (its part's provenance):

- a *value*: a reference answer, or an argument value of an expected action (every
  scalar under its ``kwargs``/``arguments``, nested ones included; the tool's name is
  not a value), found in the line as a whole word sequence, case and punctuation
  ignored (``skill.quotes``); or
- ``min_words`` (8) or more consecutive words of a reference answer or of an
  argument value.

Trivial values do not count, so ordinary lines are not refused: a value shorter than
four characters (``1``, ``yes``), a single word of letters only (``economy``,
``refund``: a word a skill uses for itself), and a value or run of words that S0 already
has. A refused line is withheld with the reason ``quotes the grader`` (the whole edit
when its title or file name quotes, or when nothing of substance is left), counted in the
summary and the report like the instance-detail guard's refusals (``consolidate.instance``,
whose line split this guard shares). No restatement round: a grader's value has no role
to be named by that the lesson needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trace2skill.consolidate.instance import GuardRecord, adding_texts, titles, withhold_lines
from trace2skill.schema import Edit, GraderView, Patch
from trace2skill.skill.apply import Refusal
from trace2skill.skill.model import Skill
from trace2skill.skill.quotes import shingles, words

GOLD = "quotes the grader"
MIN_WORDS = 8
MIN_VALUE_CHARS = 4
ARGUMENT_KEYS = ("kwargs", "arguments")  # where tau-bench and tau2 keep an expected call's arguments

# trajectory ids -> the grader's view of each of those trajectories that has one.
Graders = Callable[[list[str]], Iterable[GraderView]]


def _leaves(value: Any) -> Iterator[str]:
    """Every scalar of a JSON value as text (keys, booleans and nulls left out)."""
    if isinstance(value, dict | list):
        for v in value.values() if isinstance(value, dict) else value:
            yield from _leaves(v)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield str(value)


def action_values(action: str) -> list[str]:
    """The argument values of one expected action (its JSON text); the text itself when it is not JSON."""
    try:
        call = json.loads(action)
    except json.JSONDecodeError:
        return [action]
    if isinstance(call, dict):
        arguments = next((call[k] for k in ARGUMENT_KEYS if k in call), {k: v for k, v in call.items() if k != "name"})
        return list(_leaves(arguments))
    return list(_leaves(call))


def grader_values(view: GraderView) -> list[str]:
    """What a grader's view holds that a skill must not quote: reference answers and expected-action argument values."""
    return [*view.reference_answers, *(v for a in view.expected_actions for v in action_values(a))]


def is_trivial(value: list[str]) -> bool:
    """A value (as words) that ordinary lines use: under four characters, or one word of letters only."""
    return len(" ".join(value)) < MIN_VALUE_CHARS or (len(value) == 1 and value[0].isalpha())


class GoldQuotes(BaseModel):
    """The values and word runs of some graders' views, less what is trivial or in S0."""

    values: set[tuple[str, ...]] = Field(default_factory=set)
    runs: set[tuple[str, ...]] = Field(default_factory=set)
    min_words: int = MIN_WORDS

    @classmethod
    def of(cls, views: Iterable[GraderView], s0_words: list[str], min_words: int = MIN_WORDS) -> GoldQuotes:
        texts = [words(v) for view in views for v in grader_values(view)]
        s0 = " ".join(s0_words)
        values = {tuple(t) for t in texts if t and not is_trivial(t) and f" {' '.join(t)} " not in f" {s0} "}
        runs = set().union(*(shingles(t, min_words) for t in texts)) - shingles(s0_words, min_words)
        return cls(values=values, runs=runs, min_words=min_words)

    def quoted(self, text: str) -> list[str]:
        """The grader's values (and word runs) ``text`` reproduces."""
        tokens = words(text)
        found = {v for v in self.values if any(tuple(tokens[i : i + len(v)]) == v for i in range(len(tokens) - len(v) + 1))}
        found |= shingles(tokens, self.min_words) & self.runs
        return sorted(" ".join(v) for v in found)


class GoldGuard(BaseModel):
    """Screens each part of p* (see the module doc); ``record`` holds what it refused."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    s0_words: list[str]
    graders: Graders | None = None
    min_words: int = MIN_WORDS
    record: GuardRecord = Field(default_factory=GuardRecord)

    @classmethod
    def of(cls, s0: Skill, **kwargs) -> GoldGuard:
        return cls(s0_words=words("\n".join([s0.skill_md(), *s0.files.values()])), **kwargs)

    def screen(self, patch: Patch) -> tuple[list[Edit], Patch]:
        """Every edit of ``patch`` split into what passes and what quotes the grader; all the
        pieces (for provenance) and the patch of the pieces to apply."""
        if self.graders is None or not patch.trajectory_ids or not any(adding_texts(e) for e in patch.edits):
            return list(patch.edits), patch
        gold = GoldQuotes.of(self.graders(list(patch.trajectory_ids)), self.s0_words, self.min_words)
        if not gold.values and not gold.runs:
            return list(patch.edits), patch
        pieces, kept = [], []
        for edit in patch.edits:
            passed, refused = self._split(edit, gold)
            pieces.extend(e for e in (passed, *(r.edit for r in refused)) if e is not None)
            if passed is not None:
                kept.append(passed)
            for r in refused:
                self.record.add(r, GOLD)
        return pieces, patch.model_copy(update={"edits": kept})

    def _split(self, edit: Edit, gold: GoldQuotes) -> tuple[Edit | None, list[Refusal]]:
        if not adding_texts(edit):
            return edit, []
        named = sorted(set().union(*(gold.quoted(t) for t in titles(edit))))
        if named:
            return None, [Refusal(edit=edit, reason=f"{GOLD}: the title or file name carries {', '.join(named)}")]

        def why(line: str) -> str | None:
            quoted = gold.quoted(line)
            return f"{GOLD}: carries {', '.join(repr(q) for q in quoted)}" if quoted else None

        return withhold_lines(edit, why)
