from trace2skill.consolidate.units import split_units
from trace2skill.schema import Edit, Lesson, Patch


def lesson(tid: str, i: int, title: str, content: str, topic: str) -> Lesson:
    return Lesson(id=f"{tid}-l{i}", trajectory_id=tid, kind="failure", title=title, description="When it applies.", content=content, topic=topic)


def test_each_edit_goes_to_its_lesson_and_units_keep_provenance():
    lessons = [lesson("t1", 0, "Check refunds", "Refund to the original payment.", "refunds"), lesson("t1", 1, "Verify identity", "Look up the user id first.", "identity")]
    edits = [
        Edit(op="append_to_section", section="Pitfalls", content="- Look up the user id first.", reason="Verify identity"),
        Edit(op="append_to_section", section="Pitfalls", content="- Refund to the original payment.", reason="Check refunds"),
    ]
    units = split_units([Patch(id="p1", edits=edits, lesson_ids=[l.id for l in lessons], trajectory_ids=["t1"], support=1)], lessons)
    by_topic = {u.topic: u for u in units}
    assert set(by_topic) == {"refunds", "identity"}
    assert [e.content for e in by_topic["identity"].edits] == ["- Look up the user id first."]  # matched by reason, not position
    assert by_topic["refunds"].trajectory_ids == ["t1"] and by_topic["refunds"].lesson_ids == ["t1-l0"]
    assert "Check refunds" in by_topic["refunds"].text and "original payment" in by_topic["refunds"].text


def test_unmatched_edits_follow_word_overlap_and_creates_stay_with_their_link():
    lessons = [lesson("t1", 0, "Bags", "Compute the bag fee before updating bags.", "baggage"), lesson("t1", 1, "Refunds", "Refund to the original card.", "refunds")]
    edits = [
        Edit(op="append_to_section", section="Policies", content="- Compute the bag fee first; see references/bags.md.", reason="x"),
        Edit(op="create", path="references/bags.md", content="# Bags\n\nFees by tier.", reason="refund details"),  # words point elsewhere
        Edit(op="append_to_section", section="Policies", content="- Refund to the original card.", reason="y"),
    ]
    units = split_units([Patch(id="p1", edits=edits, trajectory_ids=["t1"], support=1)], lessons)
    bags = next(u for u in units if u.topic == "baggage")
    assert [e.op for e in bags.edits] == ["append_to_section", "create"]


def test_edits_without_lessons_become_units_and_lessons_without_edits_stay():
    patch = Patch(id="p9", edits=[Edit(op="append_to_section", section="Workflow", content="- Re-read the task.", reason="re-read")], trajectory_ids=["t9"], topic="general")
    lone = lesson("t2", 0, "Lone lesson", "Something learned without an edit.", "misc")
    units = split_units([patch], [lone])
    assert len(units) == 2
    orphan = next(u for u in units if u.edits)
    assert orphan.trajectory_ids == ["t9"] and "Re-read the task" in orphan.text
    assert next(u for u in units if not u.edits).lesson_ids == ["t2-l0"]


def test_the_analysts_lesson_index_wins_over_a_title_that_matches_another_lesson():
    lessons = [lesson("t1", 0, "Check refunds", "Refund to the original payment.", "refunds"), lesson("t1", 1, "Verify identity", "Look up the user id first.", "identity")]
    # The reason is the other lesson's title and the position matches it too; the analyst named lesson 1.
    named = Edit(op="append_to_section", section="Pitfalls", content="- Look up the user id first.", reason="Check refunds", lesson_ids=["t1-l1"])
    old = Edit(op="append_to_section", section="Pitfalls", content="- Refund to the original payment.", reason="Check refunds")  # an old run: no lesson_ids
    units = split_units([Patch(id="p1", edits=[named, old], lesson_ids=[l.id for l in lessons], trajectory_ids=["t1"], support=1)], lessons)
    by_topic = {u.topic: u for u in units}
    assert [e.content for e in by_topic["identity"].edits] == ["- Look up the user id first."]
    assert [e.content for e in by_topic["refunds"].edits] == ["- Refund to the original payment."]  # by title, as before
