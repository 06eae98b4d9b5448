from __future__ import annotations

import base64
from html.parser import HTMLParser

from trace2skill.report.doc import Chart, Diff, Report, Section, Table, Text
from trace2skill.report.html import render_html
from trace2skill.report.plots import outcome_chart
from tests.report.conftest import HOSTILE
from tests.report.test_plots import decode


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text, as a browser's parser sees them."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def hostile_report() -> Report:
    chart = Chart("outcomes", HOSTILE, outcome_chart({"analyzed": 3}), HOSTILE)
    blocks = [Text(HOSTILE), Table(["topic", HOSTILE], [[HOSTILE, "1"]], note=HOSTILE), chart, Diff(HOSTILE, ["@@ -1 +1 @@", "-" + HOSTILE, "+" + HOSTILE, " same"])]
    return Report(title=HOSTILE, subtitle=HOSTILE, sections=[Section(HOSTILE, "s1", blocks), Section("Empty", "s2", [Table(["a", "b"], [])])])


def test_run_text_is_escaped_everywhere():
    page = render_html(hostile_report())
    parsed = Tags(page)
    names = [t for t, _ in parsed.tags]
    assert "script" not in names and names.count("img") == 1  # only the chart is an image
    assert all("onerror" not in attrs for _, attrs in parsed.tags)
    assert sum(HOSTILE in text for text in parsed.text) >= 8  # shown as text in every place


def test_self_contained_and_offline():
    page = render_html(hostile_report())
    parsed = Tags(page)
    csp = next(a["content"] for t, a in parsed.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp and "img-src data:" in csp
    for tag, attrs in parsed.tags:
        assert tag not in ("link", "script", "iframe", "object")
        assert not attrs.get("href", "#").startswith(("http", "//")), (tag, attrs)
    (src,) = [a["src"] for t, a in parsed.tags if t == "img"]
    assert src.startswith("data:image/png;base64,")
    decode(base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True))


def test_layout_blocks():
    page = render_html(hostile_report())
    assert page.startswith("<!DOCTYPE html>") and page.count('<div class="row">') == 2  # table+chart, the empty table
    assert '<td colspan="2">none</td>' in page
    assert '<span class="add">+&lt;script&gt;' in page and '<span class="del">-&lt;script&gt;' in page and '<span class="hunk">@@' in page
    assert '<a href="#s1">' in page and '<section id="s2">' in page
