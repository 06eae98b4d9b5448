"""One configuration per engine (plain pydantic models, picklable to Serve replicas), told
apart by their ``backend`` field: a recipe's ``backend: {backend: openai, ...}`` section
holds only the fields of the engine it names. ``trace2skill.llm.factory`` builds the client."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

DEFAULT_BACKEND = "embedded"  # a backend section that names no engine
# How a fake call fails: cut-off JSON, not JSON, JSON of the wrong shape, nothing, an error, a time-out.
# Thinking room of a request that asks a reasoning model to think, unless the recipe sets it.
DEFAULT_REASONING_TOKENS = 4096
FakeFailure = Literal["truncated", "invalid_json", "schema", "empty", "exception", "timeout"]


class SamplingConfig(BaseModel):
    """What every engine is given: the context window and how to sample."""

    model_config = ConfigDict(extra="forbid")

    context_tokens: int = Field(8192, ge=256, description="Model context window: the analysts fit their prompts and the merges their answers to it.")
    temperature: float | None = Field(
        0.0, ge=0.0, le=2.0, description="Sampling temperature (0: greedy). openai backend: null leaves it out, for models that refuse it."
    )
    seed: int = Field(
        0, ge=0, description="Sampling seed: llama.cpp's for embedded; sent as the request's `seed` by openai/vllm when not 0. With temperature > 0, another seed gives another sample."
    )

    def thinking_tokens(self) -> int:
        """The room each request gives the model's reasoning, apart from the answer's (none here)."""
        return 0

    def answer_context_tokens(self) -> int:
        """The context the prompt and the answer share: the window less the reasoning room."""
        return self.context_tokens - self.thinking_tokens()


class RequestConfig(SamplingConfig):
    """The request fields of engines reached over the OpenAI API (openai, vllm)."""

    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = Field(
        None, description="How long a reasoning model thinks before answering (OpenAI reasoning models; vLLM with a reasoning parser)."
    )
    chat_template_kwargs: dict[str, Any] | None = Field(
        None, description="Arguments for the served model's chat template, e.g. {enable_thinking: true} for Qwen3-style thinking."
    )
    extra_body: dict[str, Any] = Field(default_factory=dict, description="Other request fields sent as they are, e.g. {top_p: 0.95, top_k: 20}.")
    reasoning_tokens: int | None = Field(
        None,
        ge=0,
        description=f"Room a reasoning model thinks in, added to every request's max_tokens on top of the answer's (servers count thinking against max_tokens) and kept out of the prompt's room; unset: {DEFAULT_REASONING_TOKENS} when reasoning_effort or chat_template_kwargs.enable_thinking asks for thinking, else 0.",
    )
    max_concurrency: int = Field(64, ge=1, description="Requests one replica has in flight to the endpoint at once (the rest wait).")

    @model_validator(mode="after")
    def _room_left(self) -> RequestConfig:
        if self.answer_context_tokens() < 256:
            raise ValueError(f"reasoning room of {self.thinking_tokens()} tokens leaves under 256 of context_tokens {self.context_tokens} for the prompt and answer")
        return self

    def thinking_tokens(self) -> int:
        """The room each request gives the model's reasoning, apart from the answer's."""
        if self.reasoning_tokens is not None:
            return self.reasoning_tokens
        thinks = self.reasoning_effort is not None or bool((self.chat_template_kwargs or {}).get("enable_thinking"))
        return DEFAULT_REASONING_TOKENS if thinks else 0

    def request_fields(self) -> dict[str, Any]:
        """The sampling fields every request carries, named as the endpoint names them: the
        seed only when not 0, None values left out (for models that refuse them), ``extra_body``
        last (it may set any other field, e.g. top_p or top_k)."""
        fields = {"temperature": self.temperature, "seed": self.seed or None, "reasoning_effort": self.reasoning_effort, "chat_template_kwargs": self.chat_template_kwargs}
        return {k: v for k, v in fields.items() if v is not None} | self.extra_body


class EmbeddedConfig(SamplingConfig):
    """llama.cpp in the analyst replica's process, on CPU."""

    backend: Literal["embedded"] = "embedded"
    model_path: str | None = Field(None, description="GGUF file for the embedded backend; default: Gemma 3 270M from PyPI.")
    threads: int | None = Field(None, description="CPU threads for the embedded backend (default: llama.cpp's choice).")


class OpenAIConfig(RequestConfig):
    """Any OpenAI-compatible HTTP endpoint (vLLM, Ray Serve LLM, a hosted API)."""

    backend: Literal["openai"] = "openai"
    base_url: str = Field(description="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1.")
    model: str = Field(description="Model name served at base_url.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key.")
    tokenizer: Literal["estimate", "server"] = Field(
        "estimate", description="Count tokens with the server's POST /tokenize (vLLM, Ray Serve LLM) or estimate ~4 chars/token."
    )


class VllmEngine(BaseModel):
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


class VllmConfig(RequestConfig):
    """A vLLM engine the pipeline deploys with Ray Serve LLM; analyst replicas reach it as openai."""

    backend: Literal["vllm"] = "vllm"
    vllm: VllmEngine = Field(description="The vLLM engine to deploy (model_source, engine_kwargs, replicas, ...).")

    def for_replica(self) -> OpenAIConfig:
        """What an analyst replica connects to: the engine's OpenAI route, tokens counted by the server."""
        own = self.model_dump(exclude={"backend", "vllm"})
        return OpenAIConfig(**own, base_url=self.vllm.base_url(), model=self.vllm.served_name, tokenizer="server")


class FakeConfig(SamplingConfig):
    """A deterministic stand-in for tests and benchmarks: answers from the prompt, with injected latency and failures."""

    backend: Literal["fake"] = "fake"
    latency_s: float = Field(0.0, ge=0.0, description="Seconds slept per call.")
    latency_per_token_s: float = Field(0.0, ge=0.0, description="Seconds slept per completion token.")
    failure_rate: float = Field(0.0, ge=0.0, le=1.0, description="Share of calls that fail.")
    failures: list[FakeFailure] = Field(default_factory=lambda: ["truncated"], min_length=1, description="The kinds of failure injected, chosen per call.")


# Each engine's config by the name its ``backend`` field holds.
ENGINE_CONFIGS: dict[str, type[SamplingConfig]] = {c.model_fields["backend"].default: c for c in (EmbeddedConfig, OpenAIConfig, VllmConfig, FakeConfig)}


def backend_name(value: Any) -> str:
    """The engine a backend section (a mapping or a config) names; ``embedded`` when it names none."""
    name = value.get("backend") if isinstance(value, dict) else getattr(value, "backend", None)
    return name or DEFAULT_BACKEND


EngineConfig = Annotated[
    Union[
        Annotated[EmbeddedConfig, Tag("embedded")],
        Annotated[OpenAIConfig, Tag("openai")],
        Annotated[VllmConfig, Tag("vllm")],
        Annotated[FakeConfig, Tag("fake")],
    ],
    Discriminator(backend_name, custom_error_type="backend", custom_error_message=f"backend must be one of {', '.join(ENGINE_CONFIGS)}"),
]


def for_replica(engine: SamplingConfig) -> SamplingConfig:
    """The engine an analyst replica calls: a vllm engine is reached over its OpenAI route, the others as they are."""
    return engine.for_replica() if isinstance(engine, VllmConfig) else engine


def retarget(section: dict[str, Any], backend: str) -> dict[str, Any]:
    """A backend section switched to engine ``backend``: the fields that engine has stay, the other engine's go
    (a recipe's openai section with ``--backend fake`` keeps its context window and sampling)."""
    config = ENGINE_CONFIGS.get(backend)
    if config is None:
        return {**section, "backend": backend}  # unknown: validation says which exist
    return {k: v for k, v in section.items() if k in config.model_fields} | {"backend": backend}
