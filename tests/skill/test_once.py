"""Exactly once: no line lands twice, near-identical lines fold, apply is idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trace2skill.schema import Edit, Patch
from trace2skill.skill.apply import apply_patch
from trace2skill.skill.folder import load_skill
from trace2skill.skill.model import Skill
from trace2skill.skill.once import fold_repeats

LINE = "- Confirm the order id with the customer before any refund."


@pytest.fixture
def s0(skill_dir: Path) -> Skill:
    return load_skill(skill_dir)


def test_twelve_identical_edits_land_the_line_once(s0: Skill) -> None:
    patch = Patch(id="p", edits=[Edit(op="append_to_section", section="Pitfalls", content=LINE) for _ in range(12)])
    result = apply_patch(s0, patch)
    assert result.skill.skill_md().count(LINE) == 1
    assert len(result.applied) == 1 and len(result.refused) == 11
    assert all(r.reason.startswith("duplicate:") for r in result.refused)


def test_a_line_already_in_the_file_or_near_identical_is_folded_not_stacked(s0: Skill) -> None:
    near = "* Confirm the order ID with the customer before any refunds"  # marker, case, one letter
    edit = Edit(op="append_to_section", section="Workflow", content=f"{LINE}\n{near}\n- Never refund twice.\n- Log every refund in the ledger.")
    result = apply_patch(s0, Patch(id="p", edits=[edit]))
    text = result.skill.skill_md()
    assert text.count("order id") + text.count("order ID") == 1
    assert text.count("Never refund twice") == 1  # S0 says it in Pitfalls
    assert "Log every refund in the ledger." in text
    assert [f.line for f in result.folded] == [near, "- Never refund twice."]
    assert result.applied[0].content == f"{LINE}\n- Log every refund in the ledger."  # the edit as applied


def test_code_and_short_lines_are_never_folded() -> None:
    content = "```python\nprint('refund issued to the customer')\n```\n| a | b |\n|---|---|"
    existing = "```python\nprint('refund issued to the customer')\n```\n| a | b |\n|---|---|"
    assert fold_repeats("SKILL.md", content, existing) == (content, [])


def test_a_replacement_applied_once_is_not_applied_again(s0: Skill) -> None:
    edit = Edit(op="replace_in_section", section="Pitfalls", anchor="Never refund twice.", content="Never refund twice. Check the ledger first.")
    once = apply_patch(s0, Patch(id="p", edits=[edit]))
    twice = apply_patch(once.skill, Patch(id="p", edits=[edit]))
    assert twice.skill.skill_md() == once.skill.skill_md()
    assert twice.refused[0].reason.startswith("duplicate:")


_sentences = st.lists(st.sampled_from(["check the ledger", "greet the customer", "confirm the amount", "read the policy", "log the call"]), min_size=1, max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.sampled_from(["append_to_section", "insert_after", "insert_before", "add_section", "replace_in_section"]), st.sampled_from(["Workflow", "Pitfalls", "Notes"]), _sentences),
        max_size=6,
    )
)
def test_applying_a_patch_to_its_own_result_changes_nothing(s0: Skill, specs: list) -> None:
    anchors = {"Workflow": "1. Find the order.", "Pitfalls": "- Never refund twice.", "Notes": "Find"}
    edits = [
        Edit(op=op, section=section, anchor=anchors[section] if op != "add_section" else None, content="\n".join(f"- Always {s} before acting." for s in words))
        for op, section, words in specs
    ]
    patch = Patch(id="p", edits=edits)
    first = apply_patch(s0, patch)
    second = apply_patch(first.skill, patch)
    assert second.skill.skill_md() == first.skill.skill_md()
    assert second.skill.files == first.skill.files


def test_lines_that_differ_in_a_number_link_or_code_span_are_different_facts() -> None:
    existing = "- Refund within 30 days of purchase.\n- [references/pets.md](references/pets.md): Pets. Read it when a task involves pets.\n- Call `get_order` first, always.\n"
    content = "- Refund within 60 days of purchase.\n- [references/pigs.md](references/pigs.md): Pigs. Read it when a task involves pigs.\n- Call `get_user` first, always.\n- Refund within 30 days of purchase!"
    kept, folded = fold_repeats("SKILL.md", content, existing)
    assert [f.line for f in folded] == ["- Refund within 30 days of purchase!"]
    assert kept.splitlines() == content.splitlines()[:3]
