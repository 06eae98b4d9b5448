import json

import pytest

from trace2skill.consolidate.merge import MergeOutcome, merge_patches, merge_tree, union_provenance
from trace2skill.llm.fake import FakeLLM
from trace2skill.schema import Edit, Patch


def patch(i: int, content: str = "- x", topic: str = "t") -> Patch:
    return Patch(
        id=f"p{i:03d}",
        edits=[Edit(op="append_to_section", section="Pitfalls", content=content)],
        lesson_ids=[f"l{i}"],
        trajectory_ids=[f"t{i}"],
        support=1,
        topic=topic,
    )


def concat(patches: list[Patch]) -> MergeOutcome:
    return MergeOutcome(patch=Patch(edits=[e for p in patches for e in p.edits], **union_provenance(patches)))


def test_tree_reduces_to_one_with_ceil_log_levels():
    final, stats = merge_tree([patch(i) for i in range(20)], 4, concat)
    assert len(final) == 1
    assert stats.levels == 3  # 20 -> 5 -> 2 -> 1
    assert stats.calls_per_level == [5, 1, 1]
    assert stats.merge_calls == 5 + 1 + 1
    assert final[0].support == 20 and len(final[0].trajectory_ids) == 20


def test_failed_merges_keep_their_inputs():
    def flaky(patches):
        if any(p.id == "p000" for p in patches):
            return MergeOutcome(error="invalid")
        return concat(patches)

    final, stats = merge_tree([patch(i) for i in range(6)], 3, flaky)
    ids = {t for p in final for t in p.trajectory_ids}
    assert ids == {f"t{i}" for i in range(6)}  # nothing lost
    assert stats.failed_merges >= 1


def test_fan_in_below_two_is_rejected():
    with pytest.raises(ValueError):
        merge_tree([patch(0)], 1, concat)


def test_merge_patches_with_fake_llm_unions_provenance():
    a, b = patch(1, "- same"), patch(2, "- same")
    outcome = merge_patches([a, b], "## Pitfalls\n", FakeLLM())
    assert outcome.patch is not None
    assert outcome.patch.trajectory_ids == ["t1", "t2"] and outcome.patch.support == 2
    assert len(outcome.patch.edits) == 1  # deduplicated
    assert outcome.usage.calls == 1


def test_merge_patches_failure_is_an_outcome_not_an_exception():
    outcome = merge_patches([patch(1), patch(2)], "", FakeLLM(failure_rate=1.0), retries=1)
    assert outcome.patch is None and "MergeResult" in outcome.error


def test_levels_run_out_then_one_forced_merge_of_the_survivors():
    def picky(patches):  # merges only pairs, so a level of three is left after one level
        return concat(patches) if len(patches) == 2 or len(patches) > 3 else MergeOutcome(error="too many")

    final, stats = merge_tree([patch(i) for i in range(6)], 3, picky, max_levels=1)
    assert len(final) == 1 and stats.forced_merges == 1 and stats.failed_merges == 2
    assert final[0].support == 6


def test_level_merges_are_handed_over_together_and_resolutions_accumulate():
    batches = []

    def many(groups):
        batches.append(len(groups))
        return [MergeOutcome(patch=concat(g).patch.model_copy(update={"notes": "\n".join([*(p.notes for p in g if p.notes), "resolved"])})) for g in groups]

    final, stats = merge_tree([patch(i) for i in range(9)], 3, merge_many=many)
    assert batches == [3, 1] and stats.merge_calls == 4
    assert final[0].notes.count("resolved") == 4


def test_merge_patches_keeps_the_resolutions_of_its_inputs():
    a, b = patch(1, "- Wait for an explicit yes."), patch(2, "- Do not wait for an explicit yes.")
    a = a.model_copy(update={"support": 3, "notes": "earlier resolution"})
    merged = merge_patches([a, b], "", FakeLLM()).patch
    assert merged.notes.splitlines()[0] == "earlier resolution"
    assert "contradicting" in merged.notes and [e.content for e in merged.edits] == ["- Wait for an explicit yes."]


def test_a_merge_shows_each_inputs_lessons_within_a_bounded_size_and_survives_a_too_long_prompt():
    from trace2skill.consolidate.merge import LESSON_CHARS_PER_INPUT, merge_messages
    from trace2skill.consolidate.models import LessonBrief, Proposal

    lessons = [LessonBrief(id=f"l{i}", title=f"Lesson {i}", content="x" * 500, causes=["c" * 100]) for i in range(6)]
    big = Proposal(**patch(1).model_dump(), lessons=lessons)
    shown = json.loads(merge_messages([big], "")[1].content.split("<patches>\n", 1)[1].split("\n</patches>", 1)[0])[0]["lessons"]
    assert 1 <= len(shown) < 6 and sum(len(str(v)) for l in shown for v in l.values()) <= LESSON_CHARS_PER_INPUT

    class TooLong(FakeLLM):
        def complete(self, messages, output, max_tokens, schema=None):
            raise ValueError("Requested tokens exceed context window")

    outcome = merge_patches([patch(1), patch(2)], "", TooLong())
    assert outcome.patch is None and "exceed context" in outcome.error


def test_merge_and_fix_send_the_runs_narrowed_schema_to_the_engine():
    """Merges get the backend's room and S0's titles, like the analysts (Analyst.merge / fix)."""
    from trace2skill.analysts.models import OutputLimits, engine_schema
    from trace2skill.consolidate.fix import fix_patch
    from trace2skill.consolidate.models import MergeResult

    seen = []

    class Recording(FakeLLM):
        def complete(self, messages, output, max_tokens, schema=None):
            seen.append(schema)
            return super().complete(messages, output, max_tokens, schema=schema)

    view = "---\nname: s\ndescription: A skill. Use for tests.\n---\n# S\n\n## Pitfalls\n- a\n\n## Workflow\n- b\n"
    short, long = (engine_schema(MergeResult, OutputLimits(edit_chars=c), view) for c in (300, 2000))
    merge_patches([patch(0), patch(1)], view, Recording(), schema=short)
    fix_patch(patch(2), ["a problem"], view, Recording(), schema=long)
    caps = [json.dumps(s) for s in seen]
    assert '"maxLength": 300' in caps[0] and '"maxLength": 2000' in caps[1]
    assert all('"enum": ["Pitfalls", "Workflow"]' in c for c in caps)


def test_a_merges_schema_holds_no_more_edits_than_its_inputs_and_drops_only_inputs_that_exist():
    """A 270M merge of two 3-edit patches wrote 12 edits, mostly repeats: the room follows the inputs."""
    import jsonschema

    from trace2skill.analysts.models import OutputLimits, engine_schema
    from trace2skill.consolidate.models import MAX_MERGE_EDITS, MergeResult, merge_schema_for
    from trace2skill.llm.embedded import json_gbnf

    base = engine_schema(MergeResult, OutputLimits(), "")
    two = [patch(1), patch(2).model_copy(update={"edits": patch(2).edits * 3})]  # 1 + 3 edits
    narrowed = merge_schema_for(base, two)
    assert narrowed["properties"]["edits"]["maxItems"] == 4 and narrowed["properties"]["dropped"]["maxItems"] == 2
    assert base["properties"]["edits"]["maxItems"] == MAX_MERGE_EDITS  # the cached schema is left as it was
    edit = {"op": "append_to_section", "path": "SKILL.md", "section": "Pitfalls", "anchor": "", "content": "- x", "reason": "r"}
    jsonschema.validate({"analysis": "", "edits": [edit] * 4, "resolutions": [], "dropped": [{"input": 2, "reason": "dup"}]}, narrowed)
    for bad in ({"analysis": "", "edits": [edit] * 5, "resolutions": [], "dropped": []}, {"analysis": "", "edits": [edit], "resolutions": [], "dropped": [{"input": 3, "reason": "x"}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, narrowed)
    grammar = json_gbnf(narrowed).splitlines()  # llama.cpp enforces the same room
    assert 'InputDrop-input ::= "1" | "2"' in grammar and 'dropped ::= "[" space (dropped-item ("," space dropped-item)?)? "]" space' in grammar
    # Inputs whose lessons came without edits still leave one slot each.
    lone = [patch(1).model_copy(update={"edits": []}), patch(2).model_copy(update={"edits": []})]
    assert merge_schema_for(base, lone)["properties"]["edits"]["maxItems"] == 2
