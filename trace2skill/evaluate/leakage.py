"""Leakage check: does a candidate skill quote held-out task texts or answers verbatim?

A skill distilled from trajectories of the very tasks it is evaluated on can carry their
text or answers, and then wins the gate by memory, not by skill. Texts are compared as
lower-cased word sequences: every run of at least ``min_words`` consecutive words of the
skill that also occurs in one task's strings is a span; spans the baseline skill already
has are not the candidate's doing and are not reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from trace2skill.evaluate.tasks import task_strings
from trace2skill.skill.quotes import shingles, words

MIN_WORDS = 12
EXCERPT_WORDS = 16


class LeakSpan(BaseModel):
    """A verbatim run of words shared by a skill file and one task."""

    task_id: str
    file: str
    words: int
    excerpt: str

    def warning(self, skill_dir: str) -> str:
        return f"{skill_dir}/{self.file} quotes {self.words} consecutive words of held-out task {self.task_id!r}: \"{self.excerpt}\""


def skill_texts(skill_dir: Path) -> dict[str, str]:
    """The text files of a skill folder by relative path (undecodable files are skipped)."""
    texts = {}
    for path in sorted(p for p in Path(skill_dir).rglob("*") if p.is_file()):
        try:
            texts[path.relative_to(skill_dir).as_posix()] = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
    return texts


def find_leaks(skill_dir: Path, tasks: Iterable[dict[str, Any]], *, baseline_dir: Path | None = None, min_words: int = MIN_WORDS) -> list[LeakSpan]:
    """Spans of ``min_words`` or more words that a skill file shares with a task, longest first.

    Word n-grams of each task index the task; a maximal run of skill positions whose
    n-gram is in one task's index is one span. Spans whose words occur in the baseline
    skill too are dropped.
    """
    index: dict[tuple[str, ...], str] = {}
    for task in tasks:
        for text in task_strings(task):
            for gram in shingles(words(text), min_words):
                index.setdefault(gram, task["id"])
    if not index:
        return []
    known = set() if baseline_dir is None else {g for text in skill_texts(baseline_dir).values() for g in shingles(words(text), min_words)}
    spans = []
    for rel, text in skill_texts(skill_dir).items():
        tokens = words(text)
        start = None  # first position of the current run of shared n-grams
        for i in range(len(tokens) - min_words + 2):
            gram = tuple(tokens[i : i + min_words]) if i <= len(tokens) - min_words else None
            task = index.get(gram) if gram and gram not in known else None
            if task is not None and start is None:
                start, run_task = i, task
            elif start is not None and task != run_task:
                end = i - 1 + min_words
                spans.append(LeakSpan(task_id=run_task, file=rel, words=end - start, excerpt=" ".join(tokens[start : min(end, start + EXCERPT_WORDS)])))
                start = None if task is None else i
                run_task = task
    return sorted(spans, key=lambda s: -s.words)
