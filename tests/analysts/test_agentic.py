import json

import pytest

from tests.analysts.test_analyze import SKILL
from tests.conftest import make_trajectory
from tests.llm.openai_server import ChatServer
from trace2skill.analysts.agentic import AnalystAction, ReadStep, RunTools, SearchRun, ViewSteps, analyze_agentic, run_analyst, tool_definitions
from trace2skill.analysts.analyze import AnalystSettings
from trace2skill.analysts.contrast import choose_sibling
from trace2skill.llm.base import Completion
from trace2skill.llm.fake import FakeLLM
from trace2skill.llm.openai import OpenAILLM
from trace2skill.llm.structured import schema_of
from trace2skill.schema import Usage

TOOLS = ["get_user_details", "get_reservation_details", "search_direct_flight", "cancel_reservation", "cancel_reservation"]


def failure(tid="f1", task_note=""):
    t = make_trajectory(tid, False, TOOLS, n_filler=4)
    return t.model_copy(update={"task": f"task {tid} {task_note}".strip()})


def sibling():
    s = make_trajectory("s1", True, ["get_user_details", "get_reservation_details", "cancel_reservation"]).model_copy(update={"task_key": "k"})
    return choose_sibling([s.to_row()], "k")


class Recording(FakeLLM):
    def __init__(self):
        super().__init__()
        self.calls = []

    def complete(self, messages, output, max_tokens, schema=None):
        self.calls.append(messages)
        return super().complete(messages, output, max_tokens, schema)


def test_loop_views_compares_and_finishes_citing_viewed_steps():
    llm = Recording()
    r = analyze_agentic(failure(), SKILL, llm, AnalystSettings(mode="agentic"), sibling())
    assert r.status == "analyzed" and r.sibling_id == "s1" and r.tool_errors == 0
    assert r.turns == len(llm.calls) == 3  # view, show the sibling, finish
    assert "Successful sibling run s1" in llm.calls[-1][-1].content
    assert r.usage.calls == 3 and r.usage.prompt_tokens > 0
    assert r.lessons and all(lesson.contrast_with == "s1" for lesson in r.lessons)
    meta = r.lessons[0].metadata
    assert (meta["agentic_prompt"], meta["sibling_prompt"], meta["mode"]) == ("agentic_error_analyst v2", "sibling v2", "agentic")
    assert r.lessons[0].metadata["divergence_step"] == 10  # the failure's 3rd call: a search where the sibling cancelled


def test_the_outline_shows_no_step_contents():
    llm = Recording()
    analyze_agentic(failure(), SKILL, llm, AnalystSettings(mode="agentic"))
    first_user = llm.calls[0][1].content
    assert "x" * 100 not in first_user and "[6] assistant tool_call: call get_user_details" in first_user
    assert "show_sibling" in llm.calls[0][0].content and "Successful sibling run of the same task: no" in first_user


def test_citation_of_an_unviewed_step_is_refused_then_retried():
    llm = Recording()
    r = analyze_agentic(failure(task_note="[fake:cite-unviewed]"), SKILL, llm, AnalystSettings(mode="agentic"))
    refusals = [m[-1].content for m in llm.calls if "refused" in m[-1].content]
    assert refusals and "never viewed" in refusals[0]
    assert r.status == "analyzed" and r.tool_errors == 1 and r.turns == 4  # view, finish (refused), view again, finish


def test_bad_arguments_get_an_error_inside_the_loop():
    r = analyze_agentic(failure(task_note="[fake:bad-args]"), SKILL, FakeLLM(), AnalystSettings(mode="agentic"))
    assert r.status == "analyzed" and r.tool_errors == 1


def test_a_model_that_never_finishes_ends_at_max_turns_as_failed():
    llm = Recording()
    r = analyze_agentic(failure(task_note="[fake:never-finish]"), SKILL, llm, AnalystSettings(mode="agentic", max_turns=3))
    assert r.status == "failed" and "no finish within 3 turns" in r.reason
    assert len(llm.calls) == 3 and r.turns == 3 and not r.lessons


class Garbage:
    def count_tokens(self, text):
        return len(text) // 4

    def complete(self, messages, output, max_tokens, schema=None):
        return Completion(text='{"action": {"tool": "rm_rf", "path": "/"}}', usage=Usage(calls=1))


def test_invalid_actions_are_counted_errors_never_a_crash():
    r = analyze_agentic(failure(), SKILL, Garbage(), AnalystSettings(mode="agentic", max_turns=2))
    assert r.status == "failed" and r.tool_errors == 2 and r.usage.calls == 2


def test_tools_over_the_run():
    tools = RunTools(failure(), None, 20_000)
    text, error = tools.run(ViewSteps(tool="view_steps", first=0, last=100))
    assert not error and "(showing 10 steps" in text and tools.viewed == set(range(1, 11))
    assert tools.run(ViewSteps(tool="view_steps", first=50, last=60))[1]
    assert tools.run(AnalystAction.model_validate({"action": {"tool": "show_sibling"}}).action) == ("error: this run has no successful sibling", True)
    text, error = tools.run(AnalystAction.model_validate({"action": {"tool": "search", "query": "CANCEL_res"}}).action)
    assert not error and text.count("call cancel_reservation") == 2 and {12, 14} <= tools.viewed


def test_run_analyst_sends_only_failures_to_the_loop():
    llm = Recording()
    ok = run_analyst(make_trajectory("s", True, ["a_tool"]), SKILL, llm, AnalystSettings(mode="agentic"))
    assert ok.turns == 0 and ok.status == "analyzed"
    assert run_analyst(failure(), SKILL, llm, AnalystSettings(mode="single")).turns == 0
    assert run_analyst(failure(), SKILL, llm, AnalystSettings(mode="agentic")).turns == 2


def test_tool_definitions_cover_every_action():
    tools = tool_definitions(schema_of(AnalystAction))
    assert [t["function"]["name"] for t in tools] == ["view_steps", "read_step", "search", "show_sibling", "show_grader", "finish"]
    finish = tools[-1]["function"]["parameters"]
    assert finish["required"] == ["analysis"] and "ContrastiveErrorAnalysis" in finish["$defs"]


@pytest.fixture
def server():
    with ChatServer() as s:
        yield s


def test_tool_calling_engine_runs_the_same_loop(server):
    llm = OpenAILLM(server.base_url, "m")
    try:
        r = analyze_agentic(failure(task_note="[fake:cite-unviewed]"), SKILL, llm, AnalystSettings(mode="agentic"), sibling())
    finally:
        llm.close()
    bodies = [b for b in server.requests if "tools" in b]
    assert len(bodies) == r.turns == 5  # view, sibling, finish (refused), view, finish
    assert bodies[0]["tool_choice"] == "required" and "response_format" not in bodies[0]
    assert {t["function"]["name"] for t in bodies[0]["tools"]} >= {"view_steps", "finish"}
    assert any("never viewed" in m["content"] for m in bodies[3]["messages"])
    assert r.status == "analyzed" and r.sibling_id == "s1" and r.tool_errors == 1
    assert json.loads(bodies[1]["messages"][-2]["content"])["action"]["tool"] == "view_steps"


def test_old_observations_are_elided_to_fit_the_context():
    from trace2skill.analysts.agentic import fitted
    from trace2skill.llm.base import Message

    convo = [Message(role="system", content="s"), Message(role="user", content="outline")]
    for n in range(3):
        convo += [Message(role="assistant", content="{}"), Message(role="user", content=f"obs{n} " + "x" * 4000)]
    out = fitted(convo, FakeLLM(), AnalystSettings(context_tokens=1600, max_output_tokens=256))
    assert "elided" in out[3].content and "elided" in out[5].content and out[7].content.startswith("obs2")
    assert fitted(convo, FakeLLM(), AnalystSettings(context_tokens=100_000)) == convo
    # The chat template's tokens around each message count too: contents that fit alone do not.
    llm = FakeLLM()
    contents = sum(llm.count_tokens(m.content) for m in convo)
    tight = AnalystSettings(context_tokens=contents + 256, max_output_tokens=256)
    assert "elided" in fitted(convo, llm, tight)[3].content
    long_actions = [m.model_copy(update={"content": "{" + "a" * 3000 + "}"}) if m.role == "assistant" else m for m in convo]
    out = fitted(long_actions, llm, AnalystSettings(context_tokens=1600, max_output_tokens=256))
    assert out[2].content.endswith("...(elided)") and len(out[2].content) < 300  # an elided observation's action is cut too


def long_failure():
    t = failure()
    steps = list(t.steps)
    steps[3] = steps[3].model_copy(update={"content": "line a\n" * 2000 + "E   AssertionError: expected 3\nline b\n" + "line c\n" * 2000 + "END"})
    return t.model_copy(update={"steps": steps})


def test_a_step_too_long_for_an_observation_is_cut_and_read_by_pages():
    traj = long_failure()
    index, body = traj.steps[3].index, traj.steps[3].content
    tools = RunTools(traj, None, 4000)
    text, error = tools.run(ViewSteps(tool="view_steps", first=index, last=index))
    assert not error and "chars cut" in text and "AssertionError: expected 3" in text and "read_step shows a cut step" in text
    page, error = tools.run(ReadStep(tool="read_step", index=index, offset=0, length=1000))
    assert not error and f"(characters 0..1000 of {len(body)}; the next page starts at offset 1000)" in page and body[:1000] in page
    last, _ = tools.run(ReadStep(tool="read_step", index=index, offset=len(body) - 10, length=500))
    assert last.endswith(body[-10:]) and "the end of the step" in last
    assert tools.run(ReadStep(tool="read_step", index=index, offset=len(body), length=500))[1]
    assert tools.run(ReadStep(tool="read_step", index=999, offset=0, length=500))[1]
    huge, _ = tools.run(ReadStep(tool="read_step", index=index, offset=0, length=100_000))
    assert len(huge) < 4200  # a page never fills more than an observation's room
    whole, _ = RunTools(traj, None, 100_000).run(ViewSteps(tool="view_steps", first=index, last=index))
    assert body in whole  # with room, the step is shown whole


def test_search_returns_matching_lines_with_context():
    tools = RunTools(long_failure(), None, 20_000)
    text, error = tools.run(SearchRun(tool="search", query="assertionerror", context_lines=1))
    assert not error and text.splitlines()[1:] == ["line a", "E   AssertionError: expected 3", "line b"]
    assert "line 2001 of 4003" in text and tools.viewed == {3}
    many, _ = tools.run(SearchRun(tool="search", query="line c", context_lines=0))
    assert many.count("line c") == 12 and "1988 more matching lines not shown" in many
    assert tools.run(SearchRun(tool="search", query="nowhere to be found", context_lines=2)) == ("no step contains 'nowhere to be found'", False)
