"""The grader guard: a line that reproduces a grader's value or answer never reaches the skill."""

from __future__ import annotations

import json

from tests.consolidate.helpers import append, cluster
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.gold import GOLD, GoldGuard, GoldQuotes, action_values
from trace2skill.consolidate.instance import INSTANCE
from trace2skill.consolidate.run import finish
from trace2skill.schema import Edit, GraderView, Patch
from trace2skill.skill.folder import minimal_skill
from trace2skill.skill.quotes import words

S0 = minimal_skill("airline", "Airline support: look the booking up before changing it; the default cabin is basic_economy. Use when helping airline customers.")
ACTION = {"name": "update_reservation_flights", "kwargs": {"reservation_id": "K7WQ2M", "cabin": "economy", "flights": [{"flight_number": "HAT112", "date": "2024-05-24"}], "payment_id": "credit_card_6024471", "nonfree": 1}}
ANSWER = "Your new flight leaves at 09:30 and the fare difference of 1628 dollars was charged to your card"
VIEW = GraderView(source="tau_bench info", expected_actions=[json.dumps(ACTION), json.dumps({"name": "think", "kwargs": {"cabin": "basic_economy"}})], reference_answers=[ANSWER, "1628"])
GRADERS = {"t0-0": VIEW, "t0-1": VIEW}


def graders(ids: list[str]) -> list[GraderView]:
    return [GRADERS[i] for i in ids if i in GRADERS]


def test_an_expected_actions_values_are_its_arguments_not_its_tool():
    assert action_values(json.dumps(ACTION)) == ["K7WQ2M", "economy", "HAT112", "2024-05-24", "credit_card_6024471", "1"]
    assert action_values(json.dumps({"name": "x", "arguments": {"id": "A1B2"}})) == ["A1B2"]
    assert action_values("cancel K7WQ2M") == ["cancel K7WQ2M"]


def test_values_and_eight_word_runs_are_quoted_and_trivial_or_s0_values_are_not():
    gold = GoldQuotes.of([VIEW], words(S0.skill_md()))
    assert gold.quoted("- Move K7WQ2M to HAT112 on 2024-05-24.") == ["2024-05-24", "hat112", "k7wq2m"]
    assert gold.quoted("- Pay with Credit_Card_6024471.") == ["credit_card_6024471"]
    assert gold.quoted("- The fare difference of 1628 dollars was charged to your card") != []  # eight words of the answer
    # trivial: a one-letter-word value ("economy"), a short one ("1"), one S0 already has ("basic_economy"), seven words of the answer
    assert gold.quoted("- Offer economy first; ask 1 question; basic_economy is the default; the fare difference of 1628 dollars was") == ["1628"]
    assert gold.quoted("- The fare difference was charged to the card on file.") == []
    assert gold.quoted("- Call update_reservation_flights only after the user confirms.") == []


def test_the_guard_splits_quoting_lines_out_and_refuses_a_quoting_title():
    guard = GoldGuard.of(S0, graders=graders)
    patch = Patch(
        id="p", trajectory_ids=["t0-0", "t0-1"],
        edits=[append("Workflow", "- Confirm the new flight with the user.\n- Book HAT112 for them.\n"), Edit(op="add_section", section="Reservation K7WQ2M", content="- x\n")],
    )  # fmt: skip
    pieces, kept = guard.screen(patch)
    assert [e.content for e in kept.edits] == ["- Confirm the new flight with the user.\n"]
    assert len(pieces) == 3 and guard.record.by_reason == {GOLD: 2}
    assert "carries 'hat112'" in guard.record.refused[0].reason and "title or file name" in guard.record.refused[1].reason
    assert GoldGuard.of(S0).screen(patch)[1] == patch  # no grader views: nothing to compare with


def test_finish_refuses_grader_quotes_before_the_instance_guard_and_counts_them():
    edits = [append("Workflow", "- Check the fare rules before a change.\n- Move the booking to HAT112 on 2024-05-24.\n- Ask <PERSON_1> to confirm.\n")]
    cons = finish(S0, [cluster(0, "rebooking", "skill", 2, edits)], ConsolidateConfig(), merge=None, fixer=None, units=2, graders=graders)
    assert cons.stats.refused_by_reason == {GOLD: 1, INSTANCE: 1}
    md = cons.final.skill.skill_md()
    assert "Check the fare rules" in md and "HAT112" not in md and "2024-05-24" not in md
    refused = sorted(r.reason.split(":")[0] for r in cons.provenance if r.kind == "refused")
    assert refused == [INSTANCE, GOLD]


def test_a_fix_rounds_repair_cannot_bring_a_grader_quote_back():
    from trace2skill.consolidate.merge import MergeOutcome
    from trace2skill.consolidate.run import screened
    from trace2skill.safety import start_review

    guard = GoldGuard.of(S0, graders=graders)
    repaired = [append("Workflow", "- Confirm the change.\n- Pay with credit_card_6024471.\n")]
    fixer = screened(lambda patch, problems, state: MergeOutcome(patch=patch.model_copy(update={"edits": repaired})), start_review(S0), guards=[guard])
    fixed = fixer(Patch(id="p", trajectory_ids=["t0-0"]), ["a problem"], S0)
    assert [e.content for e in fixed.patch.edits] == ["- Confirm the change.\n"] and guard.record.by_reason == {GOLD: 1}
