"""The blocks our prompts delimit (``<skill>``, ``<trajectory>``, ``<patches>``...), as the fake LLM reads them."""

from __future__ import annotations


def block(text: str, tag: str) -> str:
    """The text between ``<tag>`` and ``</tag>`` on lines of their own (with its last newline), or ``""``."""
    # A block opens and closes on lines of their own; mentions of the tag in prose do not
    # count. (str.find, not a lazy multiline regex: this ran on every prompt, 25% of the fake's time.)
    opening, closing = f"<{tag}>\n", f"</{tag}>"
    at = 0 if text.startswith(opening) else text.find("\n" + opening) + 1
    if at == 0 and not text.startswith(opening):
        return ""
    start = at + len(opening)
    if text.startswith(closing, start):
        return ""
    end = text.find("\n" + closing, start)
    return text[start : end + 1] if end >= 0 else ""
