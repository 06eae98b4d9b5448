"""The context window an OpenAI-compatible server reports for the model it serves.

vLLM (and Ray Serve LLM, which runs vLLM) lists each served model on ``GET /v1/models``
with its ``max_model_len``: the most tokens a request may hold. The analysts fit their
prompts to the context window, so an engine reached over HTTP takes the server's own
number where it gives one, and the recipe's ``context_tokens`` where it does not (hosted
APIs list no length).
"""

from __future__ import annotations

import logging
import os

import httpx

from trace2skill.llm.config import OpenAIConfig, SamplingConfig

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0


def served_context_tokens(
    base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY"
) -> int | None:
    """``max_model_len`` of ``model`` on ``GET {base_url}/models``; None when the server does
    not answer, does not list the model, or gives no length."""
    key = os.environ.get(api_key_env, "")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(
            f"{base_url.rstrip('/')}/models", headers=headers, timeout=TIMEOUT_S
        )
        entries = response.json().get("data", []) if response.status_code == 200 else []
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        log.info(
            "%s/models gave no model list (%s); the recipe's context_tokens holds",
            base_url,
            type(exc).__name__,
        )
        return None
    for entry in entries:
        length = (
            entry.get("max_model_len")
            if isinstance(entry, dict) and entry.get("id") == model
            else None
        )
        if isinstance(length, int) and length > 0:
            return length
    return None


def with_served_context(engine: SamplingConfig) -> SamplingConfig:
    """``engine`` with ``context_tokens`` set to what its server reports for the model (an
    openai engine: vllm engines are reached as one, ``llm.config.for_replica``); other
    engines, and servers that report nothing, keep the recipe's value."""
    if not isinstance(engine, OpenAIConfig):
        return engine
    reported = served_context_tokens(engine.base_url, engine.model, engine.api_key_env)
    if reported is None or reported == engine.context_tokens:
        return engine
    log.info(
        "%s serves %s with a %d-token context; the recipe said %d",
        engine.base_url,
        engine.model,
        reported,
        engine.context_tokens,
    )
    return engine.model_copy(update={"context_tokens": reported})
