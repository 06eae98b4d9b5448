"""Build an LLM client from its engine's configuration (``trace2skill.llm.config``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from trace2skill.llm.base import LLMClient
from trace2skill.llm.config import EmbeddedConfig, FakeConfig, OpenAIConfig, SamplingConfig, VllmConfig


class Engine(NamedTuple):
    """A backend: its configuration and how a client is made from it."""

    config: type[SamplingConfig]
    client: Callable[..., LLMClient]


def _embedded(config: EmbeddedConfig) -> LLMClient:
    from trace2skill.llm.embedded import EmbeddedLLM  # llama.cpp: only where the engine runs

    return EmbeddedLLM(config.model_path, context_tokens=config.context_tokens, threads=config.threads, seed=config.seed, temperature=config.temperature or 0.0)


def _openai(config: OpenAIConfig) -> LLMClient:
    from trace2skill.llm.openai import OpenAILLM

    return OpenAILLM(
        config.base_url,
        config.model,
        api_key_env=config.api_key_env,
        tokenizer=config.tokenizer,
        max_concurrency=config.max_concurrency,
        settings=config,
    )


def _vllm(config: VllmConfig) -> LLMClient:
    raise ValueError("the vllm backend is deployed by the pipeline; replicas use llm.config.for_replica()")


def _fake(config: FakeConfig) -> LLMClient:
    from trace2skill.llm.fake import FakeLLM

    return FakeLLM(latency_s=config.latency_s, latency_per_token_s=config.latency_per_token_s, failure_rate=config.failure_rate, failures=tuple(config.failures))


ENGINES: dict[str, Engine] = {
    "embedded": Engine(EmbeddedConfig, _embedded),
    "openai": Engine(OpenAIConfig, _openai),
    "vllm": Engine(VllmConfig, _vllm),
    "fake": Engine(FakeConfig, _fake),
}


def make_llm(config: SamplingConfig) -> LLMClient:
    """The client of the engine ``config`` configures."""
    engine = ENGINES[config.backend]
    if not isinstance(config, engine.config):
        raise TypeError(f"a {config.backend} backend needs a {engine.config.__name__}, not a {type(config).__name__}")
    return engine.client(config)
