"""The report as a small document model that both renderers (HTML, Markdown) walk.

Building the content once and rendering it twice is what keeps ``report.html`` and
``report.md`` saying the same thing. Every string here is plain text, often from
untrusted trajectories; escaping is the renderers' job, never the builder's.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text."""

    text: str


@dataclass(frozen=True)
class Link:
    """Text that links to ``href`` (a relative path the report wrote, made by code from
    ids, never run text), or plain text when ``href`` is empty."""

    text: str
    href: str = ""


@dataclass(frozen=True)
class Links:
    """A table cell of several links: ``", "``-separated, or one per line when ``lines``;
    ``tail`` (plain text) follows them, e.g. how many more there are."""

    items: list[Link]
    tail: str = ""
    lines: bool = False

    def __str__(self) -> str:
        """The cell as plain text, as the Markdown and HTML show it without the links."""
        return ("\n" if self.lines else ", ").join(link.text for link in self.items) + (f" {self.tail}" if self.tail else "")


Cell = str | Links


@dataclass(frozen=True)
class Table:
    """A table of plain-text or link cells; ``note`` says what was left out, if anything."""

    columns: list[str]
    rows: list[list[Cell]]
    note: str = ""


@dataclass(frozen=True)
class Chart:
    """A PNG chart. ``name`` is a file-name stem (``[a-z0-9_]``) unique within a report."""

    name: str
    title: str
    png: bytes
    caption: str


@dataclass(frozen=True)
class Diff:
    """Unified-diff lines of one change, shown folded under ``title``."""

    title: str
    lines: list[str]


Block = Text | Table | Chart | Diff


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Report:
    title: str
    subtitle: str
    sections: list[Section] = field(default_factory=list)

    def charts(self) -> list[Chart]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Chart)]
