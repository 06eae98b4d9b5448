"""Reference file names and "Read it when" lines: from the topic, never from instance text.

A reference file is named after its cluster's topic (the label the analysts' ``topic``
field gives, a field whose prompt asks for 2-5 generic words) and its index line says when
to read it from the lessons' ``description`` (prompted as "when an agent should apply the
lesson, generically"). Small models still put a customer's name, a reservation code or a
file name there, so both are checked: a name is refused when a word of it has digits (an
id, code or value), names a file type (``skill-md``), has no vowel (a code), or is a proper
name (written capitalised in the lessons' own text and never as a plain word), or is made
of function words only (``may``). A refused
label gives way to the next topic of the cluster's lessons, then to the label's remaining
words, then to a generic name; a refused "Read it when" line to one built from the topic.
Every refusal is recorded with its reason.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from pydantic import BaseModel, Field

MAX_TOPIC_WORDS = 6
MAX_WHEN_CHARS = 160
FALLBACK_TOPIC = "notes"
_FILE_WORDS = frozenset({"md", "markdown", "json", "jsonl", "yaml", "yml", "txt", "py", "csv", "toml", "sh", "html", "readme"})
_WORD = re.compile(r"[A-Za-z0-9]+")
_VOWEL = re.compile(r"[aeiouy]", re.IGNORECASE)


@lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    # scikit-learn's English stop words: "may", "the", "there"... say nothing of a topic.
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # imported when a name is judged, not at start-up

    return frozenset(ENGLISH_STOP_WORDS)


class Vocabulary:
    """The words of the lessons' own text, as they are written: which occur as plain
    lower-case words and which only capitalised (proper names)."""

    def __init__(self, texts: Iterable[str]):
        self.plain: set[str] = set()
        self.capitalised: set[str] = set()
        for text in texts:
            for word in _WORD.findall(text or ""):
                (self.plain if word.islower() else self.capitalised).add(word.lower())

    def is_name(self, word: str, *, first: bool) -> bool:
        """True when ``word`` reads as a proper name: the lessons write it only capitalised,
        or it is capitalised here (not first, not an acronym) and never a plain word there."""
        low = word.lower()
        if low in self.plain:
            return False
        if low in self.capitalised:
            return not word.isupper()
        return word[:1].isupper() and not word.isupper() and not first


def name_problem(text: str, vocabulary: Vocabulary, *, max_words: int = MAX_TOPIC_WORDS) -> str | None:
    """Why ``text`` is not a generic topic or situation (None when it is one)."""
    words = _WORD.findall(text)
    if not words:
        return "it has no words"
    if len(words) > max_words:
        return f"{len(words)} words: a sentence, not a topic"
    if all(w.lower() in _function_words() for w in words):
        return "only function words (" + " ".join(words) + "): no topic"
    for i, word in enumerate(words):
        if any(c.isdigit() for c in word):
            return f"{word!r} has digits: an id, code or value"
        if word.lower() in _FILE_WORDS:
            return f"{word!r} names a file type: a file name, not a topic"
        if len(word) >= 4 and not _VOWEL.search(word):
            return f"{word!r} has no vowel: a code"
        if vocabulary.is_name(word, first=i == 0):
            return f"{word!r} is a proper name (the lessons write it capitalised)"
    return None


class ReferenceName(BaseModel):
    """A reference file's topic, its "Read it when" line, and the names refused on the way."""

    topic: str
    when: str
    refused: list[str] = Field(default_factory=list)

    @property
    def note(self) -> str:
        return "; ".join(self.refused)


def reference_name(label: str, topics: Counter[str], descriptions: list[str], vocabulary: Vocabulary) -> ReferenceName:
    """The topic and "Read it when" line of a reference file for a cluster labelled
    ``label``, whose lessons name ``topics`` and say when they apply in ``descriptions``
    (most supported first); see the module doc."""
    refused: list[str] = []
    candidates = [label, *(t for t, _ in sorted(topics.items(), key=lambda kv: (-kv[1], kv[0])) if t != label)]
    topic = None
    for candidate in candidates:
        problem = name_problem(candidate, vocabulary)
        if problem is None:
            topic = candidate
            break
        refused.append(f"topic {candidate!r} refused as a reference name: {problem}")
    if topic is None:
        kept = [w for w in _WORD.findall(label) if name_problem(w, vocabulary) is None]
        topic = " ".join(kept).lower() or FALLBACK_TOPIC
    when = None
    for description in descriptions:
        text = _when_text(description)
        problem = name_problem(text, vocabulary, max_words=MAX_WHEN_CHARS) if text else "it is empty"
        if problem is None and len(text) > MAX_WHEN_CHARS:
            problem = f"{len(text)} characters, more than {MAX_WHEN_CHARS}"
        if problem is None:
            when = text
            break
        refused.append(f"'Read it when' line {description[:80]!r} refused: {problem}")
    return ReferenceName(topic=topic, when=(when or f"a task involves {topic}") + ".", refused=refused)


def _when_text(description: str) -> str:
    text = " ".join(description.split()).rstrip(".")
    if text.lower().startswith("when "):
        text = text[5:]
    return text[:1].lower() + text[1:]
