"""The whole-skill pass: one merge over every skill-tier edit across topics, over HTTP."""

from __future__ import annotations

import json

from tests.consolidate.helpers import ScriptedLLM, append, cluster
from tests.llm.openai_server import ChatServer
from trace2skill.consolidate.assemble import assemble
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.merge import MERGER_DROP, merge_patches
from trace2skill.consolidate.models import LessonBrief
from trace2skill.consolidate.run import finish
from trace2skill.consolidate.wholeskill import Slot, plan_calls
from trace2skill.llm.fake import RESPONDERS
from trace2skill.llm.openai import OpenAILLM
from trace2skill.prompting import load_prompt, prompt_version
from trace2skill.schema import Edit
from trace2skill.skill.folder import minimal_skill, skill_prompt_view

S0 = minimal_skill("desk-agent", "Customer desk agent. Use for customer desk tasks.")
KEPT = "- Always refund to the original payment method."
REPEAT = "- Send refunds to the original payment method only."  # the same advice in other words, in another topic's section


def topics():
    refunds = cluster(0, "refunds", "skill", 8, [Edit(op="add_section", section="Refunds", content=KEPT)])
    lesson = LessonBrief(id="l0", kind="failure", title="Refund to the card", content="The refund went to a voucher; the customer wanted the card.")
    refunds.patches[0] = refunds.patches[0].model_copy(update={"lessons": [lesson]})
    cancellations = cluster(1, "cancellations", "skill", 4, [Edit(op="add_section", section="Cancellations", content=f"- Check the 24-hour window first.\n{REPEAT}")])
    bags = cluster(2, "bags", "skill", 5, [append("Pitfalls", "- Compute the bag fee before quoting a price.")])
    return [refunds, cancellations, bags]


def passes(requests: list[dict]) -> list[dict]:
    return [r for r in requests if "prompt: whole_skill" in r["messages"][0]["content"]]


def inputs(request: dict) -> list[dict]:
    sent = request["messages"][1]["content"]
    return json.loads(sent.split("<patches>\n", 1)[1].split("\n</patches>", 1)[0])


def test_the_pass_shows_one_merge_every_topics_edits_and_a_cross_topic_duplicate_lands_once_with_its_drop_on_record():
    split = [
        cluster(0, "refunds", "skill", 8, [Edit(op="add_section", section="Refunds", content=KEPT)]),
        cluster(1, "cancellations", "skill", 4, [Edit(op="add_section", section="Cancellations", content="- Check the 24-hour window first.")]),
        cluster(3, "card refunds", "skill", 3, [append("Pitfalls", REPEAT)]),
    ]
    split[0].patches[0] = topics()[0].patches[0]
    cfg = ConsolidateConfig(embedder="hashing")
    view = skill_prompt_view(S0)
    with ChatServer() as server:
        llm = OpenAILLM(server.base_url, "m")
        result = finish(S0, split, cfg, merge=lambda ps: merge_patches(ps, view, llm, retries=0), fixer=None, units=3)
        (request,) = passes(server.requests)
    data = inputs(request)
    assert {d["topic"] for d in data} == {"refunds", "cancellations", "card refunds"} and all(len(d["edits"]) == 1 for d in data)
    assert data[0]["lessons"][0]["title"] == "Refund to the card"
    assert "at most 480 lines" in request["messages"][0]["content"]  # the size rule is stated
    skill_md = result.final.skill.skill_md()
    assert KEPT in skill_md and REPEAT not in skill_md and "24-hour window" in skill_md
    (row,) = [r for r in result.provenance if r.kind == "dropped"]
    assert row.reason == MERGER_DROP + "same advice as input 1" and row.cluster_label == "card refunds" and row.lesson_ids == ["l3"] and REPEAT in row.content
    assert result.stats.whole_skill_calls == 1 and result.stats.final_merge_calls == 1 and result.stats.merger_dropped == 1
    assert result.stats.whole_skill_pass[0].startswith("reviewed 3 edits of 3 topics: 1 dropped")

    unreviewed = finish(S0, split, cfg.model_copy(update={"whole_skill_pass": False}), merge=lambda ps: merge_patches(ps, view, llm), fixer=None, units=3)
    assert REPEAT in unreviewed.final.skill.skill_md() and unreviewed.stats.whole_skill_calls == 0  # the pass, not the line guard, removed it


def test_an_input_that_adds_a_new_line_beside_a_repeat_is_kept_whole_and_the_parts_follow_the_answers_order():
    view = skill_prompt_view(S0)
    with ChatServer() as server:
        out = assemble(S0, topics(), merge=lambda ps: merge_patches(ps, view, OpenAILLM(server.base_url, "m"), retries=0))
        (request,) = passes(server.requests)
    assert {d["topic"] for d in inputs(request)} == {"refunds", "cancellations", "bags"}
    text = "\n".join(e.content for e in out.patch.edits)
    assert text.count("original payment method") == 2  # the fake keeps an edit holding a new line whole: no input was dropped
    assert out.whole_skill_calls == 1 and not out.dropped
    assert [p.label for p in out.parts if p.tier == "skill"] == ["refunds", "bags", "cancellations"]  # the answer's order (the fake keeps the inputs', by support)


def test_a_failed_pass_leaves_the_assembly_as_it_was_and_says_so():
    def broken(prompt: str) -> dict:
        return {"edits": "not a list"} if "prompt: whole_skill" in prompt else RESPONDERS["MergeResult"](prompt)

    view = skill_prompt_view(S0)
    with ChatServer(responders={"MergeResult": broken}) as server:
        out = assemble(S0, topics(), merge=lambda ps: merge_patches(ps, view, OpenAILLM(server.base_url, "m"), retries=0))
        assert len(passes(server.requests)) == 1
    before = assemble(S0, topics(), merge=None)
    assert out.patch.edits == before.patch.edits and [p.label for p in out.parts] == [p.label for p in before.parts]
    assert out.stats.failed_merges == 1 and out.whole_skill_calls == 1 and not out.dropped
    (note,) = out.whole_skill_notes
    assert note.startswith("not reviewed (3 edits of SKILL.md § refunds, SKILL.md § pitfalls, SKILL.md § cancellations)") and note.endswith("they stay as assembled")


def test_an_answer_that_joins_two_inputs_into_one_edit_carries_both_topics_evidence_and_an_input_it_forgets_stays():
    joined = {"op": "add_section", "path": "SKILL.md", "section": "Refunds", "anchor": "", "content": f"{KEPT}\n- Compute the bag fee before quoting a price.", "reason": "r"}
    llm = ScriptedLLM({"analysis": "bags and refunds read together", "resolutions": ["joined the fee rule into Refunds"], "dropped": [], "edits": [joined]})
    out = assemble(S0, topics(), merge=lambda ps: merge_patches(ps, "", llm))
    (refunds,) = [c for c in out.clusters if c.label == "refunds"]
    assert refunds.patches[0].edits[0].content == joined["content"] and "l2" in refunds.lesson_ids and refunds.support == 8 + 5  # bags' evidence joined it
    assert not next(c for c in out.clusters if c.label == "bags").patches  # served: its line is in the refunds edit
    (cancel,) = [p for p in out.parts if p.label == "cancellations"]
    assert REPEAT in cancel.edits[0].content  # neither kept nor dropped by the answer: kept as it was
    assert "whole-skill pass: joined the fee rule into Refunds" in out.resolutions
    assert out.whole_skill_notes[0].endswith("1 served by another kept edit, 1 neither kept nor dropped (kept as they were)")


def test_more_edits_than_one_call_holds_are_split_by_section_and_a_section_too_large_is_skipped_with_the_reason():
    def slots(cluster_of, section, n):
        return [Slot(cluster=cluster_of(i), patch=0, index=i, edit=append(section, f"- rule {section} {i}")) for i in range(n)]

    calls, notes = plan_calls(slots(lambda i: i % 2, "A", 40) + slots(lambda i: i % 2, "B", 40))
    assert [len(c) for c in calls] == [40, 40] and notes == []  # two calls, each section whole
    calls, notes = plan_calls(slots(lambda i: i % 2, "A", 65) + slots(lambda i: i % 2, "B", 3) + slots(lambda i: 0, "C", 2))
    assert [len(c) for c in calls] == [5] and notes == ["not reviewed (section 'a' of SKILL.md): 65 edits exceed one call's room of 64"]
    calls, _ = plan_calls(slots(lambda i: 0, "A", 3) + slots(lambda i: 0, "B", 3))
    assert calls == []  # one topic's edits only: its own merge saw them


def test_the_whole_skill_prompt_is_versioned_and_states_its_task():
    text = load_prompt("trace2skill.consolidate", "whole_skill").template.lower()
    assert prompt_version("trace2skill.consolidate", "whole_skill") == "whole_skill v1"
    for rule in ("across topics", '"dropped"', "one edit per kept input", "order", "$max_skill_lines", "think first", "observations about the environment"):
        assert rule in text, rule
