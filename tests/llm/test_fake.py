import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.analyze import AnalystSettings, build_messages
from trace2skill.analysts.models import ErrorAnalysis, SuccessAnalysis
from trace2skill.consolidate.models import MergeResult
from trace2skill.llm.base import LLMError, Message
from trace2skill.llm.fake import FakeLLM
from trace2skill.llm.fake_blocks import block as _block
from trace2skill.llm.structured import generate
from tests.conftest import make_trajectory

SKILL = SkillContext(skill_md="---\nname: s\ndescription: d\n---\n# S\n\n## Workflow\n\n- a\n\n## Pitfalls\n\n- b\n")


def _messages(traj):
    prompt = "success_analyst" if traj.success else "error_analyst"
    return build_messages(prompt, SKILL, traj, FakeLLM(), AnalystSettings())[0]


def test_same_prompt_same_answer_and_different_trajectories_differ():
    llm = FakeLLM()
    a = make_trajectory("a", False, ["cancel_reservation"])
    b = make_trajectory("b", False, ["update_reservation_baggages"])
    first, _ = generate(llm, _messages(a), ErrorAnalysis)
    again, _ = generate(llm, _messages(a), ErrorAnalysis)
    other, _ = generate(llm, _messages(b), ErrorAnalysis)
    assert first == again
    assert first.lessons[0].topic == "cancel reservation"
    assert other.lessons[0].topic == "update reservation baggages"
    assert first.edits[0].section == "Pitfalls"


def test_success_answer_targets_workflow():
    answer, usage = generate(FakeLLM(), _messages(make_trajectory("s", True, ["search_direct_flight"])), SuccessAnalysis)
    assert answer.solution_path == ["call search_direct_flight"]
    assert answer.edits[0].section == "Workflow"
    assert usage.calls == 1 and usage.prompt_tokens > 0


def test_error_without_tool_calls_is_not_explained():
    answer, _ = generate(FakeLLM(), _messages(make_trajectory("n", False, [])), ErrorAnalysis)
    assert answer.explained is False and answer.lessons == []


def test_merge_deduplicates_edits():
    edit = {"op": "append_to_section", "path": "SKILL.md", "section": "Pitfalls", "content": "- x"}
    prompt = '<patches>\n[{"edits": [%s]}, {"edits": [%s]}]\n</patches>' % ((__import__("json").dumps(edit),) * 2)
    answer, _ = generate(FakeLLM(), [Message(role="user", content=prompt)], MergeResult)
    assert len(answer.edits) == 1


def test_failure_injection_is_deterministic():
    llm = FakeLLM(failure_rate=1.0)
    completion = llm.complete(_messages(make_trajectory("f", False, ["x"])), ErrorAnalysis, 100)
    assert completion.text == llm.complete(_messages(make_trajectory("f", False, ["x"])), ErrorAnalysis, 100).text
    assert not completion.text.endswith("}")


@pytest.mark.parametrize("kind", ["truncated", "invalid_json", "schema", "empty", "exception", "timeout"])
def test_every_injected_failure_kind_ends_in_llm_error(kind):
    llm = FakeLLM(failure_rate=1.0, failures=(kind,))
    with pytest.raises(LLMError) as err:
        generate(llm, _messages(make_trajectory("f", False, ["x"])), ErrorAnalysis, retries=1)
    assert len(err.value.attempts) == 2  # the first try and one retry, no more


def test_failure_kinds_are_spread_over_the_failing_calls():
    llm = FakeLLM(failure_rate=1.0, failures=("empty", "schema"))
    texts = {llm.complete([Message(role="user", content=f"<trajectory>\n[{i}] assistant: call t(\n</trajectory>\n")], ErrorAnalysis, 10).text for i in range(40)}
    assert "" in texts and any("answer" in t for t in texts)


def test_success_answers_fit_the_schema_for_many_distinct_tools():
    traj = make_trajectory("s", True, [f"tool_{i}" for i in range(9)])
    answer, usage = generate(FakeLLM(), _messages(traj), SuccessAnalysis)
    assert usage.calls == 1 and len(answer.solution_path) == 6


_PIECES = st.sampled_from(["<t>", "</t>", "<t>\n", "\n</t>", "\n", "a", "x<t>\n", " </t>"])


@given(st.lists(_PIECES, max_size=12))
def test_a_block_is_what_a_line_anchored_pattern_finds(pieces):
    # _block reads with str.find for speed; it must find what the plain rule says: the
    # first <t> on a line of its own up to the next </t> that starts a line.
    text = "".join(pieces)
    match = re.search(r"^<t>\n(.*?)^</t>", text, re.DOTALL | re.MULTILINE)
    assert _block(text, "t") == (match.group(1) if match else "")


def test_model_verdicts_are_scripted_by_a_hook_in_the_edit():
    from trace2skill.safety.model_review import ModelVerdict

    def ask(edit: str) -> ModelVerdict:
        text = FakeLLM().complete([Message(role="user", content=f"<skill>[fake:harmful] in S0 does not count</skill>\n<patches>\n{edit}\n</patches>")], ModelVerdict, 64).text
        return ModelVerdict.model_validate_json(text)

    assert ask("- Offer a voucher. [fake:harmful]").harmful and not ask("- Check the order.").harmful
