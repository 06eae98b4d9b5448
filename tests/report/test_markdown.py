from __future__ import annotations

from trace2skill.report.doc import Chart, Diff, Report, Section, Table, Text
from trace2skill.report.markdown import FILES_DIR, escape_md, render_markdown
from tests.report.conftest import HOSTILE


def test_escape_keeps_text_text():
    out = escape_md(HOSTILE + "\nsecond line")
    assert "<" not in out and "&lt;script>alert" in out
    assert "\n" not in out and r"\*bold\*" in out and r"\[link\]" in out and r" \| " in out
    assert escape_md("a & b_c `x`") == r"a &amp; b\_c \`x\`"


def test_render_links_chart_files_and_fences_diffs():
    chart = Chart("outcomes", "Outcome [split]", b"\x89PNG fake", "caption *x*")
    diff = Diff("changed: SKILL.md § Workflow", ["@@ -1 +1 @@", "+use ```` fences", "-old"])
    report = Report(
        title="t",
        subtitle="/runs/r1",
        sections=[Section("First", "first", [Text("# not a heading"), Text("1. not a list"), Table(["a", "b|c"], [["x|y", "z"]], note="cut"), chart, diff]), Section("Second", "second", [Table(["a"], [])])],
    )
    text, files = render_markdown(report)
    assert files == {f"{FILES_DIR}/outcomes.png": b"\x89PNG fake"}
    assert f"![Outcome \\[split\\]]({FILES_DIR}/outcomes.png)" in text and "*caption \\*x\\**" in text
    assert "[First](#first) · [Second](#second)" in text and '<a id="second"></a>' in text
    assert "\n\\# not a heading\n" in text and "\n1\\. not a list\n" in text
    assert "| a | b\\|c |\n|---|---|\n| x\\|y | z |\n\n*cut*" in text and "| none |" in text
    assert "`````diff\n@@ -1 +1 @@\n+use ```` fences\n-old\n`````" in text  # fence outlasts the content's backticks
