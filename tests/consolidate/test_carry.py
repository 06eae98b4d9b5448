"""An update's provenance: the previous rows of lines still in the skill carry on, and the new
evidence for the same line joins them."""

from __future__ import annotations

import pyarrow.parquet as pq

from trace2skill.consolidate.carry import CarriedProvenance
from trace2skill.consolidate.provenance import ProvenanceRow, read_provenance, write_provenance
from trace2skill.skill.model import MarkdownDoc, Section, Skill

KEPT = "- Confirm the booking's arguments with the user before any write call."
GONE = "- Always read the whole policy aloud to the user first."


def skill() -> Skill:
    body = MarkdownDoc(sections=[Section(title="Workflow", body=f"{KEPT}\n- Look the user up first.\n")])
    return Skill(name="airline", description="Airline support.", body=body, files={"references/fees.md": "# Fees\n\n## Bags\n\nTwo bags are free on gold.\n"})


def previous_file(tmp_path):
    rows = [
        ProvenanceRow(kind="skill", path="SKILL.md", section="Workflow", support=2, lesson_ids=["l1", "l2"], trajectory_ids=["t1", "t2"], content=KEPT),
        ProvenanceRow(kind="skill", path="SKILL.md", section="Workflow", support=1, lesson_ids=["l3"], trajectory_ids=["t3"], content=GONE),
        ProvenanceRow(kind="reference", path="references/fees.md", section="Bags", support=1, lesson_ids=["l4"], trajectory_ids=["t4"], content="Two bags are free on gold."),
        ProvenanceRow(kind="dropped", support=1, lesson_ids=["l5"], trajectory_ids=["t5"], content="a one-off", reason="judged idiosyncratic"),
    ]
    path = tmp_path / "previous.parquet"
    write_provenance(rows, path)
    return path


def test_lines_still_in_the_skill_keep_their_history_and_gain_the_new_evidence(tmp_path):
    new = [
        # the same line in other words' case and spacing: its evidence joins the old row
        ProvenanceRow(kind="skill", path="SKILL.md", section="workflow", support=2, lesson_ids=["n1"], trajectory_ids=["t2", "t9"], content="-  confirm the booking's arguments with the user before any write call."),
        # an edit the apply refused as a duplicate of the line: its evidence counts, its refusal stays
        ProvenanceRow(kind="refused", path="SKILL.md", section="Workflow", support=1, lesson_ids=["n2"], trajectory_ids=["t10"], content=KEPT, reason="duplicate: every line of this edit is already in SKILL.md"),
        # something new: a row of its own
        ProvenanceRow(kind="skill", path="SKILL.md", section="Workflow", support=1, lesson_ids=["n3"], trajectory_ids=["t11"], content="- Look the user up first."),
    ]
    carried = CarriedProvenance(previous_file(tmp_path), new, skill(), near_duplicate=90.0)
    out = tmp_path / "provenance.parquet"
    write_provenance(carried.remaining(), out, carried=carried.tables())
    rows = read_provenance(out)
    assert [r.content for r in rows] == [KEPT, "Two bags are free on gold.", KEPT, "- Look the user up first."]
    grown = rows[0]
    assert grown.kind == "skill" and grown.trajectory_ids == ["t1", "t2", "t9", "t10"] and grown.support == 4
    assert grown.lesson_ids == ["l1", "l2", "n1", "n2"]
    assert rows[1].trajectory_ids == ["t4"] and rows[1].support == 1  # carried unchanged
    assert rows[2].kind == "refused" and rows[3].trajectory_ids == ["t11"]
    assert carried.carried == 2 and pq.ParquetFile(out).metadata.num_rows == 4  # the gone line and the dropped row stay in the previous run


def test_nothing_new_still_carries_the_previous_lines(tmp_path):
    carried = CarriedProvenance(previous_file(tmp_path), [], skill(), near_duplicate=90.0)
    out = tmp_path / "provenance.parquet"
    write_provenance(carried.remaining(), out, carried=carried.tables())
    assert [(r.kind, r.trajectory_ids) for r in read_provenance(out)] == [("skill", ["t1", "t2"]), ("reference", ["t4"])]
