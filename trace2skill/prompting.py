"""Prompt files and data fencing, shared by the analysts and consolidation.

Each concept keeps its prompts beside its code (``trace2skill/analysts/prompts/``,
``trace2skill/consolidate/prompts/``); this module loads them and fences the untrusted
data that goes between their delimiter tags. Text several prompts share is one fragment
in ``trace2skill/prompts/`` (e.g. ``untrusted_data.md``, the rule on untrusted data), put
in a prompt by a line ``<!-- include: NAME -->``.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from string import Template

# The tags our prompts delimit data with; data that spells one (even as "< /Skill >") is
# rewritten so that it cannot close its block early or open a block of its own.
DELIMITER_TAG = re.compile(
    r"<(?=\s*/?\s*(?:trajectory|skill|agent_instructions|patches|tasks|grader|sibling|references)\b)", re.IGNORECASE
)


INCLUDE = re.compile(r"^<!-- include: (\w+) -->$", re.MULTILINE)
SHARED = "trace2skill"  # the package whose prompts/ holds the shared fragments


def _read(package: str, name: str) -> str:
    return files(package).joinpath("prompts", f"{name}.md").read_text(encoding="utf-8")


def fragment(name: str) -> str:
    """The shared fragment ``trace2skill/prompts/<name>.md`` without its version line."""
    return _read(SHARED, name).split("\n", 1)[1].strip()


@cache
def load_prompt(package: str, name: str) -> Template:
    """The prompt template ``<package>/prompts/<name>.md`` (placeholders are ``$name``),
    its include lines replaced by the shared fragments they name."""
    return Template(INCLUDE.sub(lambda m: fragment(m.group(1)), _read(package, name)))


def prompt_version(package: str, name: str) -> str:
    """The version tag on the first line of a prompt file, e.g. ``error_analyst v1``."""
    first = load_prompt(package, name).template.splitlines()[0]
    return first.removeprefix("<!-- prompt:").removesuffix("-->").strip()


def fence_data(text: str) -> str:
    """``text`` with the ``<`` of every prompt delimiter tag in it written as ``&lt;``."""
    return DELIMITER_TAG.sub("&lt;", text)
