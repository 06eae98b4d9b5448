from __future__ import annotations

import pyarrow.parquet as pq

from trace2skill.report.build import MAX_ROWS, build_report
from trace2skill.report.doc import Chart, Diff, Table, Text
from trace2skill.report.load import load_run
from trace2skill.schema import MANIFEST_SCHEMA, ManifestRow, to_table
from tests.report.conftest import HOSTILE


def tables(section) -> list[Table]:
    """The section's tables, every cell as plain text (a cell of links as its text)."""
    return [Table(b.columns, [[str(cell) for cell in row] for row in b.rows], b.note) for b in section.blocks if isinstance(b, Table)]


def test_sections_tables_and_charts(hand_run):
    report = build_report(load_run(hand_run))
    sections = {s.anchor: s for s in report.sections}
    assert list(sections) == ["summary", "safety", "topics", "consolidation", "changes", "left-out", "no-lessons"]
    assert [c.name for c in report.charts()] == ["outcomes", "clusters", "support", "merges", "skill_lines"]
    assert report.title == "trace2skill run report: airline-agent"

    counts, usage, stages = tables(sections["summary"])
    assert ["trajectories read", "38"] in counts.rows and ["failed (LLM output unusable)", "5"] in counts.rows
    assert usage.rows[-1][0] == "total" and stages.rows[-1] == ["whole run", "6.6", "100%"]

    changes = tables(sections["changes"])[0]
    kinds = {row[1]: row[0] for row in changes.rows}
    assert kinds["SKILL.md § Refunds"] == "added" and kinds["references/compensation.md"] == "to references"
    refunds = next(r for r in changes.rows if r[1] == "SKILL.md § Refunds")
    assert refunds[3] == "15" and refunds[6].endswith("(+12 more)")  # support and example trajectories
    assert len([b for b in sections["changes"].blocks if isinstance(b, Diff)]) == len(changes.rows)

    dropped, refused = tables(sections["left-out"])
    assert any(r[2].startswith("reference budget full: at most 2 reference files") for r in dropped.rows)
    assert refused.rows == [["append_to_section", "SKILL.md § Nowhere", "section 'Nowhere' not found in SKILL.md", "- " + HOSTILE, "t-r1, t-r2"]]
    assert any("near-duplicate lesson(s) were folded" in b.text for b in sections["left-out"].blocks if isinstance(b, Text))

    reasons = tables(sections["no-lessons"])[0]
    assert [r[0] for r in reasons.rows] == ["no_lesson", "quarantined", "failed", "failed"]
    assert reasons.rows[2] == ["failed", "invalid JSON after 3 attempts", "4", "f0, f1, f2 (+1 more)"]


def test_long_tables_are_cut_with_a_note(hand_run):
    rows = [ManifestRow(trajectory_id=f"t{i}", status="failed", reason=f"reason {i}") for i in range(MAX_ROWS + 5)]
    pq.write_table(to_table(rows, MANIFEST_SCHEMA), hand_run / "manifest.parquet")
    report = build_report(load_run(hand_run, top_reasons=MAX_ROWS + 5))
    reasons = tables(report.sections[-1])[0]
    assert len(reasons.rows) == MAX_ROWS and reasons.note.startswith("5 more row(s) not shown")


def test_a_run_without_its_skills_still_reports(hand_run):
    for path in sorted((hand_run / "s0").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    report = build_report(load_run(hand_run))
    changes = next(s for s in report.sections if s.anchor == "changes")
    assert [type(b) for b in changes.blocks] == [Text] and "s0/" in changes.blocks[0].text
    summary = report.sections[0]
    assert isinstance(summary.blocks[0], Text) and "starting skill (s0/) could not be loaded" in summary.blocks[0].text
    assert len(report.charts()) == 4 and all(isinstance(c, Chart) for c in report.charts())
