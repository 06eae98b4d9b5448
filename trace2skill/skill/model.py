"""In-memory model of a skill folder: SKILL.md split into ``##`` sections, plus other text files."""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import BaseModel, Field, field_validator

SKILL_MD = "SKILL.md"

_HEADING = re.compile(r"^## +(\S.*?)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def normalize_title(title: str) -> str:
    """The form two section titles are compared in: case-folded, whitespace collapsed."""
    return " ".join(title.split()).casefold()


class Section(BaseModel):
    """One level-2 section: ``## title`` followed by ``body`` up to the next ``##`` heading.

    ``body`` starts right after the heading line's newline and keeps its trailing blank lines.
    """

    title: str
    body: str = ""

    def render(self) -> str:
        """The section as markdown text, heading line included."""
        return f"## {self.title}\n{self.body}"


class MarkdownDoc(BaseModel):
    """A markdown file as the text before the first ``##`` heading and a list of sections."""

    preamble: str = ""
    sections: list[Section] = Field(default_factory=list)

    def render(self) -> str:
        """The document as text; ``parse_markdown(t).render() == t`` for files with canonical
        ``## Title`` headings (no trailing spaces on heading lines)."""
        return self.preamble + "".join(s.render() for s in self.sections)

    def find(self, title: str) -> Section | None:
        """The first section whose title matches ``title`` ignoring case and spacing."""
        indices = self.indices_of(title)
        return self.sections[indices[0]] if indices else None

    def indices_of(self, title: str) -> list[int]:
        """Positions of every section whose title matches ``title`` ignoring case and spacing."""
        wanted = normalize_title(title)
        return [i for i, s in enumerate(self.sections) if normalize_title(s.title) == wanted]

    def titles(self) -> list[str]:
        """Section titles in document order."""
        return [s.title for s in self.sections]


def split_lines(text: str) -> list[str]:
    """Lines of ``text`` with their ``\\n`` kept; only ``\\n`` separates lines, so joining
    the result gives back ``text`` exactly (``str.splitlines`` also splits on form feeds etc.)."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def code_flags(text: str) -> list[bool]:
    """For each line of ``split_lines(text)``: whether it belongs to a fenced code block
    (fence lines included)."""
    flags: list[bool] = []
    fence: str | None = None
    for line in split_lines(text):
        bare = line.rstrip("\n")
        if fence is not None:
            flags.append(True)
            if _closes(fence, bare):
                fence = None
            continue
        fence_match = _FENCE.match(bare)
        if fence_match:
            fence = fence_match.group(1)
        flags.append(fence_match is not None)
    return flags


def heading_lines(text: str) -> list[tuple[int, str]]:
    """``(line index, title)`` of every level-2 heading outside fenced code blocks."""
    found: list[tuple[int, str]] = []
    for i, (line, code) in enumerate(zip(split_lines(text), code_flags(text))):
        heading = None if code else _HEADING.match(line.rstrip("\n"))
        if heading:
            found.append((i, heading.group(1)))
    return found


def _closes(fence: str, line: str) -> bool:
    # A fence closes only with the same character, at least as long, and nothing after it.
    match = _FENCE.match(line)
    if not match:
        return False
    marker = match.group(1)
    return marker[0] == fence[0] and len(marker) >= len(fence) and not line[match.end() :].strip()


def parse_markdown(text: str) -> MarkdownDoc:
    """Split ``text`` on level-2 ATX headings (``## Title``) that are not inside code fences."""
    lines = split_lines(text)
    headings = heading_lines(text)
    if not headings:
        return MarkdownDoc(preamble=text, sections=[])
    preamble = "".join(lines[: headings[0][0]])
    sections = []
    for n, (start, title) in enumerate(headings):
        end = headings[n + 1][0] if n + 1 < len(headings) else len(lines)
        sections.append(Section(title=title, body="".join(lines[start + 1 : end])))
    return MarkdownDoc(preamble=preamble, sections=sections)


def dump_frontmatter(data: dict[str, Any]) -> str:
    """YAML for a frontmatter mapping: block style, key order kept, one line per plain string.

    Empty mappings and lists are left out: YAML can only write them in flow style
    (``{}``/``[]``), which the reference validator's strict YAML parser rejects."""
    return yaml.safe_dump(
        _without_empty(data),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=10**9,
    )


def _without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: _without_empty(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v != {} and v != []}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


class Skill(BaseModel):
    """A skill folder: SKILL.md (frontmatter + markdown body) and its other text files.

    ``name`` and ``description`` are authoritative; ``frontmatter`` holds every key as loaded
    (they are overlaid on it when rendering). ``files`` maps relative posix paths such as
    ``references/refunds.md`` to text; it never contains ``SKILL.md``.
    """

    name: str
    description: str
    frontmatter: dict[str, Any] = Field(default_factory=dict)
    body: MarkdownDoc = Field(default_factory=MarkdownDoc)
    files: dict[str, str] = Field(default_factory=dict)
    # The frontmatter text as read from disk, reused verbatim while it still means the same
    # mapping, so an untouched S0 frontmatter keeps its comments, quoting and layout.
    frontmatter_raw: str = Field(default="", repr=False)

    @field_validator("files")
    @classmethod
    def _no_skill_md_in_files(cls, files: dict[str, str]) -> dict[str, str]:
        if SKILL_MD in files:
            raise ValueError("SKILL.md belongs in Skill.body, not Skill.files")
        return files

    def effective_frontmatter(self) -> dict[str, Any]:
        """The frontmatter mapping that ``skill_md`` writes: ``frontmatter`` with the current
        ``name`` and ``description`` (first, if they were not keys already)."""
        data = {"name": self.name, "description": self.description}
        data.update(self.frontmatter)
        data["name"] = self.name
        data["description"] = self.description
        return data

    def skill_md(self) -> str:
        """SKILL.md text: ``---`` YAML frontmatter ``---`` followed by the markdown body."""
        data = self.effective_frontmatter()
        yaml_text = self.frontmatter_raw
        if not yaml_text or _load_yaml_or_none(yaml_text) != data:
            yaml_text = dump_frontmatter(data)
        if not yaml_text.endswith("\n"):
            yaml_text += "\n"
        return f"---\n{yaml_text}---\n{self.body.render()}"

    def reference_paths(self) -> list[str]:
        """Sorted paths of the files under ``references/``."""
        return sorted(p for p in self.files if p.startswith("references/"))


def _load_yaml_or_none(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None
