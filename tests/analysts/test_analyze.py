import pytest
from pydantic import ValidationError

from tests.conftest import make_trajectory
from trace2skill.analysts.analyze import AnalystSettings, analyze
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.models import MAX_LESSONS, ErrorAnalysis, SuccessAnalysis
from trace2skill.llm.base import Completion
from trace2skill.llm.fake import FakeLLM
from trace2skill.prompting import load_prompt, prompt_version
from trace2skill.schema import Usage

SKILL = SkillContext(skill_md="---\nname: s\ndescription: d\n---\n# S\n\n## Workflow\n\n- a\n\n## Pitfalls\n\n- b\n")


class Fixed:
    def __init__(self, text: str):
        self.text = text

    def count_tokens(self, text: str) -> int:
        return len(text) // 4

    def complete(self, messages, output, max_tokens, schema=None):
        return Completion(text=self.text, usage=Usage(calls=1))


def test_failure_yields_lessons_and_patch_with_provenance():
    traj = make_trajectory("t1", False, ["cancel_reservation", "cancel_reservation", "get_user_details"])
    r = analyze(traj, SKILL, FakeLLM())
    assert r.status == "analyzed"
    assert {lesson.kind for lesson in r.lessons} == {"failure"}
    assert r.patch.trajectory_ids == ["t1"] and r.patch.support == 1
    assert r.patch.lesson_ids == [lesson.id for lesson in r.lessons]
    assert r.patch.edits[0].op == "append_to_section"
    assert r.usage.calls == 1


def test_success_uses_success_analyst():
    r = analyze(make_trajectory("t2", True, ["search_direct_flight"]), SKILL, FakeLLM())
    assert r.status == "analyzed" and r.lessons[0].kind == "success"


def test_unknown_outcome_is_no_lesson_without_a_call():
    r = analyze(make_trajectory("t3", None, ["x"]), SKILL, FakeLLM())
    assert r.status == "no_lesson" and "outcome unknown" in r.reason and r.usage.calls == 0


def test_unexplained_failure_is_no_lesson_with_the_reason():
    r = analyze(make_trajectory("t4", False, []), SKILL, FakeLLM())
    assert r.status == "no_lesson" and r.reason.startswith("failure not explained")
    assert r.lessons == [] and r.patch is None


def test_invalid_output_is_retried_then_failed_with_reason():
    r = analyze(make_trajectory("t5", False, ["x"]), SKILL, Fixed("{not json"), AnalystSettings(retries=1))
    assert r.status == "failed" and "after 2 attempts" in r.reason
    assert r.usage.calls == 2


def test_at_most_three_lessons_is_enforced_by_the_model():
    lesson = {"title": "abc", "description": "", "content": "0123456789", "topic": "xy", "coverage": "missing"}
    assert len(SuccessAnalysis(solution_path=[], lessons=[lesson] * MAX_LESSONS).lessons) == MAX_LESSONS
    with pytest.raises(ValidationError):
        SuccessAnalysis(solution_path=[], lessons=[lesson] * (MAX_LESSONS + 1))
    schema = ErrorAnalysis.model_json_schema()
    assert schema["properties"]["lessons"]["maxItems"] == MAX_LESSONS


def test_long_trajectory_is_fitted_not_failed():
    traj = make_trajectory("t6", False, ["cancel_reservation"], n_filler=400)
    r = analyze(traj, SKILL, FakeLLM(), AnalystSettings(context_tokens=4096))
    assert r.status == "analyzed"
    assert r.lessons[0].metadata["elided_steps"] > 0


def test_prompts_are_versioned_files_with_placeholders():
    for package, name in (("trace2skill.analysts", "error_analyst"), ("trace2skill.analysts", "success_analyst"), ("trace2skill.consolidate", "merge")):
        assert prompt_version(package, name).startswith(f"{name} v")
        assert "$skill" in load_prompt(package, name).template
    assert prompt_version("trace2skill.analysts", "edit_rules").startswith("edit_rules v")


def test_fitted_prompt_leaves_room_for_the_answer_and_keeps_instructions_first():
    from trace2skill.analysts.analyze import build_messages

    llm, config = FakeLLM(), AnalystSettings(context_tokens=4096, max_output_tokens=1024)
    traj = make_trajectory("t7", False, ["cancel_reservation"], system="POLICY " * 300, n_filler=400)
    messages, fit = build_messages("error_analyst", SKILL, traj, llm, config)
    assert sum(llm.count_tokens(m.content) for m in messages) <= config.context_tokens - config.max_output_tokens
    assert fit["elided_steps"] > 0
    system = messages[0].content
    assert system.startswith("<skill>")  # S0 first: the prefix every call of the run shares
    assert system.index("<skill>") < system.index("You are an error analyst") < system.index("<agent_instructions>")
    assert "POLICY" not in messages[1].content  # the policy is context, not a step


@pytest.mark.parametrize("with_link", [True, False], ids=["create+link", "create-alone"])
def test_new_reference_file_needs_its_link_in_the_same_patch(with_link):
    import json

    from trace2skill.skill.apply import apply_patch
    from trace2skill.skill.folder import minimal_skill

    create = {"op": "create", "path": "references/refunds.md", "section": "", "anchor": "", "content": "# Refunds\n\nRules.", "reason": "details"}
    link = {"op": "append_to_section", "path": "SKILL.md", "section": "Pitfalls", "anchor": "", "content": "- Refund rules: see references/refunds.md", "reason": "link"}
    cause = {"title": "Wrong refund", "description": "d", "steps": [2], "explanation": "The agent refunded the wrong card."}
    lesson = {"title": "Check refunds", "description": "", "content": "Check the refund rules first.", "topic": "refunds", "coverage": "missing"}
    create, link = {**create, "lesson": 0}, {**link, "lesson": 0}
    answer = {"explained": True, "failure_causes": [cause], "lessons": [lesson], "edits": [create, link] if with_link else [create]}
    result = analyze(make_trajectory("t8", False, ["refund"]), SKILL, Fixed(json.dumps(answer)))
    assert result.status == "analyzed" and [e.op for e in result.patch.edits] == [e["op"] for e in answer["edits"]]
    applied = apply_patch(minimal_skill("demo-skill", "Demo skill for tests."), result.patch)
    assert ("references/refunds.md" in applied.skill.files) == with_link
    assert len(applied.refused) == (0 if with_link else 1)
