"""A new skill's name and first description, from the distinctive words of its tasks.

The keywords are the group's top TF-IDF terms (each group's task texts one document, so a
word every group uses weighs little). A word is kept only where
``consolidate.naming.name_problem`` accepts it as a topic (no digits, no file type, no
vowel-less code, no proper name, no function word) and ``consolidate.instance`` does not
find it value-like (ids, ALLCAPS codes, paths): a skill is named after what its tasks do,
never after one customer's booking. The name joins the first keywords in kebab-case; the
description is a deterministic "Use when ..." sentence the pipeline may have an LLM
rewrite (``library.describe``).
"""

from __future__ import annotations

import re

from trace2skill.consolidate.instance import is_value_like
from trace2skill.consolidate.naming import Vocabulary, name_problem

NAME_WORDS = 3  # keywords a name joins
KEYWORDS = 6  # keywords kept per group
MAX_NAME_CHARS = 64  # the Agent Skills limit on a name
# Words of asking, not of what is asked (scikit-learn's stop words do not hold them).
_REQUEST_WORDS = frozenset({"want", "wants", "need", "needs", "please", "like", "help", "make", "use", "using", "try", "let"})
_TOKEN = re.compile(r"(?<![\w@.\-/])[A-Za-z][A-Za-z]+(?![\w@\-/]|\.\w)")  # a whole word: not a piece of an id, email, path or file name


def keywords(groups: list[list[str]], *, top: int = KEYWORDS) -> list[list[str]]:
    """The ``top`` distinctive words of each group's task texts (most distinctive first)."""
    from sklearn.feature_extraction.text import (
        TfidfVectorizer,  # slow import: only naming needs it
    )

    docs = [[w.lower() for w in _words(texts)] for texts in groups]
    if not any(docs):
        return [[] for _ in groups]
    matrix = TfidfVectorizer(analyzer=lambda doc: doc, sublinear_tf=True).fit(docs)
    weights = matrix.transform(docs).toarray()
    terms = matrix.get_feature_names_out()
    return [[str(terms[j]) for j in sorted(range(len(terms)), key=lambda j: (-row[j], terms[j]))[:top] if row[j] > 0] for row in weights]


def _words(texts: list[str]) -> list[str]:
    vocabulary = Vocabulary(texts)
    return [w for text in texts for w in _TOKEN.findall(text) if _topical(w, vocabulary)]


def _topical(word: str, vocabulary: Vocabulary) -> bool:
    return len(word) > 2 and word.lower() not in _REQUEST_WORDS and not is_value_like(word) and name_problem(word, vocabulary) is None


def skill_name(words: list[str], taken: set[str], *, fallback: str = "tasks") -> str:
    """A kebab-case name from the first ``NAME_WORDS`` of ``words`` that is not in ``taken``:
    on a clash the next keyword is added, then a number."""
    base = list(words[:NAME_WORDS]) or [fallback]
    extra = list(words[NAME_WORDS:])
    name = _kebab(base)
    while name in taken and extra:
        base.append(extra.pop(0))
        name = _kebab(base)
    stem, n = name, 2
    while name in taken:
        name = f"{stem[: MAX_NAME_CHARS - len(str(n)) - 1]}-{n}"
        n += 1
    return name


def _kebab(words: list[str]) -> str:
    name = "-".join(re.sub(r"[^a-z0-9]+", "-", w.lower()).strip("-") for w in words)
    return re.sub(r"-{2,}", "-", name)[:MAX_NAME_CHARS].strip("-") or "tasks"


def new_description(words: list[str]) -> str:
    """The first description of a new skill whose tasks' keywords are ``words``."""
    if not words:
        return "Guidance for a family of tasks routed together. Use when a task is like the ones this skill was built from."
    listed = _listed(words[:4])
    return f"Handles tasks about {listed}. Use when a task involves {_listed(words[:3], 'or')}."


def _listed(words: list[str], last: str = "and") -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} {last} {words[-1]}"
