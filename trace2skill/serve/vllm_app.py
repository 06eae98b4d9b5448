"""The vllm backend: a vLLM engine deployed with Ray Serve LLM (``ray.serve.llm``).

Why this and not a vLLM engine inside our own ``Analyst`` replica: Ray Serve LLM runs
vLLM's async engine with continuous batching across every concurrent request, scales
engine replicas on GPU nodes with Serve autoscaling, and exposes the OpenAI API whose
``response_format`` JSON schema vLLM enforces with its structured-output backend. Our
analysts then reach it with the same ``openai`` client used for any endpoint, so there
is one structured-output path to test, and the engine never blocks an analyst thread.
``ray.serve.llm`` needs vLLM installed (``pip install trace2skill[vllm]``, GPU nodes).
"""

from __future__ import annotations

from typing import Any

from ray import serve

from trace2skill.llm.config import VllmEngine

APP_NAME = "trace2skill-llm"


def llm_config_kwargs(cfg: VllmEngine) -> dict[str, Any]:
    """Keyword arguments of ``ray.serve.llm.LLMConfig`` for ``cfg`` (plain data, testable without vLLM)."""
    engine = {"tensor_parallel_size": cfg.tensor_parallel_size, **cfg.engine_kwargs}
    kwargs: dict[str, Any] = {
        "model_loading_config": {"model_id": cfg.served_name, "model_source": cfg.model_source},
        "engine_kwargs": engine,
        "deployment_config": {
            "autoscaling_config": {
                "min_replicas": cfg.min_replicas,
                "max_replicas": cfg.max_replicas,
                "target_ongoing_requests": cfg.target_ongoing_requests,
            }
        },
    }
    if cfg.accelerator_type:
        kwargs["accelerator_type"] = cfg.accelerator_type
    return kwargs


def deploy_vllm(cfg: VllmEngine) -> str:
    """Deploy the OpenAI-compatible vLLM app (HTTP proxy on every node); return its base URL."""
    from ray.serve.llm import LLMConfig, build_openai_app

    serve.start(proxy_location="EveryNode", http_options={"host": "0.0.0.0", "port": cfg.http_port})
    app = build_openai_app({"llm_configs": [LLMConfig(**llm_config_kwargs(cfg))]})
    serve.run(app, name=APP_NAME, route_prefix=cfg.route_prefix)
    return cfg.base_url()
