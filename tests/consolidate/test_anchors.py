"""The bounded LLM restatement of an anchor no span matches, as consolidation injects it."""

from __future__ import annotations

from tests.consolidate.helpers import ScriptedLLM
from trace2skill.consolidate.anchors import BoundedRestater, llm_restater, restate_anchor
from trace2skill.consolidate.finalize import finalize
from trace2skill.schema import Edit, Patch, Usage
from trace2skill.skill.folder import minimal_skill

S0 = minimal_skill("desk-agent", "Customer desk agent. Use for customer desk tasks.")


def test_the_restatement_prompt_carries_the_section_and_the_anchor_and_a_miss_is_none():
    llm = ScriptedLLM({"found": True, "anchor": "Read the task"})
    restated, usage = restate_anchor("Workflow", "1. Read the task.\n", "look at what was asked", llm)
    assert restated == "Read the task" and usage.calls == 1
    assert "<skill>\n## Workflow\n1. Read the task.\n" in llm.prompts[0] and '{"anchor": "look at what was asked"}' in llm.prompts[0]
    assert restate_anchor("Workflow", "x", "y", ScriptedLLM({"found": False, "anchor": ""}))[0] is None


def test_the_restater_asks_once_per_anchor_and_at_most_its_budget():
    asked = []

    def ask(title, body, anchor):
        asked.append(anchor)
        return anchor.upper(), Usage(calls=1)

    restate = BoundedRestater(ask, max_calls=2)
    assert [restate("S", "b", a) for a in ("a", "a", "b", "c")] == ["A", "A", "B", None]
    assert asked == ["a", "b"] and restate.calls == 2 and restate.usage.calls == 2


def test_an_anchor_no_span_matches_is_restated_by_the_llm_or_refused_with_why():
    section = S0.body.sections[1].title
    line = next(l for l in S0.body.sections[1].body.splitlines() if len(l.strip()) > 10)
    restated = Edit(op="insert_after", section=section, anchor="the step with the thing", content="- Then double-check it.")
    result = finalize(S0, [Patch(id="p", edits=[restated])], restate=llm_restater(ScriptedLLM({"found": True, "anchor": line.strip()}), 4))
    assert result.refused == [] and [(r.before, r.after, r.how) for r in result.repairs] == [("the step with the thing", line.strip(), "restated")]
    assert "- Then double-check it." in result.skill.skill_md()

    result = finalize(S0, [Patch(id="p", edits=[restated])], restate=llm_restater(ScriptedLLM({"found": False, "anchor": ""}), 4))
    assert result.applied == 0 and "restated anchor does not occur exactly once" in result.refused[0].reason
