"""Prompt files and data fencing, shared by the analysts and consolidation.

Each concept keeps its prompts beside its code (``trace2skill/analysts/prompts/``,
``trace2skill/consolidate/prompts/``); this module only loads them and fences the
untrusted data that goes between their delimiter tags.
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


@cache
def load_prompt(package: str, name: str) -> Template:
    """The prompt template ``<package>/prompts/<name>.md`` (placeholders are ``$name``)."""
    text = files(package).joinpath("prompts", f"{name}.md").read_text(encoding="utf-8")
    return Template(text)


def prompt_version(package: str, name: str) -> str:
    """The version tag on the first line of a prompt file, e.g. ``error_analyst v1``."""
    first = load_prompt(package, name).template.splitlines()[0]
    return first.removeprefix("<!-- prompt:").removesuffix("-->").strip()


def fence_data(text: str) -> str:
    """``text`` with the ``<`` of every prompt delimiter tag in it written as ``&lt;``."""
    return DELIMITER_TAG.sub("&lt;", text)
