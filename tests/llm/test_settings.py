"""Every sampling and reasoning setting reaches every call of the openai backend: single-call
and agentic (tool-calling) analysis, merges, fixes and the S0 draft, over a recording
OpenAI-compatible server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.analysts.test_agentic import failure, sibling
from tests.analysts.test_analyze import SKILL
from tests.consolidate.test_synthesis import proposal
from tests.llm.openai_server import ChatServer
from trace2skill.analysts.agentic import run_analyst
from trace2skill.analysts.analyze import AnalystConfig
from trace2skill.analysts.draft import draft_skill
from trace2skill.analysts.models import ErrorAnalysis
from trace2skill.consolidate.fix import fix_patch
from trace2skill.consolidate.merge import merge_patches
from trace2skill.llm.config import DEFAULT_REASONING_TOKENS, OpenAIConfig, for_replica
from trace2skill.llm.factory import make_llm
from trace2skill.run.candidates import candidate_configs
from trace2skill.run.options import DistillConfig
from trace2skill.skill.folder import minimal_skill, skill_prompt_view

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SETTINGS = {"temperature": 0.6, "seed": 5, "reasoning_effort": "high", "chat_template_kwargs": {"enable_thinking": True}, "extra_body": {"top_p": 0.95, "top_k": 20}}
SENT = {"temperature": 0.6, "seed": 5, "reasoning_effort": "high", "chat_template_kwargs": {"enable_thinking": True}, "top_p": 0.95, "top_k": 20}


def test_structured_and_tool_calls_carry_every_setting_and_room_for_thinking():
    with ChatServer() as server:
        llm = make_llm(OpenAIConfig(base_url=server.base_url, model="m", reasoning_tokens=1000, **SETTINGS))
        llm.complete([], ErrorAnalysis, 300)
        llm.complete_tools([], [], 200)
    structured, tools = server.requests
    assert "tools" in tools and "response_format" in structured
    for body in (structured, tools):
        assert {k: body.get(k) for k in SENT} == SENT
    assert (structured["max_tokens"], tools["max_tokens"]) == (1300, 1200)  # the answer's room plus the thinking room


def test_a_truncated_tool_call_is_asked_again_with_twice_the_room():
    with ChatServer(truncate_first=1) as server:
        completion = make_llm(OpenAIConfig(base_url=server.base_url, model="m")).complete_tools([], [], 200)
    assert [b["max_tokens"] for b in server.requests] == [200, 400] and not completion.truncated


def test_thinking_room_defaults_when_thinking_is_asked_for_and_is_kept_out_of_the_prompts_room():
    plain = OpenAIConfig(base_url="http://x/v1", model="m", context_tokens=32768)
    thinking = plain.model_copy(update={"chat_template_kwargs": {"enable_thinking": True}})
    assert (plain.thinking_tokens(), thinking.thinking_tokens()) == (0, DEFAULT_REASONING_TOKENS)
    assert AnalystConfig().for_backend(plain).context_tokens == 32768
    assert AnalystConfig().for_backend(thinking).context_tokens == 32768 - DEFAULT_REASONING_TOKENS
    with pytest.raises(ValueError, match="reasoning room"):
        OpenAIConfig(base_url="http://x/v1", model="m", context_tokens=4096, reasoning_tokens=4000)


def test_every_path_sends_every_setting():
    """Single-call and agentic analysis, a merge, a fix and the S0 draft: one client, one settings object."""
    with ChatServer() as server:
        engine = OpenAIConfig(base_url=server.base_url, model="m", context_tokens=32768, **SETTINGS)
        llm, config = make_llm(engine), AnalystConfig(mode="agentic").for_backend(engine)
        paths = {
            "single": lambda: run_analyst(failure().model_copy(update={"success": True}), SKILL, llm, config),
            "agentic": lambda: run_analyst(failure(), SKILL, llm, config, sibling()),
            "merge": lambda: merge_patches([proposal(1, "Confirm", "Wait for a yes.", "- Wait for a yes."), proposal(2, "Once", "Ask once.", "- Ask once.")], "", llm, retries=0),
            "fix": lambda: fix_patch(proposal(1, "Confirm", "Wait for a yes.", "- Wait for a yes."), ["section missing"], skill_prompt_view(minimal_skill("s", "S. Use for s.")), llm, retries=0),
            "draft": lambda: draft_skill("desk-agent", ["refund a ticket"], llm),
        }
        sent = {}
        for name, call in paths.items():
            before = len(server.requests)
            call()
            sent[name] = server.requests[before:]
    assert all(sent.values()) and any("tools" in b for b in sent["agentic"]) and not any("tools" in b for b in sent["single"])
    for name, bodies in sent.items():
        for body in bodies:
            assert {k: body.get(k) for k in SENT} == SENT, name
            assert body["max_tokens"] > DEFAULT_REASONING_TOKENS, name  # thinking asked for: its room comes on top of the answer's


def test_three_candidates_send_three_seeds_and_the_recipes_temperature_on_the_tool_calling_path(tmp_path):
    with ChatServer() as server:
        backend = {"backend": "openai", "base_url": server.base_url, "model": "m", "temperature": 0.3, "context_tokens": 32768}
        cfg = DistillConfig.model_validate({"inputs": [EXAMPLES / "airline"], "out_dir": tmp_path / "out", "backend": backend, "analyst": {"mode": "agentic"}})
        seeds = {}
        for candidate in candidate_configs(cfg, 3):
            engine = for_replica(candidate.backend)
            before = len(server.requests)
            result = run_analyst(failure(), SKILL, make_llm(engine), candidate.analyst.for_backend(engine), sibling())
            assert result.status == "analyzed" and result.turns >= 2, result.reason
            bodies = server.requests[before:]
            assert all("tools" in b for b in bodies) and {b["temperature"] for b in bodies} == {0.3}
            seeds[candidate.out_dir.name] = {b["seed"] for b in bodies}
    assert seeds == {"candidate-1": {1}, "candidate-2": {2}, "candidate-3": {3}}
