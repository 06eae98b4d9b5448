"""The closing note of distill: the changes to the skill, a diff excerpt, why runs yielded nothing, the report."""

from __future__ import annotations

import re

from trace2skill.report import load_run
from trace2skill.report.closing import EXCERPT_LINES, WEAK_MODEL_NOTE, closing_note, line_counts
from trace2skill.report.diff import skill_diff
from trace2skill.skill.folder import write_skill
from trace2skill.skill.model import Skill, parse_markdown

S0_BODY = "# Demo\n\n## Workflow\n- Look first.\n"


def _skill(body: str, files: dict[str, str] | None = None) -> Skill:
    return Skill(name="demo", description="A demo skill. Use for tests.", body=parse_markdown(body), files=files or {})


def test_every_change_is_listed_with_the_totals(hand_run):
    run = load_run(hand_run)
    note = closing_note(run, default_model=False)
    changes = skill_diff(run.s0, run.skill, run.provenance, run.places)
    added, removed = line_counts(run.s0, run.skill)
    head = note.splitlines()[0]
    assert head.startswith(f"What changed in {run.skill.name}/:") and f"{added} line(s) added, {removed} removed" in head
    created = sum(f not in run.s0.files for f in run.skill.files if f.startswith("references/"))
    assert created >= 1 and f"{created} reference(s) created" in head and f"{sum(c.kind == 'added' and bool(c.section) for c in changes)} section(s) added" in head
    for change in changes:
        row = next(line for line in note.splitlines() if change.place in line)
        assert re.search(rf"{change.lines_before} -> {change.lines_after}\s+lines", row)
        assert f"support {change.support}" in row if change.support else "by code" in row
    assert "reference added references/compensation.md" in re.sub(r"\s+", " ", note)


def test_the_excerpt_quotes_the_best_supported_addition(hand_run):
    run = load_run(hand_run)
    lines = closing_note(run, default_model=False).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Excerpt of the diff"))
    best = max((c for c in skill_diff(run.s0, run.skill, run.provenance, run.places) if any(d.startswith("+") for d in c.diff)), key=lambda c: c.support)
    assert lines[start] == f"Excerpt of the diff ({best.place}):"
    quoted = [line for line in lines[start + 1 :] if line.startswith("  ")]
    assert 0 < len(quoted) <= EXCERPT_LINES + 1
    assert all(line[3:].strip() for line in quoted if not line.startswith("  ...")), quoted  # no blank diff lines


def test_reasons_report_path_and_the_weak_model_note(hand_run):
    run = load_run(hand_run)
    note = closing_note(run, default_model=True)
    assert "5 trajectory(ies) failed; most often (4): invalid JSON after 3 attempts" in note
    assert "1 trajectory(ies) quarantined" in note and "2 trajectory(ies) no_lesson" in note
    assert "1 edit(s) refused by the guards; most often (1): section 'Nowhere' not found in SKILL.md" in note
    assert f"Full report (diff with evidence, topics, what was left out and why): {hand_run / 'report.html'}" in note
    assert note.endswith(WEAK_MODEL_NOTE)
    assert "--model-path" in WEAK_MODEL_NOTE and "--backend openai" in WEAK_MODEL_NOTE and "270M" in WEAK_MODEL_NOTE
    assert WEAK_MODEL_NOTE not in closing_note(run, default_model=False)


def test_an_unchanged_skill_says_so(hand_run):
    run = load_run(hand_run)
    write_skill(run.s0, hand_run / "s0")  # the result as S0
    same = load_run(hand_run)
    same.skill = same.s0
    assert closing_note(same, default_model=False).splitlines()[0].startswith(f"The skill is unchanged: no edit of this run reached {run.s0.name}/")


def test_line_counts_cover_skill_md_and_other_files():
    s0 = _skill(S0_BODY, {"references/a.md": "# A\nold\n"})
    after = _skill(S0_BODY + "- Confirm before acting.\n- Check the owner.\n", {"references/a.md": "# A\nnew\n", "references/b.md": "# B\none\n"})
    assert line_counts(s0, after) == (2 + 1 + 2, 1)
    assert line_counts(s0, s0) == (0, 0)
