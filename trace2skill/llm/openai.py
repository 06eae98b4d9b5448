"""Any OpenAI-compatible chat endpoint (vLLM, Ray Serve LLM, hosted APIs), JSON-schema constrained."""

from __future__ import annotations

import logging
import os
import time
from functools import lru_cache

import httpx
from pydantic import BaseModel

from trace2skill.llm.base import Completion, Message, Usage
from trace2skill.llm.structured import schema_of

log = logging.getLogger(__name__)

# Retry on these HTTP statuses (rate limits, overload, gateway errors), never by message text.
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAIHTTPError(ConnectionError):
    """A retryable failure of the endpoint, after backoff ran out (a ``ConnectionError``, so callers retry)."""


class OpenAILLM:
    """Chat completions with ``response_format`` = the output model's JSON schema.

    The API key is read from the environment variable named by ``api_key_env`` and is
    never logged or stored elsewhere. ``tokenizer="server"`` counts tokens with the served
    model's tokenizer through the server's ``POST /tokenize`` (vLLM and Ray Serve LLM have
    it); ``"estimate"`` uses ~4 characters per token, for endpoints without it.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        tokenizer: str = "estimate",
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        key = os.environ.get(api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)
        self.tokenizer = tokenizer
        # The prompt around a trajectory is counted again for every call: remember counts.
        self.count_tokens = lru_cache(maxsize=4096)(self._count_tokens)

    def _count_tokens(self, text: str) -> int:
        if self.tokenizer == "server":
            root = self.base_url.removesuffix("/v1")
            response = self._client.post(f"{root}/tokenize", json={"model": self.model, "prompt": text})
            if response.status_code == 200:
                answer = response.json()
                return int(answer.get("count", len(answer.get("tokens", []))))
            if response.status_code not in (404, 405):
                raise OpenAIHTTPError(f"tokenize answered HTTP {response.status_code}")
            log.warning("%s has no /tokenize; counting ~4 characters per token instead", root)
            self.tokenizer = "estimate"
        return max(1, len(text) // 4)

    def request_body(self, messages: list[Message], output: type[BaseModel], max_tokens: int) -> dict:
        return {
            "model": self.model,
            "messages": [m.model_dump() for m in messages],
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": output.__name__, "schema": schema_of(output), "strict": True},
            },
        }

    def complete(self, messages: list[Message], output: type[BaseModel], max_tokens: int) -> Completion:
        body = self.request_body(messages, output, max_tokens)
        for attempt in range(self.max_retries + 1):
            try:
                response = self._client.post("/chat/completions", json=body)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                error = f"{type(exc).__name__}"
            else:
                if response.status_code == 200:
                    return parse_response(response.json())
                if response.status_code not in RETRYABLE_STATUS:
                    raise ValueError(f"endpoint answered HTTP {response.status_code}: {response.text[:200]}")
                error = f"HTTP {response.status_code}"
            if attempt < self.max_retries:
                time.sleep(self.backoff_s * 2**attempt)
        raise OpenAIHTTPError(f"endpoint failed after {self.max_retries + 1} tries: {error}")


def parse_response(payload: dict) -> Completion:
    """Text and usage of a chat-completions response."""
    choice = payload["choices"][0]
    usage = payload.get("usage") or {}
    return Completion(
        text=choice["message"].get("content") or "",
        usage=Usage(prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0), calls=1),
    )
