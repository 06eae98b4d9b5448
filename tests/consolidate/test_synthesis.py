"""Merges with synthesis: what a merge is shown, what it may drop (and how that is kept),
what lands exactly once."""

from __future__ import annotations

import json

import numpy as np

from tests.consolidate.helpers import ScriptedLLM, vecs
from tests.llm.openai_server import ChatServer
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.embed import make_embedder
from trace2skill.consolidate.merge import merge_patches, sequential
from trace2skill.consolidate.reduce import ReduceParams, reduce_cluster
from trace2skill.consolidate.run import consolidate
from trace2skill.consolidate.units import split_units
from trace2skill.consolidate.view import consolidation_view
from trace2skill.llm.fake import FakeLLM
from trace2skill.llm.openai import OpenAILLM
from trace2skill.prompting import load_prompt, prompt_version
from trace2skill.schema import Edit, Lesson, Patch
from trace2skill.skill.folder import minimal_skill, skill_md_titles, skill_prompt_view

S0 = minimal_skill("desk-agent", "Customer desk agent. Use for customer desk tasks.")
CAUSE = {"title": "Acted before confirming", "description": "x", "steps": [3], "explanation": "The agent refunded before the customer said yes."}


def lesson(i: int, title: str, content: str, *, causes: list[dict] | None = None) -> Lesson:
    return Lesson(
        id=f"l{i}", trajectory_id=f"t{i}", kind="failure" if causes else "success", title=title, content=content, topic="confirmation",
        metadata={"failure_causes": causes or []},
    )  # fmt: skip


def proposal(i: int, title: str, content: str, edit: str, **kw):
    lessons = [lesson(i, title, content, **kw)]
    patch = Patch(id=f"p{i}", edits=[Edit(op="append_to_section", section="Pitfalls", content=edit, reason=title)], lesson_ids=[f"l{i}"], trajectory_ids=[f"t{i}"], support=1)
    (unit,) = split_units([patch], lessons)
    return unit.to_patch()


def test_the_merge_prompt_carries_each_inputs_lessons_causes_and_support_over_http():
    a = proposal(1, "Confirm before refunding", "Wait for an explicit yes before any refund.", "- Wait for an explicit yes before a refund.", causes=[CAUSE])
    b = proposal(2, "Refund in one step", "Once the customer agreed, refund without asking again.", "- Do not ask twice once the customer agreed.")
    b = b.model_copy(update={"support": 4})
    with ChatServer() as server:
        outcome = merge_patches([a, b], skill_prompt_view(S0), OpenAILLM(server.base_url, "m"), retries=0)
        (request,) = server.requests
    assert outcome.patch is not None
    sent = "\n".join(m["content"] for m in request["messages"])
    data = json.loads(sent.split("<patches>\n", 1)[1].split("\n</patches>", 1)[0])
    assert [(d["input"], d["support"]) for d in data] == [(1, 1), (2, 4)]
    assert data[0]["lessons"] == [
        {"title": "Confirm before refunding", "kind": "failure", "content": "Wait for an explicit yes before any refund.", "causes": ["Acted before confirming: The agent refunded before the customer said yes."]}
    ]
    assert data[1]["lessons"][0]["content"] == "Once the customer agreed, refund without asking again." and "causes" not in data[1]["lessons"][0]
    assert data[0]["edits"][0]["content"] == "- Wait for an explicit yes before a refund."
    assert request["response_format"]["json_schema"]["schema"]["properties"]["dropped"]["type"] == "array"
    assert outcome.patch.lessons and {l.id for l in outcome.patch.lessons} == {"l1", "l2"}  # carried up the tree


def test_the_merge_prompt_states_the_rules_of_synthesis_and_safety():
    text = load_prompt("trace2skill.consolidate", "merge").template.lower()
    assert prompt_version("trace2skill.consolidate", "merge") == "merge v4"
    for rule in ("most specific wording", "synthesise", "justification", "unique insight", "concise", '"dropped"', "an observation about the environment"):
        assert rule in text, rule


def test_an_input_the_merger_drops_leaves_provenance_and_keeps_its_reason():
    a = proposal(1, "Confirm before refunding", "Wait for an explicit yes before any refund.", "- Wait for an explicit yes before a refund.", causes=[CAUSE])
    b = proposal(2, "Greet by tier", "Greet gold members by name.", "- Greet gold members by name.")
    llm = ScriptedLLM(
        {
            "edits": [{"op": "append_to_section", "path": "SKILL.md", "section": "Pitfalls", "anchor": "", "content": "- Wait for an explicit yes before a refund.", "reason": "r"}],
            "resolutions": [],
            "dropped": [{"input": 2, "reason": "a quirk of one task, not a recurring need"}, {"input": 9, "reason": "no such input"}],
        }
    )
    merged = merge_patches([a, b], "", llm).patch
    assert merged.trajectory_ids == ["t1"] and merged.support == 1 and [l.id for l in merged.lessons] == ["l1"]
    (drop,) = merged.dropped
    assert drop.reason == "dropped by the merger: a quirk of one task, not a recurring need"
    assert drop.trajectory_ids == ["t2"] and "Greet gold members" in drop.content

    params = ReduceParams(fan_in=4, dedup_threshold=0.999, corroboration_cosine=0.5, skill_support=1, reference_support=1)
    units = split_units([Patch(id="p1", edits=a.edits, trajectory_ids=["t1"]), Patch(id="p2", edits=b.edits, trajectory_ids=["t2"])], [lesson(1, "a", "x" * 12), lesson(2, "b", "y" * 12)])
    result = reduce_cluster(0, units, vecs([1, 0], [1, 0.1]), params, sequential(lambda ps: merge_patches(ps, "", llm)))
    assert [d.reason for d in result.dropped] == [drop.reason] and result.dropped[0].cluster_label == result.label
    assert result.lesson_ids == ["l1"] and result.trajectory_ids == ["t1"] and result.support == 1  # the dropped evidence left the topic


def test_a_merge_returning_twelve_identical_edits_lands_that_line_once():
    line = "- Wait for an explicit yes before any refund."
    twelve = [{"op": "append_to_section", "path": "SKILL.md", "section": "Pitfalls", "anchor": "", "content": line, "reason": "confirm"}] * 12
    llm = ScriptedLLM({"edits": twelve, "resolutions": []})
    words = ["refund", "exchange", "upgrade", "cancellation"]
    lessons = [lesson(i, "Confirm before acting", f"Wait for an explicit yes before any {w} the customer asks for.") for i, w in enumerate(words)]
    patches = [Patch(id=f"p{i}", edits=[Edit(op="append_to_section", section="Pitfalls", content=f"{line} ({i})")], trajectory_ids=[f"t{i}"]) for i in range(4)]
    cfg = ConsolidateConfig(embedder="hashing", skill_min_support=2, dedup_threshold=0.9999, fan_in=2)
    result = consolidate(S0, lessons, patches, cfg=cfg, embedder=make_embedder("hashing"), merge=lambda ps: merge_patches(ps, "", llm))
    assert llm.prompts and result.stats.clusters == 1  # the merges did run
    assert result.final.skill.skill_md().count(line) == 1
    assert len(result.final.folded) == 0  # exact repeats are already gone from the merged patch
    assert not result.final.problems


def test_a_rare_lesson_goes_to_references_with_its_reason_and_a_lone_one_off_can_be_dropped_by_the_merger():
    common = [lesson(i, "Confirm before refunding", f"Wait for an explicit yes before any refund of order {i}.") for i in range(4)]
    rare = lesson(9, "Check the currency", "Quote refunds in the currency the customer paid in, never converted.")
    patches = [
        Patch(id=f"p{i}", edits=[Edit(op="append_to_section", section="Pitfalls", content=f"- Wait for an explicit yes before a refund ({i}).")], trajectory_ids=[f"t{i}"])
        for i in range(4)
    ] + [Patch(id="p9", edits=[Edit(op="append_to_section", section="Pitfalls", content="- Quote refunds in the currency the customer paid in.")], trajectory_ids=["t9"])]
    cfg = ConsolidateConfig(embedder="hashing", skill_min_support=3, dedup_threshold=0.9999, cluster_distance_threshold=1.5)
    view, fake = skill_prompt_view(S0), FakeLLM()
    result = consolidate(S0, [*common, rare], patches, cfg=cfg, embedder=make_embedder("hashing"), merge=lambda ps: merge_patches(ps, view, fake))
    (row,) = [r for r in result.provenance if r.kind == "reference" and "l9" in r.lesson_ids and r.path.startswith("references/")]
    assert row.reason.startswith("one-off(s) kept by the merger") and row.support == 1
    assert "currency the customer paid in" in result.final.skill.files[row.path]
    assert "currency" not in result.final.skill.body.find("Pitfalls").body  # never SKILL.md on one trajectory

    judge = ScriptedLLM({"edits": [], "resolutions": [], "dropped": [{"input": 1, "reason": "a quirk of one customer"}]})

    def merge(ps):
        return merge_patches(ps, view, judge if any("l9" in p.lesson_ids for p in ps) else fake)

    result = consolidate(S0, [*common, rare], patches, cfg=cfg, embedder=make_embedder("hashing"), merge=merge)
    (drop,) = [r for r in result.provenance if r.kind == "dropped" and "l9" in r.lesson_ids]
    assert drop.reason == "dropped by the merger: a quirk of one customer" and not result.final.skill.reference_paths()
    assert result.stats.merger_dropped == 1


INSIGHTS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
]  # fmt: skip


def test_twenty_distinct_insights_in_one_cluster_all_survive_the_tree_over_http():
    units = []
    for i, word in enumerate(INSIGHTS):
        patch = Patch(id=f"p{i}", edits=[Edit(op="add_section", section=word.title(), content=f"- {word} {word}s.", reason=word)], trajectory_ids=[f"t{i}"])
        units += split_units([patch], [lesson(i, f"{word.title()} rule", f"{word} {word}s {word}.")])
    params = ReduceParams(fan_in=5, dedup_threshold=0.9999, corroboration_cosine=0.5, skill_support=1, reference_support=1)
    with ChatServer() as server:
        llm = OpenAILLM(server.base_url, "m")
        result = reduce_cluster(0, units, np.eye(20, dtype=np.float32), params, sequential(lambda ps: merge_patches(ps, "", llm, retries=0, context_tokens=32768)))
        requests = list(server.requests)
    assert result.stats.failed_merges == 0 and len(result.patches) == 1  # 4 merges of 5, then one of 4 patches holding 20 edits
    written = "\n".join(e.content for e in result.patches[0].edits)
    dropped = {l for d in result.dropped for l in d.lesson_ids if d.reason}
    for i, word in enumerate(INSIGHTS):
        assert f"- {word} {word}s." in written or f"l{i}" in dropped, word
    top = requests[-1]
    assert "up to 20 edits" in top["messages"][0]["content"]  # the prompt states the room the schema gives
    assert top["max_tokens"] > requests[0]["max_tokens"]  # the answer's room follows the inputs


def test_the_merge_schema_reasons_first_and_decides_before_it_edits():
    a = proposal(1, "Confirm before refunding", "Wait for an explicit yes before any refund.", "- Wait for an explicit yes before a refund.")
    b = proposal(2, "Refund in one step", "Once the customer agreed, refund without asking again.", "- Do not ask twice once the customer agreed.")
    with ChatServer() as server:
        merge_patches([a, b], "", OpenAILLM(server.base_url, "m"), retries=0)
        (request,) = server.requests
    fields = list(request["response_format"]["json_schema"]["schema"]["properties"])
    assert fields == ["analysis", "resolutions", "dropped", "edits"]
    assert prompt_version("trace2skill.consolidate", "fix") == "fix v4"


def test_a_merge_prompt_holds_the_reference_files_its_inputs_edit_whole_and_no_others():
    s0 = S0.model_copy(update={"files": {"references/refunds.md": "# Refunds\n\n## Methods\n- Card refunds take 5 days.\n", "references/bags.md": "# Bags\n\n## Fees\n- First bag free.\n"}})
    view = consolidation_view(s0)
    edit = Edit(op="insert_after", path="references/refunds.md", section="Methods", anchor="- Card refunds take 5 days.", content="- Vouchers are instant.")
    patches = [Patch(id=f"p{i}", edits=[edit], trajectory_ids=[f"t{i}"], support=1) for i in range(2)]
    llm = ScriptedLLM({"analysis": "", "resolutions": [], "dropped": [], "edits": []})
    merge_patches(patches, view, llm)
    (prompt,) = llm.prompts
    assert "- Card refunds take 5 days." in prompt and '<file path="references/refunds.md"' in prompt  # the file it edits, whole
    assert "First bag free" not in prompt and "references/bags.md" in prompt  # another file: listed, not shown
    assert skill_md_titles(view) == skill_md_titles(skill_prompt_view(s0))  # the schema's section titles are unchanged
