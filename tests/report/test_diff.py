from __future__ import annotations

import polars as pl
import pyarrow as pa

from trace2skill.consolidate.provenance import PROVENANCE_SCHEMA, ProvenanceRow
from trace2skill.report.diff import HEAD, MAX_DIFF_LINES, section_lines
from trace2skill.report.diff import skill_diff as diff_with
from trace2skill.report.load import place_evidence
from trace2skill.skill.model import Skill, parse_markdown


def skill(body: str, files: dict[str, str] | None = None, description: str = "Test skill. Use in tests.") -> Skill:
    return Skill(name="t", description=description, body=parse_markdown(body), files=files or {})


S0 = skill(
    "\n# T\n\n## Workflow\n\n1. Look.\n\n## Pitfalls\n\n- Careful.\n\n## Old\n\ngone soon\n",
    {"references/keep.md": "# Keep\n", "references/edit.md": "# Edit\n", "references/drop.md": "# Drop\n"},
)


def row(kind: str, path: str, section: str, trajectories: list[str], **kw) -> ProvenanceRow:
    return ProvenanceRow(kind=kind, path=path, section=section, support=len(trajectories), trajectory_ids=trajectories, lesson_ids=[f"l-{t}" for t in trajectories], **kw)


def skill_diff(s0: Skill, result: Skill, rows: list[ProvenanceRow]):
    """The diff with its evidence counted from ``rows`` as the report counts it from provenance.parquet."""
    table = pa.Table.from_pylist([r.model_dump() for r in rows], schema=PROVENANCE_SCHEMA)
    return diff_with(s0, result, rows, place_evidence(pl.from_arrow(table).lazy()))


def test_sections_and_files_with_their_evidence():
    result = skill(
        "\n# T\n\n## Workflow\n\n1. Look.\n2. Confirm first.\n\n## Pitfalls\n\n- Careful.\n\n## Refunds\n\n- To the original method.\n\n## References\n\n- [references/baggage.md](references/baggage.md)\n",
        {"references/keep.md": "# Keep\n", "references/edit.md": "# Edit\n\nmore\n", "references/baggage.md": "# Baggage\n"},
    )
    rows = [
        row("skill", "SKILL.md", "workflow", ["t1", "t2"], cluster_label="confirmation"),
        row("skill", "SKILL.md", "Workflow", ["t2", "t3", "t4", "t5"], cluster_label="identity"),
        row("skill", "SKILL.md", "Refunds", ["t6"], cluster_label="refunds"),
        row("reference", "references/baggage.md", "", ["t7", "t8"], cluster_label="baggage", reason="moved to references/: SKILL.md line budget"),
        row("reference", "SKILL.md", "References", ["t7", "t8"], cluster_label="baggage", reason="topic 'baggage' backed by 2 trajectories"),
        row("dropped", "", "", ["t9"], cluster_label="noise"),
    ]
    changes = {c.place: c for c in skill_diff(S0, result, rows)}
    assert list(changes) == [
        "SKILL.md § Workflow",  # Pitfalls only gained a trailing blank line: not a change
        "SKILL.md § Refunds",
        "SKILL.md § References",
        "SKILL.md § Old",
        "references/baggage.md",
        "references/drop.md",
        "references/edit.md",
    ]
    workflow = changes["SKILL.md § Workflow"]
    assert (workflow.kind, workflow.lines_before, workflow.lines_after) == ("changed", 4, 5)
    # two topics wrote into the section: the support is their distinct trajectories
    assert workflow.support == 5 and workflow.lessons == 5 and workflow.example_ids == ["t1", "t2", "t3"]
    assert workflow.topics == ["confirmation", "identity"] and "+2. Confirm first." in workflow.diff
    assert changes["SKILL.md § Refunds"].kind == "added" and changes["SKILL.md § Refunds"].support == 1
    assert changes["SKILL.md § Old"].kind == "removed" and changes["SKILL.md § Old"].support == 0
    baggage = changes["references/baggage.md"]
    assert baggage.kind == "to references" and baggage.note == "moved to references/: SKILL.md line budget"
    assert changes["references/drop.md"].kind == "removed" and changes["references/edit.md"].kind == "changed"
    assert changes["SKILL.md § References"].note == "topic 'baggage' backed by 2 trajectories"


def test_head_change_and_titles_matched_loosely():
    result = skill("\n# T\n\n## workflow\n\n1. Look.\n\n## Pitfalls\n\n- Careful.\n\n## Old\n\ngone soon\n", S0.files, description="Changed. Use in tests.")
    changes = skill_diff(S0, result, [])
    # the renamed heading is one changed section, not one removed and one added
    assert [(c.kind, c.section) for c in changes] == [("changed", HEAD), ("changed", "workflow")]
    assert any(line.startswith("+description: Changed.") for line in changes[0].diff)


def test_identical_skills_and_long_diffs():
    assert skill_diff(S0, S0, []) == []
    long = skill("\n# T\n\n## Workflow\n\n" + "".join(f"{i}. step\n" for i in range(100)), S0.files)
    workflow = next(c for c in skill_diff(S0, long, []) if c.section == "Workflow")
    assert len(workflow.diff) == MAX_DIFF_LINES + 1 and workflow.diff[-1].endswith("more diff lines")


def test_section_lines_cover_the_whole_file():
    lines = section_lines(S0)
    assert [t for t, _ in lines] == [HEAD, "Workflow", "Pitfalls", "Old"]
    assert sum(n for _, n in lines) == len(S0.skill_md().splitlines())
