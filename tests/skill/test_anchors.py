"""Anchor repair: a paraphrased anchor is matched to its span; an unmatched one is refused with why."""

from __future__ import annotations

from pathlib import Path

import pytest

from trace2skill.schema import Edit, Patch
from trace2skill.skill.anchors import Restatement, closest_span, closest_title
from trace2skill.skill.apply import apply_patch
from trace2skill.skill.folder import load_skill
from trace2skill.skill.model import Skill


@pytest.fixture
def s0(skill_dir: Path) -> Skill:
    return load_skill(skill_dir)


def test_a_paraphrased_anchor_is_applied_after_repair_and_the_repair_recorded(s0: Skill) -> None:
    edit = Edit(op="insert_after", section="Workflow", anchor="check eligibility in refunds", content="   - Ask for the receipt.")
    result = apply_patch(s0, Patch(id="p", edits=[edit]))
    assert result.refused == []
    workflow = result.skill.body.find("Workflow").body
    assert workflow.index("Ask for the receipt") > workflow.index("2. Check eligibility")
    assert workflow.index("Ask for the receipt") < workflow.index("3. Issue the refund")
    (repair,) = result.repairs
    assert repair.before == "check eligibility in refunds" and repair.after in workflow and repair.how.startswith("fuzzy")
    assert result.applied[0].anchor == repair.after


def test_a_paraphrased_replacement_replaces_the_span_it_meant(s0: Skill) -> None:
    edit = Edit(op="replace_in_section", section="Pitfalls", anchor="never refunds twice", content="Never refund twice; check the ledger.")
    result = apply_patch(s0, Patch(id="p", edits=[edit]))
    assert result.refused == [] and result.repairs[0].after == "Never refund twice."
    assert "- Never refund twice; check the ledger." in result.skill.skill_md()


def test_an_unmatched_anchor_is_refused_with_the_reason_never_skipped(s0: Skill) -> None:
    edit = Edit(op="insert_before", section="Pitfalls", anchor="escalate angry customers to a manager", content="- New line.")
    result = apply_patch(s0, Patch(id="p", edits=[edit]))
    (refusal,) = result.refused
    assert "anchor text not found in section 'Pitfalls'" in refusal.reason
    assert "needs 85" in refusal.reason and "no restatement available" in refusal.reason
    assert result.applied == [] and "New line" not in result.skill.skill_md()


def test_under_the_threshold_the_restater_is_asked_and_its_answer_must_occur_exactly(s0: Skill) -> None:
    asked: list[tuple[str, str]] = []

    def restate(request: Restatement) -> str | None:
        asked.append((request.title, request.written))
        assert request.kind == "anchor" and request.edit.anchor == request.written  # the edit it repairs is in view
        return "3. Issue the refund." if "money" in request.written else "not in the section"

    good = Edit(op="insert_before", section="Workflow", anchor="hand the money back", content="2b. Tell the customer the amount.")
    bad = Edit(op="insert_before", section="Pitfalls", anchor="escalate angry customers", content="- New line.")
    result = apply_patch(s0, Patch(id="p", edits=[good, bad]), restate=restate)
    assert ("Workflow", "hand the money back") in asked and ("Pitfalls", "escalate angry customers") in asked
    assert [r.how for r in result.repairs] == ["restated"]
    workflow = result.skill.body.find("Workflow").body
    assert workflow.index("2b. Tell") < workflow.index("3. Issue the refund.")
    assert "restated anchor does not occur exactly once" in result.refused[0].reason


def test_an_ambiguous_or_short_anchor_is_not_guessed() -> None:
    body = "- Confirm the amount with the customer.\n- Confirm the amount with the customer.\n"
    assert closest_span(body, "confirm amount with customer").unique is False
    assert closest_span(body, "amount") is None


def test_a_misnamed_section_is_matched_to_the_closest_unique_title_and_the_repair_recorded(s0: Skill) -> None:
    edit = Edit(op="append_to_section", section="pitfall", content="- Never promise a refund before checking eligibility.")
    result = apply_patch(s0, Patch(id="p", edits=[edit]))
    assert result.refused == [] and result.applied[0].section == "Pitfalls"
    assert "Never promise a refund" in result.skill.body.find("Pitfalls").body
    assert [(r.kind, r.before, r.after) for r in result.repairs] == [("section", "pitfall", "Pitfalls")]
    assert closest_title(["Steps", "Step notes"], "step").unique is True and closest_title([], "x") is None


def test_a_section_no_title_matches_is_restated_with_the_edit_in_view_or_refused_with_why(s0: Skill) -> None:
    asked: list[Restatement] = []

    def restate(request: Restatement) -> str | None:
        asked.append(request)
        return "Workflow" if "refund" in request.edit.content else "Nowhere"

    good = Edit(op="append_to_section", section="How to do it", content="4. Log the refund.")
    bad = Edit(op="append_to_section", section="Escalation", content="- Call a manager.")
    result = apply_patch(s0, Patch(id="p", edits=[good, bad]), restate=restate)
    assert [(r.kind, r.written) for r in asked] == [("section", "How to do it"), ("section", "Escalation")]
    assert "Workflow" in asked[0].body.splitlines() and asked[0].edit == good
    assert "4. Log the refund." in result.skill.body.find("Workflow").body
    (refusal,) = result.refused
    assert "section 'Escalation' not found in SKILL.md" in refusal.reason and "restated title does not occur exactly once" in refusal.reason
    assert "section 'Escalation' not found" in apply_patch(s0, Patch(id="p", edits=[bad])).refused[0].reason  # no restater: refused
