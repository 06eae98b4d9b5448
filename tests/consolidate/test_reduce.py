
from trace2skill.consolidate.merge import merge_patches, sequential
from trace2skill.consolidate.reduce import ClusterResult, ReduceParams, reduce_cluster, share_ids
from trace2skill.llm.fake import MERGE_FAILS, FakeLLM
from tests.consolidate.helpers import append, unit, vecs

PARAMS = ReduceParams(fan_in=2, dedup_threshold=0.999, corroboration_cosine=0.5, skill_support=3, reference_support=2)
VIEW = "## Pitfalls\n"


def fake_merge(calls: list | None = None):
    llm = FakeLLM()

    def merge(patches):
        if calls is not None:
            calls.append(len(patches))
        return merge_patches(patches, VIEW, llm, retries=0)

    return sequential(merge)


def refunds(n: int, extra: list | None = None):
    units = [unit(f"r{i}", f"refund {i}", f"t{i}", topic="refunds", edits=[append("Pitfalls", f"- Send refunds to the original payment method, case {i}.")]) for i in range(n)]
    rows = [[1.0, 0.1 * i, 0.0] for i in range(n)]
    return units + (extra or []), rows


def test_one_offs_are_merged_apart_and_bound_for_references_not_dropped_by_count():
    odd = unit("odd", "greet by tier", "t9", topic="refunds", edits=[append("Pitfalls", "- Greet by loyalty tier.")])
    units, rows = refunds(5, [odd])
    calls: list = []
    result = reduce_cluster(3, units, vecs(*rows, [0, 0, 1]), PARAMS, fake_merge(calls))
    assert result.tier == "skill" and result.label == "refunds" and result.support == 5
    assert len(result.patches) == 1 and result.patches[0].support == 5
    assert "Greet" not in str(result.patches[0].edits)  # a one-off never reaches SKILL.md ...
    assert [p.lesson_ids for p in result.rare] == [["l-odd"]] and "Greet" in str(result.rare[0].edits)  # ... it waits for references/
    assert result.dropped == []
    assert result.stats.merge_calls == len(calls) == 5  # 5 -> 3 -> 2 -> 1 with fan-in 2, and the lone one-off shown to a merger
    assert calls[-1] == 1
    assert result.units_in == 6 and result.units_merged == 6


def test_below_the_skill_bar_everything_is_reference_material_even_a_lone_one_off():
    units, rows = refunds(2)
    assert reduce_cluster(0, units, vecs(*rows), PARAMS, fake_merge()).tier == "reference"
    lone = reduce_cluster(1, [unit("x", "x", "t1", edits=[append("Pitfalls", "- x")])], vecs([1, 0]), PARAMS, fake_merge())
    assert lone.tier == "reference" and [p.lesson_ids for p in lone.patches] == [["l-x"]] and lone.dropped == []
    assert lone.stats.merge_calls == 1  # reviewed by a merger, which kept it
    unreviewed = reduce_cluster(1, [unit("x", "x", "t1", edits=[append("Pitfalls", "- x")])], vecs([1, 0]), PARAMS.model_copy(update={"review_one_offs": False}), fake_merge())
    assert unreviewed.stats.merge_calls == 0 and [p.lesson_ids for p in unreviewed.patches] == [["l-x"]]  # kept without the call


def test_a_failing_merge_keeps_every_input_and_a_conflict_is_resolved_and_recorded():
    units, rows = refunds(4)
    units[0].edits[0].content += f" {MERGE_FAILS}"
    kept = reduce_cluster(0, units, vecs(*rows), PARAMS, fake_merge())
    assert kept.stats.failed_merges >= 1 and kept.stats.forced_merges == 1
    assert sorted(t for p in kept.patches for t in p.trajectory_ids) == ["t0", "t1", "t2", "t3"]  # nothing lost

    majority = [unit(f"y{i}", "confirm", f"t{i}", topic="confirmation", edits=[append("Pitfalls", "- Wait for an explicit yes before any write action.")]) for i in range(4)]
    minority = [unit(f"n{i}", "no confirm", f"u{i}", topic="confirmation", edits=[append("Pitfalls", "- Do not wait for an explicit yes before a write action.")]) for i in range(2)]
    result = reduce_cluster(1, majority + minority, vecs(*([[1, 0.1 * i] for i in range(6)])), PARAMS, fake_merge())
    text = "\n".join(e.content for p in result.patches for e in p.edits)
    assert "Wait for an explicit yes" in text and "Do not wait" not in text
    assert len(result.resolutions) == 1 and "support 4" in result.resolutions[0] and "support 2" in result.resolutions[0]
    assert result.patches[0].support == 6  # the losing side's evidence is still on record


def test_when_merges_fail_plain_contradictions_are_settled_by_support():
    majority = [unit(f"y{i}", "confirm", f"t{i}", edits=[append("Pitfalls", f"- Wait for an explicit yes before any write action. {MERGE_FAILS}")]) for i in range(3)]
    minority = [unit("n0", "no confirm", "u0", edits=[append("Pitfalls", "- Do not wait for an explicit yes before a write action.")])]
    result = reduce_cluster(0, majority + minority, vecs(*([[1, 0.1 * i] for i in range(4)])), PARAMS, fake_merge())
    text = "\n".join(e.content for p in result.patches for e in p.edits)
    assert result.stats.failed_merges >= 1 and "Do not wait" not in text
    assert len(result.resolutions) == 1 and "decided by code after a failed merge" in result.resolutions[0]
    assert sorted(t for p in result.patches for t in p.trajectory_ids) == ["t0", "t1", "t2", "u0"]


def test_a_topic_without_edits_is_recorded_not_lost():
    units = [unit(f"e{i}", "lesson only", f"t{i}") for i in range(3)]
    result = reduce_cluster(0, units, vecs(*([[1, 0.1 * i] for i in range(3)])), PARAMS, fake_merge())
    assert result.patches == [] and result.stats.merge_calls == 0
    assert sorted(l for d in result.dropped for l in d.lesson_ids) == ["l-e0", "l-e1", "l-e2"]


def test_shared_ids_leave_one_string_per_id_and_the_result_unchanged():
    odd = unit("odd", "greet by tier", "t9", topic="refunds", edits=[append("Pitfalls", "- Greet by loyalty tier.")])
    units, rows = refunds(5, [odd])
    result = reduce_cluster(3, units, vecs(*rows, [0, 0, 1]), PARAMS, fake_merge())
    parsed = result.model_copy(deep=True)
    holders = [parsed, *parsed.patches, *parsed.rare]
    for h in holders:  # as parsed from JSON: every list with strings of its own
        h.lesson_ids[:] = [i.encode().decode() for i in h.lesson_ids]
        h.trajectory_ids[:] = [i.encode().decode() for i in h.trajectory_ids]
    strings = lambda: {id(i) for h in holders for ids in (h.lesson_ids, h.trajectory_ids) for i in ids}  # noqa: E731
    distinct = {i for h in holders for ids in (h.lesson_ids, h.trajectory_ids) for i in ids}
    assert len(strings()) > len(distinct)
    assert share_ids(parsed) is parsed
    assert len(strings()) == len(distinct)
    assert parsed == result
