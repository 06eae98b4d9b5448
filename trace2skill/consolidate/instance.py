"""The instance-detail guard: no value of a few trajectories, and no noise, in a skill.

A skill has to carry to new tasks, so a line that names one customer's reservation code,
user id or order number (copied from the trajectories behind it) does not belong in it.
A value-like token (``value_tokens``: a code with digits, an ALLCAPS code, a path, a
redaction placeholder) of an added line, section title or file name is *instance detail*
when it occurs in the data of the trajectories that back the edit (its part's
provenance) in fewer than ``min_trajectories`` of them, and not in S0; a placeholder
(``<PERSON_1>``) stands for one trajectory's value wherever it occurs. Noise (a title
without a letter, a line of one repeated character, a run of 16 equal characters) is
refused too.

An edit that carries instance detail is sent back once to ``restate`` (the value named
by its role: ``consolidate.restate_instance``); what still carries it is withheld line by line (the whole edit when its
title or file name does), with the reason ``instance detail`` or ``noise``. The counting
is given the trajectories' texts by the caller (``evidence``), which reads them.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from trace2skill.schema import Edit, Patch, Usage
from trace2skill.skill.apply import Refusal
from trace2skill.skill.model import Skill

INSTANCE = "instance detail"
NOISE = "noise"
MIN_TRAJECTORIES = 3

_TOKEN = re.compile(r"<[A-Z][A-Z_]*_\d+>|\[REDACTED:[A-Za-z_]+\]|\w(?:[\w\-./@]*\w)?")
_PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*_\d+>|\[REDACTED:[A-Za-z_]+\]")
_PART = re.compile(r"[-./_@]")
_CODE = re.compile(r"[A-Z0-9]{5,}")
_PATH = re.compile(r"\w/.*(/|\.[A-Za-z]\w*$)")
_REPEAT = re.compile(r"(.)\1{15,}")
_RULE_CHARS = set("-*_=`~#|+. ")  # markdown rules, fences and table borders repeat these
_ADDING_OPS = frozenset(
    {
        "append_to_section",
        "insert_after",
        "insert_before",
        "replace_in_section",
        "add_section",
        "create",
    }
)

# (the edit, the values it carries) -> the edit restated with each value's role (or None), and the tokens spent.
RestateInstance = Callable[[Edit, list[str]], "tuple[Edit | None, Usage]"]
# trajectory ids -> the text of each of those trajectories (one string a trajectory).
Evidence = Callable[[list[str]], Iterable[str]]


def tokens(text: str) -> set[str]:
    """Every token of ``text``, lowercased, with the pieces of compound ones
    (``priya_patel_441060a`` also gives ``441060a``; ``k7wq2m.md`` gives ``k7wq2m``)."""
    out: set[str] = set()
    for m in _TOKEN.finditer(text):
        token = m.group(0)
        out.add(token.lower())
        if not _PLACEHOLDER.fullmatch(token):
            out.update(p.lower() for p in _PART.split(token) if p)
    return out


def is_value_like(token: str) -> bool:
    """A token (as written) that may name one instance: a redaction placeholder, a path
    (two slashes, or a slash and a file extension), a code of four or more characters with
    two digits or more, or an ALLCAPS code of five or more characters."""
    if _PLACEHOLDER.fullmatch(token) or _PATH.search(token):
        return True
    if sum(c.isdigit() for c in token) >= 2 and len(token) >= 4:
        return True
    return bool(_CODE.fullmatch(token)) and any(c.isalpha() for c in token)


def value_tokens(text: str) -> set[str]:
    """The value-like tokens of ``text``, lowercased (pieces of compound tokens included)."""
    out: set[str] = set()
    for m in _TOKEN.finditer(text):
        token = m.group(0)
        pieces = [token] if _PLACEHOLDER.fullmatch(token) else [token, *(p for p in _PART.split(token) if p)]
        out.update(p.lower() for p in pieces if is_value_like(p))
    return out


def count_in(values: set[str], texts: Iterable[str], enough: int | None = None) -> tuple[Counter[str], int]:
    """In how many of ``texts`` each of ``values`` occurs as a token, and how many texts were read:
    reading stops once every value occurs in ``enough`` of them (the verdict cannot change)."""
    counts: Counter[str] = Counter()
    n = 0
    for text in texts:
        n += 1
        counts.update(values & tokens(text))
        if enough is not None and all(counts[v] >= enough for v in values):
            break
    return counts, n


def evidence_sample(trajectory_ids: Iterable[str], limit: int) -> list[str]:
    """At most ``limit`` of ``trajectory_ids``: all of them if they fit, else the same sample
    every run (the ids with the smallest hashes), so a part backed by a million trajectories
    is judged on a bounded read."""
    ids = sorted(set(trajectory_ids))
    if len(ids) <= limit:
        return ids
    return sorted(ids, key=lambda t: hashlib.blake2b(t.encode(), digest_size=8).digest())[:limit]


def is_placeholder(token: str) -> bool:
    """A lowercased redaction placeholder (``<person_1>``, ``[redacted:password]``)."""
    return token.startswith("<") or token.startswith("[redacted:")


def instance_values(values: set[str], counts: Counter[str], s0: set[str], min_trajectories: int) -> list[str]:
    """The ``values`` that are instance detail: not in S0, and a placeholder or found in
    at least one but fewer than ``min_trajectories`` of the texts ``counts`` counted."""
    return sorted(v for v in values if v not in s0 and (is_placeholder(v) or 0 < counts[v] < min_trajectories))


def is_noise(line: str, *, title: bool = False) -> bool:
    """A title without a letter; a line of one repeated character (not a markdown rule);
    a run of sixteen equal characters (``1`` and fifty-eight zeros)."""
    text = line.strip().lstrip("#>*-+ ").strip()
    if not text:
        return False
    if title and not any(c.isalpha() for c in text):
        return True
    chars = set(text.replace(" ", ""))
    if len(chars) == 1 and not chars <= _RULE_CHARS and len(text) >= 3:
        return True
    return any(m.group(1) not in _RULE_CHARS for m in _REPEAT.finditer(text))


class GuardRecord(BaseModel):
    """What a guard refused in one run, and how many by reason; the counts go to the summary and the report."""

    refused: list[Refusal] = Field(default_factory=list)
    by_reason: dict[str, int] = Field(default_factory=dict)

    def add(self, refusal: Refusal, reason: str) -> None:
        self.refused.append(refusal)
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1


class LineGuard(Protocol):
    """A guard run on each part of p* before apply (``consolidate.run.guarded``): the instance-detail
    guard, the grader guard (``consolidate.gold``)."""

    record: GuardRecord

    def screen(self, patch: Patch) -> tuple[list[Edit], Patch]:
        """Every edit of ``patch`` split into what passes and what is refused: all the pieces
        (for provenance) and the patch of the pieces to apply."""
        ...


class InstanceRecord(GuardRecord):
    """What the instance-detail guard decided in one run."""

    restated: int = 0
    restate_calls: int = 0
    restate_usage: Usage = Field(default_factory=Usage)
    trajectories_read: int = 0


class InstanceGuard(BaseModel):
    """Screens each part of p* (see the module doc); ``record`` holds what it refused."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    s0_tokens: set[str]
    evidence: Evidence | None = None
    restate: RestateInstance | None = None
    min_trajectories: int = MIN_TRAJECTORIES
    max_trajectories: int = 2000
    record: InstanceRecord = Field(default_factory=InstanceRecord)

    @classmethod
    def of(cls, s0: Skill, **kwargs) -> InstanceGuard:
        return cls(
            s0_tokens=tokens("\n".join([s0.skill_md(), *s0.files.keys(), *s0.files.values()])),
            **kwargs,
        )

    def screen(self, patch: Patch) -> tuple[list[Edit], Patch]:
        """Every edit of ``patch`` restated or split into what passes and what is refused;
        all the pieces (for provenance) and the patch of the pieces to apply."""
        values = set().union(*(value_tokens(t) for e in patch.edits for t in adding_texts(e)))
        counts: Counter[str] = Counter()
        if values and self.evidence is not None and patch.trajectory_ids:
            ids = evidence_sample(patch.trajectory_ids, self.max_trajectories)
            counts, n = count_in(values, self.evidence(ids), enough=self.min_trajectories)
            self.record.trajectories_read += n
        pieces, kept = [], []
        for edit in patch.edits:
            passed, refused = self._split(
                edit,
                lambda text: instance_values(value_tokens(text), counts, self.s0_tokens, self.min_trajectories),
            )
            pieces.extend(e for e in (passed, *(r.edit for r in refused)) if e is not None)
            if passed is not None:
                kept.append(passed)
            for r in refused:
                self.record.add(r, NOISE if r.reason.startswith(NOISE) else INSTANCE)
        return pieces, patch.model_copy(update={"edits": kept})

    def _split(self, edit: Edit, carried: Callable[[str], list[str]]) -> tuple[Edit | None, list[Refusal]]:
        if edit.op not in _ADDING_OPS:
            return edit, []
        found = sorted(set().union(*(carried(t) for t in adding_texts(edit))))
        if found and self.restate is not None:
            self.record.restate_calls += 1
            restated, usage = self.restate(edit, found)
            self.record.restate_usage = self.record.restate_usage + usage
            if restated is not None and not any(carried(t) for t in adding_texts(restated)) and _head(restated) == _head(edit):
                self.record.restated += 1
                edit, found = restated, []
        head = titles(edit)
        head_values = sorted(set().union(*(carried(t) for t in head))) if head else []
        if head_values:
            return None, [
                Refusal(
                    edit=edit,
                    reason=f"{INSTANCE}: the title or file name carries {', '.join(head_values)}",
                )
            ]
        if any(is_noise(t, title=True) for t in head):
            return None, [Refusal(edit=edit, reason=f"{NOISE}: a title without words")]

        def why(line: str) -> str | None:
            values = carried(line)
            if values:
                return f"{INSTANCE}: carries {', '.join(values)}"
            return f"{NOISE}: {line.strip()[:60]!r}" if is_noise(line) else None

        return withhold_lines(edit, why)


def withhold_lines(edit: Edit, why: Callable[[str], str | None]) -> tuple[Edit | None, list[Refusal]]:
    """``edit`` without the lines ``why`` gives a reason for, and one refusal of those lines
    (with every reason); the whole edit refused when no line of substance is left."""
    keep, drop, reasons = [], [], set()
    for line in edit.content.splitlines():
        reason = why(line)
        if reason:
            drop.append(line)
            reasons.add(reason)
        else:
            keep.append(line)
    if not drop:
        return edit, []
    tail = "\n" if edit.content.endswith("\n") else ""
    refused = Refusal(edit=edit.model_copy(update={"content": "\n".join(drop) + tail}), reason="; ".join(sorted(reasons)))
    if not any(line.strip() and not line.lstrip().startswith("#") for line in keep):
        return None, [refused.model_copy(update={"edit": edit})]
    return edit.model_copy(update={"content": "\n".join(keep) + tail}), [refused]


def adding_texts(edit: Edit) -> list[str]:
    """What an edit adds that a guard reads: its section title, file name and content (none for a deletion)."""
    if edit.op not in _ADDING_OPS:
        return []
    return [t for t in (edit.section, _file_title(edit), edit.content) if t]


def titles(edit: Edit) -> list[str]:
    """The names an edit gives: a new section's title, a new file's name (without extension)."""
    return [t for t in (edit.section if edit.op == "add_section" else None, _file_title(edit)) if t]


def _file_title(edit: Edit) -> str:
    return PurePosixPath(edit.path).stem if edit.op == "create" else ""


def _head(edit: Edit) -> tuple[str, str]:
    return edit.op, edit.path
