"""The leakage warning: verbatim spans of held-out tasks in a candidate skill."""

from __future__ import annotations

from tests.evaluate.conftest import write_skill
from trace2skill.evaluate.leakage import find_leaks

TASK = {
    "id": "t7",
    "question": "My flight UA 915 from Denver to Chicago on May 3 was cancelled and I need a refund to the original card please",
    "answer": {"actions": ["refund(reservation='K4X9QZ', amount=412.50, to='original payment method')"]},
}


def test_quoted_task_text_is_found(tmp_path):
    skill = write_skill(tmp_path, "leaky", "- Example: my flight UA 915 from Denver to Chicago on May 3 was cancelled and I need a refund.")
    spans = find_leaks(skill, [TASK])
    assert len(spans) == 1
    assert (spans[0].task_id, spans[0].file, spans[0].words) == ("t7", "SKILL.md", 18)
    assert spans[0].warning(str(skill)).startswith(f"{skill}/SKILL.md quotes 18 consecutive words of held-out task 't7'")


def test_answers_in_references_are_found(tmp_path):
    skill = write_skill(tmp_path, "leaky", "- Refund cancelled flights.")
    (skill / "references").mkdir()
    (skill / "references" / "refunds.md").write_text("Do: refund(reservation='K4X9QZ', amount=412.50, to='original payment method') then stop.")
    spans = find_leaks(skill, [TASK], min_words=8)
    assert [(s.file, s.words) for s in spans] == [("references/refunds.md", 9)]


def test_general_guidance_and_short_overlaps_are_not_leaks(tmp_path):
    skill = write_skill(tmp_path, "clean", "- When a flight was cancelled, refund to the original card after confirming the reservation.")
    assert find_leaks(skill, [TASK]) == []


def test_spans_the_baseline_already_has_are_not_reported(tmp_path):
    body = "- Example: my flight UA 915 from Denver to Chicago on May 3 was cancelled and I need a refund."
    base, cand = write_skill(tmp_path, "base", body), write_skill(tmp_path, "cand", body + "\n- Be kind.")
    assert find_leaks(cand, [TASK], baseline_dir=base) == []
