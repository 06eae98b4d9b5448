"""The openai backend against a real HTTP server on loopback."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.conftest import make_trajectory
from tests.llm.openai_server import ChatServer
from trace2skill.analysts.analyze import analyze
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.models import ErrorAnalysis
from trace2skill.llm.config import RequestConfig
from trace2skill.llm.openai import OpenAIHTTPError, OpenAILLM, retry_after_s

SKILL = SkillContext(skill_md="---\nname: s\ndescription: d\n---\n# S\n\n## Workflow\n\n- a\n\n## Pitfalls\n\n- b\n")


def test_analysis_over_http_with_schema_and_key(monkeypatch):
    monkeypatch.setenv("TEST_KEY", "sk-test-123")
    with ChatServer() as server:
        llm = OpenAILLM(server.base_url, "served-model", api_key_env="TEST_KEY")
        result = analyze(make_trajectory("t1", False, ["cancel_reservation"]), SKILL, llm)
    assert result.status == "analyzed" and result.usage.calls == 1 and result.usage.prompt_tokens > 0
    body = server.requests[0]
    assert body["model"] == "served-model"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"][:2] == ["analysis", "explained"]  # reasoning first
    assert server.headers[0]["Authorization"] == "Bearer sk-test-123"


def test_retryable_status_is_retried_with_backoff():
    with ChatServer(fail_first=2, fail_status=429) as server:
        llm = OpenAILLM(server.base_url, "m", backoff_s=0.01)
        result = analyze(make_trajectory("t1", True, ["search_direct_flight"]), SKILL, llm)
    assert result.status == "analyzed" and len(server.requests) == 3


def test_retries_run_out_into_a_connection_error():
    with ChatServer(fail_first=99, fail_status=503) as server:
        llm = OpenAILLM(server.base_url, "m", max_retries=1, backoff_s=0.01)
        with pytest.raises(OpenAIHTTPError):
            llm.complete([], ErrorAnalysis, 10)
    assert len(server.requests) == 2


def test_client_error_is_not_retried():
    with ChatServer(fail_first=99, fail_status=400) as server:
        llm = OpenAILLM(server.base_url, "m", backoff_s=0.01)
        result = analyze(make_trajectory("t1", False, ["x"]), SKILL, llm)
    assert result.status == "failed" and "HTTP 400" in result.reason and len(server.requests) == 1


def test_server_tokenizer_counts_on_the_server_and_caches():
    with ChatServer() as server:
        llm = OpenAILLM(server.base_url, "m", tokenizer="server")
        assert llm.count_tokens("one two three four five six seven eight nine ten") == 10  # the estimate would say 12
        llm.count_tokens("one two three four five six seven eight nine ten")
        assert [r for r in server.requests if "prompt" in r] == [{"model": "m", "prompt": "one two three four five six seven eight nine ten"}]


def test_server_without_tokenize_falls_back_to_the_estimate():
    with ChatServer(tokenize=False) as server:
        llm = OpenAILLM(server.base_url, "m", tokenizer="server")
        assert llm.count_tokens("x" * 40) == 10
        assert llm.tokenizer == "estimate"


def test_vllm_replicas_count_with_the_served_tokenizer():
    from trace2skill.llm.config import VllmConfig

    config = VllmConfig(vllm={"model_source": "Qwen/Qwen2.5-0.5B-Instruct"})
    assert config.for_replica().tokenizer == "server"


def test_requests_in_flight_are_bounded_by_max_concurrency():
    with ChatServer(latency_s=0.2) as server:
        llm = OpenAILLM(server.base_url, "m", max_concurrency=3)
        with ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda _: llm.complete([], ErrorAnalysis, 10), range(10)))
        llm.close()
    assert len(answers) == 10 and server.peak_in_flight == 3


def test_concurrent_callers_share_one_client_up_to_the_bound():
    with ChatServer(gate=12) as server:  # answers only once 12 requests are in (or after 10 s)
        llm = OpenAILLM(server.base_url, "m", max_concurrency=16)
        with ThreadPoolExecutor(12) as pool:
            list(pool.map(lambda _: llm.complete([], ErrorAnalysis, 10), range(12)))
    assert server.peak_in_flight == 12


def test_retry_after_from_the_server_sets_the_wait():
    with ChatServer(fail_first=1, fail_status=429, retry_after="0.6") as server:
        llm = OpenAILLM(server.base_url, "m", backoff_s=0.0)
        start = time.monotonic()
        llm.complete([], ErrorAnalysis, 10)
    assert time.monotonic() - start >= 0.6 and len(server.requests) == 2


@pytest.mark.parametrize(("header", "wait"), [("2", 2.0), ("-1", 0.0), ("3600", 60.0), ("Wed, 21 Oct 2015 07:28:00 GMT", None)])
def test_retry_after_is_read_in_seconds_and_capped(header, wait):
    assert retry_after_s(httpx.Response(429, headers={"Retry-After": header})) == wait
    assert retry_after_s(httpx.Response(429)) is None


def test_the_coroutine_form_runs_on_the_clients_loop():
    with ChatServer() as server:
        llm = OpenAILLM(server.base_url, "m")
        future = asyncio.run_coroutine_threadsafe(llm.acomplete([], ErrorAnalysis, 10), llm._loop)
        assert future.result(timeout=10).usage.calls == 1


def _analyst_request(traj, config, **sampling) -> dict:
    from tests.analysts.samples import AIRLINE

    with ChatServer() as server:
        llm = OpenAILLM(server.base_url, "m", settings=RequestConfig(**sampling))
        result = analyze(traj, AIRLINE, llm, config)
    assert result.status in ("analyzed", "no_lesson"), result.reason
    return next(r for r in server.requests if "messages" in r)


def test_the_request_shows_the_grader_and_the_references_with_long_caps_and_sampling():
    from tests.analysts.samples import failed_tau_bench_run
    from trace2skill.analysts.analyze import AnalystConfig
    from trace2skill.llm.config import FakeConfig

    config = AnalystConfig(max_output_tokens=2048).for_backend(FakeConfig(context_tokens=16384))  # long limits, as openai's
    body = _analyst_request(failed_tau_bench_run(), config, temperature=0.7, reasoning_effort="high", chat_template_kwargs={"enable_thinking": True}, extra_body={"top_k": 20})
    system, user = (m["content"] for m in body["messages"])
    assert system.startswith("<skill>") and "Free checked bags **per passenger**" in system  # S0 and its reference, first
    assert "\n<grader>\n" in user and "update_reservation_flights" in user.split("<grader>")[1]
    assert (body["temperature"], body["reasoning_effort"], body["chat_template_kwargs"], body["top_k"]) == (0.7, "high", {"enable_thinking": True}, 20)
    schema = body["response_format"]["json_schema"]["schema"]
    assert list(schema["properties"])[0] == schema["required"][0] == "analysis"
    assert schema["$defs"]["LessonDraft"]["properties"]["content"]["maxLength"] >= 600
    assert {v["properties"]["content"]["maxLength"] for v in schema["$defs"]["AnalystEdit"]["anyOf"]} == {2000}


def test_a_swe_bench_style_failure_over_http_shows_its_failing_tests(tmp_path):
    from tests.analysts.samples import FAILING_TEST, failed_swe_bench_run
    from trace2skill.analysts.analyze import AnalystConfig
    from trace2skill.llm.config import FakeConfig

    body = _analyst_request(failed_swe_bench_run(tmp_path), AnalystConfig().for_backend(FakeConfig(context_tokens=16384)))
    grader = body["messages"][1]["content"].split("\n<grader>\n")[1]
    assert f"[FAIL] FAIL_TO_PASS {FAILING_TEST}" in grader


def test_embedded_limits_send_short_caps_and_no_analysis_and_temperature_can_be_left_out():
    from trace2skill.analysts.analyze import AnalystConfig
    from trace2skill.llm.config import EmbeddedConfig

    body = _analyst_request(make_trajectory("t1", False, ["lookup"]), AnalystConfig().for_backend(EmbeddedConfig()), temperature=None)
    schema = body["response_format"]["json_schema"]["schema"]
    assert "analysis" not in schema["properties"] and schema["required"][0] == "explained"
    assert schema["$defs"]["LessonDraft"]["properties"]["content"]["maxLength"] == 240
    assert "temperature" not in body and "reasoning_effort" not in body


def test_a_candidates_seed_reaches_the_request_and_seed_zero_is_left_out():
    """``distill --candidates`` tells candidates apart by the seed (trace2skill/run/candidates.py)."""
    from trace2skill.llm.config import OpenAIConfig
    from trace2skill.llm.factory import make_llm

    bodies = []
    for seed in (0, 3):
        with ChatServer() as server:
            make_llm(OpenAIConfig(base_url=server.base_url, model="m", temperature=0.7, seed=seed)).complete([], ErrorAnalysis, 10)
        bodies.append(server.requests[-1])
    assert "seed" not in bodies[0] and bodies[1]["seed"] == 3


def test_reasoning_content_is_never_read_as_the_answer():
    """A reasoning model behind vLLM's parser thinks in ``reasoning_content`` (here a plausible JSON draft): only ``content`` is the answer."""
    traj = make_trajectory("t1", False, ["cancel_reservation"])
    results = []
    for reasoning in (None, '{"analysis": "draft", "explained": false, "failure_causes": [], "lessons": [], "edits": []}'):
        with ChatServer(reasoning=reasoning) as server:
            results.append(analyze(traj, SKILL, OpenAILLM(server.base_url, "m")))
    plain, thinking = results
    assert thinking.status == plain.status == "analyzed" and thinking.lessons and thinking.lessons == plain.lessons


def test_a_truncated_answer_is_asked_again_with_twice_the_room():
    with ChatServer(truncate_first=1) as server:
        completion = OpenAILLM(server.base_url, "m").complete([], ErrorAnalysis, 300)
    assert [b["max_tokens"] for b in server.requests] == [300, 600]
    assert not completion.truncated and completion.usage.calls == 2
    ErrorAnalysis.model_validate_json(completion.text)


def test_an_answer_cut_off_twice_fails_at_once_with_its_reason():
    from trace2skill.llm.base import LLMError
    from trace2skill.llm.structured import generate

    with ChatServer(truncate_first=10) as server, pytest.raises(LLMError) as failed:
        generate(OpenAILLM(server.base_url, "m"), [], ErrorAnalysis, max_tokens=300, retries=2)
    assert [b["max_tokens"] for b in server.requests] == [300, 600]  # no more tries after the one with more room
    assert "cut off at the token limit" in str(failed.value) and failed.value.usage.calls == 2
