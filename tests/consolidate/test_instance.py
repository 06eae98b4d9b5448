from __future__ import annotations

from tests.consolidate.helpers import append, cluster
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.instance import (
    INSTANCE,
    NOISE,
    InstanceGuard,
    count_in,
    evidence_sample,
    instance_values,
    is_noise,
    tokens,
    value_tokens,
)
from trace2skill.consolidate.merge import MergeOutcome
from trace2skill.consolidate.run import finish, screened
from trace2skill.safety import start_review
from trace2skill.schema import Edit, Patch, Usage
from trace2skill.skill.folder import minimal_skill

S0 = minimal_skill(
    "airline",
    "Airline support: look the booking up (e.g. reservation ABC123) before changing it. Use when helping airline customers.",
)

# Four trajectories behind a part: the user id and the code are in one each; the tool name is in all.
TEXTS = {
    "t0": 'user: I am priya_patel_441060a, my reservation is K7WQ2M. {"tool": "get_reservation_details"}',
    "t1": 'user: hi, user id kenji_tanaka_8120. {"tool": "get_reservation_details"} reservation ABC123',
    "t2": 'assistant: calling get_reservation_details for HXDUBJ {"tool": "get_reservation_details"}',
    "t3": 'assistant: get_reservation_details failed with error E4021, then E4021 again {"tool": "get_reservation_details"}',
}


def evidence(ids: list[str]) -> list[str]:
    return [TEXTS[i] for i in ids if i in TEXTS]


def part(*edits: Edit) -> Patch:
    return Patch(id="p", edits=list(edits), trajectory_ids=sorted(TEXTS), support=len(TEXTS))


def test_value_like_tokens_are_ids_codes_paths_and_placeholders_not_words():
    found = value_tokens("I'm priya_patel_441060a: reservation K7WQ2M, order #W2378156 on 2024-05-01, see src/app/main.py; call <PERSON_1>. Use the tool.")
    assert {
        "priya_patel_441060a",
        "441060a",
        "k7wq2m",
        "w2378156",
        "2024-05-01",
        "src/app/main.py",
        "<person_1>",
    } <= found
    assert not {"use", "the", "tool", "reservation", "order", "see", "call", "i'm"} & found
    assert "k7wq2m" in tokens('{"code":"K7WQ2M"}.')  # JSON punctuation around a value does not hide it


def test_a_value_in_fewer_than_k_trajectories_and_not_in_s0_is_instance_detail():
    values = value_tokens("priya_patel_441060a K7WQ2M ABC123 E4021 <PERSON_2>")
    counts, n = count_in(values, TEXTS.values())
    assert n == 4
    s0 = tokens(S0.skill_md())
    # E4021 is in one trajectory (twice: a trajectory counts once); ABC123 is in S0; a placeholder is always one instance's.
    assert instance_values(values, counts, s0, 3) == [
        "441060a",
        "<person_2>",
        "e4021",
        "k7wq2m",
        "priya_patel_441060a",
    ]
    assert instance_values(values, counts, s0, 1) == ["<person_2>"]  # K=1: nothing occurs in fewer than one


def test_noise_is_a_title_without_words_a_repeated_character_or_a_long_run():
    assert is_noise("## 1" + "0" * 58, title=True)
    assert is_noise("2", title=True)
    assert is_noise("Keep 1" + "0" * 58 + " in mind")
    assert is_noise("!!!!!!!!")
    assert not is_noise("---") and not is_noise("| --- | --- |") and not is_noise("```")
    assert not is_noise("Check the reservation before changing it.")
    assert not is_noise("Rebooking", title=True)


def test_the_guard_refuses_lines_titles_and_file_names_with_instance_detail_and_keeps_the_rest():
    guard = InstanceGuard.of(S0, evidence=evidence)
    pieces, kept = guard.screen(
        part(
            append(
                "Workflow",
                "- Call get_reservation_details first.\n- I'm priya_patel_441060a.\n- Quote ABC123 back as S0 does.\n",
            ),
            Edit(op="add_section", section="K7WQ2M", content="- Rebook the flight.\n"),
            Edit(
                op="create",
                path="references/kenji_tanaka_8120.md",
                content="# Notes\n\n- Verify the user.\n",
            ),
            Edit(op="add_section", section="2" + "0" * 58, content="- Text.\n"),
            append("Workflow", "- Retry E4021 after a minute.\n"),
        )
    )
    assert [e.content for e in kept.edits] == ["- Call get_reservation_details first.\n- Quote ABC123 back as S0 does.\n"]
    assert guard.record.by_reason == {INSTANCE: 4, NOISE: 1}
    reasons = [r.reason for r in guard.record.refused]
    assert "priya_patel_441060a" in reasons[0] and "K7WQ2M".lower() in reasons[1] and "kenji_tanaka_8120" in reasons[2]
    assert reasons[3].startswith(NOISE) and "e4021" in reasons[4]
    assert len(pieces) == 1 + len(guard.record.refused)  # every piece is in provenance: the kept one and the refused ones


def test_one_restatement_round_clears_the_value_or_the_line_is_refused():
    asked = []

    def restate(edit: Edit, values: list[str]) -> tuple[Edit | None, Usage]:
        asked.append(values)
        if "K7WQ2M" in edit.content:
            return edit.model_copy(update={"content": "- Read the <reservation id> back to the customer.\n"}), Usage(calls=1)
        return edit, Usage(calls=1)  # no better wording: still carries the value

    guard = InstanceGuard.of(S0, evidence=evidence, restate=restate)
    _, kept = guard.screen(
        part(
            append("Workflow", "- Read K7WQ2M back to the customer.\n"),
            append("Workflow", "- Ask priya_patel_441060a.\n"),
        )
    )
    assert [e.content for e in kept.edits] == ["- Read the <reservation id> back to the customer.\n"]
    assert asked == [["k7wq2m"], ["441060a", "priya_patel_441060a"]]
    assert (
        guard.record.restated,
        guard.record.restate_calls,
        guard.record.restate_usage.calls,
        guard.record.by_reason,
    ) == (1, 2, 2, {INSTANCE: 1})


def test_a_value_backed_by_k_trajectories_stays_and_without_evidence_only_placeholders_and_noise_go():
    widespread = Patch(
        id="p",
        edits=[append("Workflow", "- Call get_reservation_details before E4021 retries.\n")],
        trajectory_ids=["t3"],
    )
    # K=1: a value in one trajectory is enough.
    assert InstanceGuard.of(S0, evidence=evidence, min_trajectories=1).screen(widespread)[1].edits == widespread.edits
    blind = InstanceGuard.of(S0)
    _, kept = blind.screen(part(append("Workflow", "- Ask <PERSON_1> for K7WQ2M.\n- Keep going.\n")))
    assert [e.content for e in kept.edits] == ["- Keep going.\n"]


def test_finish_counts_the_refusals_by_reason_and_keeps_them_in_provenance():
    edits = [
        append("Workflow", "- Check the fare rules.\n- I'm priya_patel_441060a.\n"),
        Edit(op="add_section", section="1" + "0" * 58, content="- x\n"),
    ]
    c = cluster(0, "rebooking", "skill", 4, edits).model_copy(update={"trajectory_ids": sorted(TEXTS)})
    c.patches[0].trajectory_ids = sorted(TEXTS)
    cons = finish(S0, [c], ConsolidateConfig(), merge=None, fixer=None, units=4, evidence=evidence)
    assert cons.stats.refused_by_reason == {INSTANCE: 1, NOISE: 1}
    md = cons.final.skill.skill_md()
    assert "Check the fare rules." in md and "priya_patel_441060a" not in md and "0" * 58 not in md
    refused = [r for r in cons.provenance if r.kind == "refused"]
    assert sorted(r.reason.split(":")[0] for r in refused) == [INSTANCE, NOISE]


def test_counting_stops_once_every_value_is_widespread_and_a_large_part_is_judged_on_a_fixed_sample():
    read: list[str] = []

    def texts():
        for i in range(100):
            read.append(str(i))
            yield "get_reservation_details E4021"

    counts, n = count_in({"e4021"}, texts(), enough=3)
    assert (counts["e4021"], n, len(read)) == (3, 3, 3)
    counts, n = count_in({"e4021", "k7wq2m"}, texts(), enough=3)  # a rare value: everything is read
    assert (counts["k7wq2m"], n) == (0, 100)
    ids = [f"t-{i}" for i in range(5000)]
    sample = evidence_sample(ids, 200)
    assert len(sample) == 200 == len(set(sample)) and set(sample) <= set(ids)
    assert sample == evidence_sample(list(reversed(ids)), 200)  # the same sample every run, whatever the order
    assert evidence_sample(ids[:10], 200) == sorted(ids[:10])

    asked: list[list[str]] = []
    guard = InstanceGuard.of(S0, evidence=lambda batch: asked.append(batch) or [], max_trajectories=50)
    guard.screen(Patch(id="p", edits=[append("Workflow", "- Look up K7WQ2M.\n")], trajectory_ids=ids, support=len(ids)))
    assert [len(a) for a in asked] == [50]


def test_a_fix_round_cannot_bring_back_instance_detail():
    review = start_review(S0)
    guard = InstanceGuard.of(S0, evidence=evidence)
    fixed_edits = [append("Workflow", "- I'm priya_patel_441060a.\n- Check the fare rules.\n")]
    fixer = screened(lambda patch, problems, state: MergeOutcome(patch=patch.model_copy(update={"edits": fixed_edits})), review, guards=[guard])
    fixed = fixer(part(), ["a problem"], S0)
    assert [e.content for e in fixed.patch.edits] == ["- Check the fare rules.\n"]
    assert guard.record.by_reason == {INSTANCE: 1}
