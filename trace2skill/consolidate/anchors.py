"""Restating an anchor that no span of its section matches: a bounded LLM call.

The guarded apply (``skill.apply``) first matches a paraphrased anchor to the closest
unique span with rapidfuzz; only under the threshold does it call the injected
``Restater``. This is consolidation's: it asks the LLM to copy the text the anchor means
from the section, once per distinct (section, anchor), and at most ``max_calls`` times a
run. The answer is used only when it occurs exactly once in the section (``skill.apply``
checks), so a wrong restatement is refused like no restatement.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from trace2skill.consolidate.models import RestatedAnchor
from trace2skill.llm.base import LLMClient, LLMError, Message
from trace2skill.llm.structured import generate
from trace2skill.prompting import fence_data, load_prompt
from trace2skill.schema import Usage

# (section title, section body, anchor) -> the restated anchor (or None) and the tokens spent.
AskFn = Callable[[str, str, str], tuple["str | None", Usage]]


def anchor_messages(title: str, body: str, anchor: str) -> list[Message]:
    """The restatement prompt: the rules, then the section and the anchor as data."""
    system = load_prompt("trace2skill.consolidate", "anchor").safe_substitute()
    user = f"<skill>\n## {fence_data(title)}\n{fence_data(body)}\n</skill>\n<patches>\n{fence_data(json.dumps({'anchor': anchor}, ensure_ascii=False))}\n</patches>"
    return [Message(role="system", content=system), Message(role="user", content=user)]


def restate_anchor(title: str, body: str, anchor: str, llm: LLMClient, *, max_tokens: int = 256, retries: int = 1) -> tuple[str | None, Usage]:
    """The section text ``anchor`` means, as the LLM copies it (None if it finds none or fails)."""
    try:
        answer, usage = generate(llm, anchor_messages(title, body, anchor), RestatedAnchor, max_tokens=max_tokens, retries=retries)
    except LLMError as exc:
        return None, exc.usage
    except ValueError:  # e.g. a section too long for the engine's context: no restatement
        return None, Usage()
    return (answer.anchor if answer.found and answer.anchor.strip() else None), usage


class BoundedRestater:
    """A ``skill.anchors.Restater`` that asks ``ask`` once per distinct (section, anchor) and
    at most ``max_calls`` times in all; ``calls`` and ``usage`` say what it spent."""

    def __init__(self, ask: AskFn, max_calls: int):
        self.ask = ask
        self.max_calls = max_calls
        self.calls = 0
        self.usage = Usage()
        self._answers: dict[tuple[str, str, str], str | None] = {}

    def __call__(self, title: str, body: str, anchor: str) -> str | None:
        key = (title, body, anchor)
        if key not in self._answers:
            if self.calls >= self.max_calls:
                return None
            self.calls += 1
            self._answers[key], usage = self.ask(title, body, anchor)
            self.usage = self.usage + usage
        return self._answers[key]


def llm_restater(llm: LLMClient, max_calls: int) -> BoundedRestater:
    """A bounded restater that calls ``llm`` in this process."""
    return BoundedRestater(lambda title, body, anchor: restate_anchor(title, body, anchor, llm), max_calls)
