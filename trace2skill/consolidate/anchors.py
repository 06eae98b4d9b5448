"""Restating an anchor or a section title that its file does not hold: a bounded LLM call.

The guarded apply (``skill.repair``) first matches a paraphrased anchor to the closest
unique span of its section, and a misnamed section to the closest unique title of its
file, with rapidfuzz; only under the threshold does it call the injected ``Restater``.
This is consolidation's: it shows the LLM the edit being repaired and the section (for an
anchor) or the file's section titles (for a section), asks it to copy the text the edit
means, once per distinct request, and at most ``max_calls`` times a run. The answer is
used only when it occurs exactly once (``skill.repair`` checks), so a wrong restatement
is refused like no restatement.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pydantic import BaseModel

from trace2skill.consolidate.models import RestatedAnchor, RestatedSection
from trace2skill.llm.base import LLMClient, LLMError, Message
from trace2skill.llm.structured import generate
from trace2skill.prompting import fence_data, load_prompt
from trace2skill.schema import Usage
from trace2skill.skill.anchors import Restatement

# A restatement request -> the restated anchor or title (or None) and the tokens spent.
AskFn = Callable[[Restatement], tuple["str | None", Usage]]
_ANSWERS: dict[str, type[BaseModel]] = {"anchor": RestatedAnchor, "section": RestatedSection}


def restate_messages(asked: Restatement) -> list[Message]:
    """The restatement prompt: the rules, then the section (or the file's titles) and the edit as data."""
    system = load_prompt("trace2skill.consolidate", asked.kind).safe_substitute()
    edit = asked.edit.model_dump(include={"op", "path", "section", "anchor", "content", "reason"})
    where = f"## {fence_data(asked.title)}\n{fence_data(asked.body)}" if asked.kind == "anchor" else fence_data(asked.body)
    data = json.dumps({asked.kind: asked.written, "edit": edit}, ensure_ascii=False)
    user = f"<skill>\n{where}\n</skill>\n<patches>\n{fence_data(data)}\n</patches>"
    return [Message(role="system", content=system), Message(role="user", content=user)]


def restate(asked: Restatement, llm: LLMClient, *, max_tokens: int = 256, retries: int = 1) -> tuple[str | None, Usage]:
    """The anchor or section title ``asked`` means, as the LLM copies it (None if it finds none or fails)."""
    try:
        answer, usage = generate(llm, restate_messages(asked), _ANSWERS[asked.kind], max_tokens=max_tokens, retries=retries)
    except LLMError as exc:
        return None, exc.usage
    except ValueError:  # e.g. a section too long for the engine's context: no restatement
        return None, Usage()
    text = getattr(answer, asked.kind)
    return (text if answer.found and text.strip() else None), usage


class BoundedRestater:
    """A ``skill.anchors.Restater`` that asks ``ask`` once per distinct request and at most
    ``max_calls`` times in all; ``calls`` and ``usage`` say what it spent."""

    def __init__(self, ask: AskFn, max_calls: int):
        self.ask = ask
        self.max_calls = max_calls
        self.calls = 0
        self.usage = Usage()
        self._answers: dict[str, str | None] = {}

    def __call__(self, asked: Restatement) -> str | None:
        key = asked.model_dump_json()
        if key not in self._answers:
            if self.calls >= self.max_calls:
                return None
            self.calls += 1
            self._answers[key], usage = self.ask(asked)
            self.usage = self.usage + usage
        return self._answers[key]


def llm_restater(llm: LLMClient, max_calls: int) -> BoundedRestater:
    """A bounded restater that calls ``llm`` in this process."""
    return BoundedRestater(lambda asked: restate(asked, llm), max_calls)
