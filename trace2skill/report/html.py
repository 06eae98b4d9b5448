"""Render the report as one self-contained HTML page.

Self-contained means it opens offline and from anywhere: the CSS is inline, charts are
``data:image/png;base64`` images, there is no script, and a Content-Security-Policy
forbids loading anything else (links to the transcript pages beside it are plain
navigation). Every string from the run goes through ``html.escape``:
lesson text, reasons and ids come from untrusted trajectories.
"""

from __future__ import annotations

import base64
from html import escape
from itertools import groupby

from trace2skill.report.doc import Block, Cell, Chart, Diff, Report, Table, Text

# No default source at all: only inline styles and data: images may load.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212121;
       margin: 0 auto; padding: 16px 24px 48px; max-width: 1280px; }
h1 { font-size: 22px; margin: 8px 0 2px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #e0e0e0; }
.sub { color: #616161; margin: 0 0 8px; font-family: ui-monospace, monospace; font-size: 12px; }
nav a { margin-right: 14px; }
.row { display: flex; flex-wrap: wrap; gap: 12px 16px; align-items: flex-start; margin: 8px 0; }
figure { margin: 0; padding: 8px; border: 1px solid #e0e0e0; border-radius: 6px; background: #fff; flex: 0 1 600px; box-sizing: border-box; }
figure img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption { color: #616161; font-size: 12px; margin-top: 4px; }
.table { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #e0e0e0; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
td { overflow-wrap: anywhere; max-width: 420px; }
.note { color: #616161; font-size: 12px; margin: 4px 0 0; }
details { margin: 4px 0; }
summary { cursor: pointer; font-family: ui-monospace, monospace; font-size: 12px; }
pre { background: #fafafa; border: 1px solid #e0e0e0; padding: 6px 8px; overflow-x: auto; font-size: 12px; margin: 4px 0; }
.add { color: #1b5e20; background: #e8f5e9; display: block; }
.del { color: #b71c1c; background: #ffebee; display: block; }
.hunk { color: #6a1b9a; display: block; }
"""


def render_html(report: Report) -> str:
    """The complete page."""
    nav = " ".join(f'<a href="#{escape(s.anchor)}">{escape(s.title)}</a>' for s in report.sections)
    body = [f"<h1>{escape(report.title)}</h1>", f'<p class="sub">{escape(report.subtitle)}</p>', f"<nav>{nav}</nav>"]
    for section in report.sections:
        body.append(f'<section id="{escape(section.anchor)}"><h2>{escape(section.title)}</h2>')
        body.extend(_blocks(section.blocks))
        body.append("</section>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(report.title)}</title><style>{CSS}</style></head>\n"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _blocks(blocks: list[Block]) -> list[str]:
    out: list[str] = []
    # consecutive charts and tables flow side by side in one wrapping row
    for in_row, group in groupby(blocks, key=lambda b: isinstance(b, (Chart, Table))):
        if in_row:
            out.append('<div class="row">' + "".join(_block(b) for b in group) + "</div>")
        else:
            out.extend(_block(b) for b in group)
    return out


def _block(block: Block) -> str:
    if isinstance(block, Text):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Chart):
        return _chart(block)
    return _diff(block)


def _chart(chart: Chart) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    return (
        f'<figure id="chart-{escape(chart.name)}"><img src="data:image/png;base64,{data}" alt="{escape(chart.title)}">'
        f"<figcaption>{escape(chart.caption)}</figcaption></figure>"
    )


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    rows = "".join("<tr>" + "".join(f"<td>{_cell(cell)}</td>" for cell in row) + "</tr>" for row in table.rows)
    if not table.rows:
        rows = f'<tr><td colspan="{len(table.columns)}">none</td></tr>'
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    return f'<div class="table"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{note}</div>'


def _cell(cell: Cell) -> str:
    if isinstance(cell, str):
        return escape(cell)
    links = [f'<a href="{escape(link.href)}">{escape(link.text)}</a>' if link.href else escape(link.text) for link in cell.items]
    return ("<br>" if cell.lines else ", ").join(links) + (" " + escape(cell.tail) if cell.tail else "")


def _diff(diff: Diff) -> str:
    lines = []
    for line in diff.lines:
        css = "hunk" if line.startswith("@@") else "add" if line.startswith("+") else "del" if line.startswith("-") else ""
        text = escape(line)
        lines.append(f'<span class="{css}">{text}</span>' if css else text + "\n")
    return f"<details><summary>{escape(diff.title)}</summary><pre>{''.join(lines)}</pre></details>"
