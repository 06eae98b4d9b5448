"""Render the report as Markdown, with the charts as PNG files beside it.

Charts are files (``report_files/<name>.png``, linked relatively) rather than inline
``data:`` URIs: GitHub and most Markdown viewers do not show data-URI images, and the
files stay viewable on their own. Text from the run is escaped so that it reads as
text: Markdown and HTML syntax inside a lesson or a reason is shown, not interpreted.
"""

from __future__ import annotations

import re

from trace2skill.report.doc import Block, Cell, Chart, Diff, Report, Table, Text

FILES_DIR = "report_files"

# Characters that start Markdown syntax anywhere in a line (emphasis, code, links, tables);
# "<" and "&" become entities instead (raw HTML); the rest only matter at a line start.
_MARKUP = re.compile(r"([\\`*_\[\]|~])")
_LINE_START = re.compile(r"^([#+>-]|\d+(?=[.)]))")
_BACKTICKS = re.compile(r"`+")


def render_markdown(report: Report) -> tuple[str, dict[str, bytes]]:
    """The Markdown text and the files it links: ``{relative path: PNG bytes}``."""
    lines = [f"# {escape_md(report.title)}", "", f"Run dir: {escape_md(report.subtitle)}", ""]
    lines.append(" · ".join(f"[{escape_md(s.title)}](#{s.anchor})" for s in report.sections))
    files: dict[str, bytes] = {}
    for section in report.sections:
        lines += ["", f'<a id="{section.anchor}"></a>', "", f"## {escape_md(section.title)}", ""]
        for block in section.blocks:
            lines += _block(block, files) + [""]
    return "\n".join(lines).rstrip("\n") + "\n", files


def escape_md(text: str) -> str:
    """``text`` on one line, with Markdown punctuation backslash-escaped and ``<``/``&``
    written as entities, so no run-supplied string can add markup, links or HTML."""
    text = " ".join(text.split())
    return _MARKUP.sub(r"\\\1", text.replace("&", "&amp;").replace("<", "&lt;"))


def _paragraph(text: str) -> str:
    # a paragraph could start a heading, list or quote; inside table cells that cannot happen
    return _LINE_START.sub(lambda m: m.group(1) + "\\" if m.group(1)[0].isdigit() else "\\" + m.group(1), escape_md(text))


def _block(block: Block, files: dict[str, bytes]) -> list[str]:
    if isinstance(block, Text):
        return [_paragraph(block.text)]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Chart):
        path = f"{FILES_DIR}/{block.name}.png"
        files[path] = block.png
        return [f"![{escape_md(block.title)}]({path})", "", f"*{escape_md(block.caption)}*"]
    assert isinstance(block, Diff)
    # a fence longer than any run of backticks in the diff cannot be closed by its content
    longest = max((len(m) for line in block.lines for m in _BACKTICKS.findall(line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"**{escape_md(block.title)}**", "", f"{fence}diff", *block.lines, fence]


def _table(table: Table) -> list[str]:
    out = ["| " + " | ".join(escape_md(c) or " " for c in table.columns) + " |", "|" + "---|" * len(table.columns)]
    out += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in table.rows]
    if not table.rows:
        out.append("| none |" + " |" * (len(table.columns) - 1))
    if table.note:
        out += ["", f"*{escape_md(table.note)}*"]
    return out


def _cell(cell: Cell) -> str:
    if isinstance(cell, str):
        return escape_md(cell)
    # an href is a relative path the report made from safe characters (transcripts.page_name)
    links = [f"[{escape_md(link.text)}]({link.href})" if link.href else escape_md(link.text) for link in cell.items]
    return ("<br>" if cell.lines else ", ").join(links) + (" " + escape_md(cell.tail) if cell.tail else "")
