"""The bounded LLM restatement of an anchor no span matches, as consolidation injects it."""

from __future__ import annotations

from tests.consolidate.helpers import ScriptedLLM
from trace2skill.consolidate.anchors import BoundedRestater, llm_restater, restate
from trace2skill.consolidate.finalize import finalize
from trace2skill.schema import Edit, Patch, Usage
from trace2skill.skill.anchors import Restatement
from trace2skill.skill.folder import minimal_skill

S0 = minimal_skill("desk-agent", "Customer desk agent. Use for customer desk tasks.")


EDIT = Edit(op="insert_after", section="Workflow", anchor="look at what was asked", content="2. Restate the goal.")


def _anchor(written: str, body: str = "1. Read the task.\n") -> Restatement:
    return Restatement(kind="anchor", written=written, title="Workflow", body=body, edit=EDIT)


def test_the_restatement_prompt_carries_the_section_the_anchor_and_the_edit_and_a_miss_is_none():
    llm = ScriptedLLM({"found": True, "anchor": "Read the task"})
    restated, usage = restate(_anchor("look at what was asked"), llm)
    assert restated == "Read the task" and usage.calls == 1
    assert "<skill>\n## Workflow\n1. Read the task.\n" in llm.prompts[0] and '"anchor": "look at what was asked"' in llm.prompts[0]
    assert '"content": "2. Restate the goal."' in llm.prompts[0]  # the edit being repaired is in view
    assert restate(_anchor("y", "x"), ScriptedLLM({"found": False, "anchor": ""}))[0] is None


def test_a_section_restatement_shows_the_files_titles_and_the_edit():
    llm = ScriptedLLM({"found": True, "section": "Workflow"})
    asked = Restatement(kind="section", written="Steps", body="Workflow\nPitfalls", edit=EDIT)
    assert restate(asked, llm)[0] == "Workflow"
    assert "<skill>\nWorkflow\nPitfalls\n</skill>" in llm.prompts[0] and '"section": "Steps"' in llm.prompts[0] and "prompt: section v2" in llm.prompts[0]


def test_the_restater_asks_once_per_request_and_at_most_its_budget():
    asked = []

    def ask(request):
        asked.append(request.written)
        return request.written.upper(), Usage(calls=1)

    restater = BoundedRestater(ask, max_calls=2)
    assert [restater(_anchor(a)) for a in ("a", "a", "b", "c")] == ["A", "A", "B", None]
    assert asked == ["a", "b"] and restater.calls == 2 and restater.usage.calls == 2


def test_an_anchor_no_span_matches_is_restated_by_the_llm_or_refused_with_why():
    section = S0.body.sections[1].title
    line = next(l for l in S0.body.sections[1].body.splitlines() if len(l.strip()) > 10)
    restated = Edit(op="insert_after", section=section, anchor="the step with the thing", content="- Then double-check it.")
    result = finalize(S0, [Patch(id="p", edits=[restated])], restate=llm_restater(ScriptedLLM({"found": True, "anchor": line.strip()}), 4))
    assert result.refused == [] and [(r.before, r.after, r.how) for r in result.repairs] == [("the step with the thing", line.strip(), "restated")]
    assert "- Then double-check it." in result.skill.skill_md()

    result = finalize(S0, [Patch(id="p", edits=[restated])], restate=llm_restater(ScriptedLLM({"found": False, "anchor": ""}), 4))
    assert result.applied == 0 and "restated anchor does not occur exactly once" in result.refused[0].reason
