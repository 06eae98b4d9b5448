"""Build an LLM backend from its configuration (a plain pydantic model, picklable to Serve replicas)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from trace2skill.llm.base import LLMClient

Backend = Literal["embedded", "openai", "vllm", "fake"]
# How a fake call fails: cut-off JSON, not JSON, JSON of the wrong shape, nothing, an error, a time-out.
FakeFailure = Literal["truncated", "invalid_json", "schema", "empty", "exception", "timeout"]


class VllmConfig(BaseModel):
    """A vLLM engine served by Ray Serve LLM inside the run's Ray cluster (GPU nodes)."""

    model_config = ConfigDict(extra="forbid")

    model_source: str = Field(description="Hugging Face id or local path of the model weights.")
    model_id: str | None = Field(None, description="Name the model is served under (default: model_source).")
    engine_kwargs: dict[str, Any] = Field(
        default_factory=lambda: {"enable_prefix_caching": True, "max_model_len": 16384},
        description="vLLM engine arguments; prefix caching reuses S0 and shared policies across calls.",
    )
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per engine replica.")
    accelerator_type: str | None = Field(None, description="Ray accelerator type to schedule on, e.g. H100.")
    min_replicas: int = Field(1, ge=0, description="Autoscaling lower bound of engine replicas.")
    max_replicas: int = Field(1, ge=1, description="Autoscaling upper bound of engine replicas.")
    target_ongoing_requests: int = Field(64, ge=1, description="Requests per replica the autoscaler aims for.")
    http_port: int = Field(8000, description="Port of the Serve HTTP proxy on every node.")
    route_prefix: str = Field("/trace2skill-llm", description="Route of the OpenAI-compatible app.")

    @property
    def served_name(self) -> str:
        return self.model_id or self.model_source

    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}{self.route_prefix}/v1"


class BackendConfig(BaseModel):
    """Which engine answers the analysts, and how it is reached."""

    model_config = ConfigDict(extra="forbid")

    backend: Backend = Field("embedded", description="embedded (llama.cpp, CPU), openai (HTTP endpoint), vllm (Ray Serve LLM on GPUs) or fake (tests).")
    model_path: str | None = Field(None, description="GGUF file for the embedded backend; default: Gemma 3 270M from PyPI.")
    context_tokens: int = Field(8192, description="Context window given to the model.")
    threads: int | None = Field(None, description="CPU threads for the embedded backend (default: llama.cpp's choice).")
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1.")
    model: str | None = Field(None, description="Model name served at base_url.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key.")
    tokenizer: Literal["estimate", "server"] = Field(
        "estimate", description="openai backend: count tokens with the server's POST /tokenize (vLLM, Ray Serve LLM) or estimate ~4 chars/token."
    )
    max_concurrency: int = Field(
        64, ge=1, description="openai backend: requests one replica has in flight to the endpoint at once (the rest wait)."
    )
    temperature: float | None = Field(
        0.0, ge=0.0, le=2.0, description="Sampling temperature (0: greedy). openai backend: null leaves it out, for models that refuse it."
    )
    seed: int = Field(
        0, ge=0, description="Sampling seed: llama.cpp's for embedded; sent as the request's `seed` by openai/vllm when not 0. With temperature > 0, another seed gives another sample."
    )
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = Field(
        None, description="openai/vllm: how long a reasoning model thinks before answering (OpenAI reasoning models; vLLM with a reasoning parser)."
    )
    chat_template_kwargs: dict[str, Any] | None = Field(
        None, description="openai/vllm: arguments for the served model's chat template, e.g. {enable_thinking: true} for Qwen3-style thinking."
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="openai/vllm: other request fields sent as they are, e.g. {top_p: 0.95, top_k: 20}."
    )
    fake_latency_s: float = Field(0.0, ge=0.0, description="Fake backend: seconds slept per call.")
    fake_latency_per_token_s: float = Field(0.0, ge=0.0, description="Fake backend: seconds slept per completion token.")
    fake_failure_rate: float = Field(0.0, ge=0.0, le=1.0, description="Fake backend: share of calls that fail.")
    fake_failures: list[FakeFailure] = Field(
        default_factory=lambda: ["truncated"], min_length=1, description="Fake backend: the kinds of failure injected, chosen per call."
    )
    vllm: VllmConfig | None = Field(None, description="The vLLM engine to deploy (vllm backend).")

    def for_replica(self) -> BackendConfig:
        """What an analyst replica connects to: a vllm backend is reached over its OpenAI route."""
        if self.backend != "vllm":
            return self
        if self.vllm is None:
            raise ValueError("the vllm backend needs a 'vllm' section (model_source, ...) in the recipe")
        update = {"backend": "openai", "base_url": self.vllm.base_url(), "model": self.vllm.served_name, "tokenizer": "server"}
        return self.model_copy(update=update)


def make_llm(config: BackendConfig) -> LLMClient:
    """Instantiate the backend named by ``config.backend``."""
    if config.backend == "fake":
        from trace2skill.llm.fake import FakeLLM

        return FakeLLM(
            latency_s=config.fake_latency_s,
            latency_per_token_s=config.fake_latency_per_token_s,
            failure_rate=config.fake_failure_rate,
            failures=tuple(config.fake_failures),
        )
    if config.backend == "vllm":
        raise ValueError("the vllm backend is deployed by the pipeline; replicas use BackendConfig.for_replica()")
    if config.backend == "openai":
        from trace2skill.llm.openai import OpenAILLM

        if not config.base_url or not config.model:
            raise ValueError("the openai backend needs --base-url and --model")
        return OpenAILLM(
            config.base_url,
            config.model,
            api_key_env=config.api_key_env,
            tokenizer=config.tokenizer,
            max_concurrency=config.max_concurrency,
            temperature=config.temperature,
            reasoning_effort=config.reasoning_effort,
            chat_template_kwargs=config.chat_template_kwargs,
            extra_body={**config.extra_body, "seed": config.seed} if config.seed else config.extra_body,
        )
    from trace2skill.llm.embedded import EmbeddedLLM

    return EmbeddedLLM(config.model_path, context_tokens=config.context_tokens, threads=config.threads, seed=config.seed, temperature=config.temperature or 0.0)
