"""The openai backend against a real HTTP server on loopback."""

import pytest

from trace2skill.analysts.analyze import analyze
from trace2skill.analysts.models import ErrorAnalysis
from trace2skill.llm.openai import OpenAIHTTPError, OpenAILLM
from tests.conftest import make_trajectory
from tests.llm.openai_server import ChatServer

SKILL = "---\nname: s\ndescription: d\n---\n# S\n\n## Workflow\n\n- a\n\n## Pitfalls\n\n- b\n"


def test_analysis_over_http_with_schema_and_key(monkeypatch):
    monkeypatch.setenv("TEST_KEY", "sk-test-123")
    with ChatServer() as server:
        llm = OpenAILLM(server.base_url, "served-model", api_key_env="TEST_KEY")
        result = analyze(make_trajectory("t1", False, ["cancel_reservation"]), SKILL, llm)
    assert result.status == "analyzed" and result.usage.calls == 1 and result.usage.prompt_tokens > 0
    body = server.requests[0]
    assert body["model"] == "served-model"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"][0] == "explained"
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
    from trace2skill.llm.factory import BackendConfig

    config = BackendConfig(backend="vllm", vllm={"model_source": "Qwen/Qwen2.5-0.5B-Instruct"})
    assert config.for_replica().tokenizer == "server"
