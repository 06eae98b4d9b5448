"""Any OpenAI-compatible chat endpoint (vLLM, Ray Serve LLM, hosted APIs), JSON-schema constrained."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import threading
from collections.abc import Coroutine
from functools import lru_cache
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from trace2skill.llm.base import Completion, Message
from trace2skill.llm.structured import schema_of
from trace2skill.schema import Usage

log = logging.getLogger(__name__)

T = TypeVar("T")

# Retry on these HTTP statuses (rate limits, overload, gateway errors), never by message text.
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
# A server's Retry-After is honoured up to this many seconds.
MAX_RETRY_AFTER_S = 60.0


class OpenAIHTTPError(ConnectionError):
    """A retryable failure of the endpoint, after backoff ran out (a ``ConnectionError``, so callers retry)."""


class OpenAILLM:
    """Chat completions with ``response_format`` = the output model's JSON schema.

    Requests run on one asyncio loop per client (its own thread) through an
    ``httpx.AsyncClient``, with at most ``max_concurrency`` in flight; ``complete`` is the
    blocking form the analysts call from their threads, ``acomplete`` the coroutine.
    Retryable failures back off exponentially with full jitter (or as long as the server's
    ``Retry-After`` says) without holding a slot.

    The API key is read from the environment variable named by ``api_key_env`` and is
    never logged or stored elsewhere. ``tokenizer="server"`` counts tokens with the served
    model's tokenizer through the server's ``POST /tokenize`` (vLLM and Ray Serve LLM have
    it); ``"estimate"`` uses ~4 characters per token, for endpoints without it.

    Sampling goes into every request as the endpoint names it: ``temperature`` (None: not
    sent, for models that refuse it), ``reasoning_effort`` (OpenAI reasoning models, vLLM
    with a reasoning parser), ``chat_template_kwargs`` (vLLM, e.g. ``{"enable_thinking":
    true}`` for Qwen3-style templates) and ``extra_body`` (any other field, e.g. vLLM's
    ``top_k``).
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
        max_concurrency: int = 64,
        temperature: float | None = 0.0,
        reasoning_effort: str | None = None,
        chat_template_kwargs: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.sampling: dict[str, Any] = {
            key: value
            for key, value in (("temperature", temperature), ("reasoning_effort", reasoning_effort), ("chat_template_kwargs", chat_template_kwargs))
            if value is not None
        }
        self.sampling.update(extra_body or {})
        self.model = model
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.tokenizer = tokenizer
        key = os.environ.get(api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        limits = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="openai-client", daemon=True).start()

        async def start() -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
            # Both belong to the client's loop, so they are made on it.
            return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout_s, limits=limits), asyncio.Semaphore(max_concurrency)

        self._client, self._slots = self._run(start())
        # The prompt around a trajectory is counted again for every call: remember counts.
        self.count_tokens = lru_cache(maxsize=4096)(self._count_tokens)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        """Close the connections and stop the client's loop."""
        self._run(self._client.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _count_tokens(self, text: str) -> int:
        if self.tokenizer == "server":
            root = self.base_url.removesuffix("/v1")
            response = self._run(self._post(f"{root}/tokenize", {"model": self.model, "prompt": text}))
            if response.status_code == 200:
                answer = response.json()
                return int(answer.get("count", len(answer.get("tokens", []))))
            if response.status_code not in (404, 405):
                raise OpenAIHTTPError(f"tokenize answered HTTP {response.status_code}")
            log.warning("%s has no /tokenize; counting ~4 characters per token instead", root)
            self.tokenizer = "estimate"
        return max(1, len(text) // 4)

    def request_body(self, messages: list[Message], output: type[BaseModel], max_tokens: int, schema: dict | None = None) -> dict:
        return {
            "model": self.model,
            "messages": [m.model_dump() for m in messages],
            "max_tokens": max_tokens,
            **self.sampling,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": output.__name__, "schema": schema or schema_of(output), "strict": True},
            },
        }

    def complete(self, messages: list[Message], output: type[BaseModel], max_tokens: int, schema: dict | None = None) -> Completion:
        return self._run(self.acomplete(messages, output, max_tokens, schema))

    async def acomplete(self, messages: list[Message], output: type[BaseModel], max_tokens: int, schema: dict | None = None) -> Completion:
        """One chat completion; must run on this client's loop (``complete`` puts it there)."""
        response = await self._post("/chat/completions", self.request_body(messages, output, max_tokens, schema))
        if response.status_code != 200:
            raise ValueError(f"endpoint answered HTTP {response.status_code}: {response.text[:200]}")
        return parse_response(response.json())

    def complete_tools(self, messages: list[Message], tools: list[dict], max_tokens: int) -> Completion:
        """One chat completion that must call one of ``tools``; the call comes back as the
        action JSON ``{"action": {"tool": NAME, ...arguments}}`` (agentic analyst)."""
        body = {"model": self.model, "messages": [m.model_dump() for m in messages], "max_tokens": max_tokens, "temperature": 0.0, "tools": tools, "tool_choice": "required"}
        response = self._run(self._post("/chat/completions", body))
        if response.status_code != 200:
            raise ValueError(f"endpoint answered HTTP {response.status_code}: {response.text[:200]}")
        return parse_tool_response(response.json())

    async def _post(self, url: str, body: dict) -> httpx.Response:
        """POST ``body``; the answer of the first try that is not a retryable failure."""
        for attempt in range(self.max_retries + 1):
            wait = None
            async with self._slots:
                try:
                    response = await self._client.post(url, json=body)
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    error = type(exc).__name__
                else:
                    if response.status_code not in RETRYABLE_STATUS:
                        return response
                    error = f"HTTP {response.status_code}"
                    wait = retry_after_s(response)
            if attempt < self.max_retries:
                await asyncio.sleep(wait if wait is not None else random.uniform(0, self.backoff_s * 2**attempt))
        raise OpenAIHTTPError(f"endpoint failed after {self.max_retries + 1} tries: {error}")


def retry_after_s(response: httpx.Response) -> float | None:
    """The seconds a ``Retry-After`` header asks to wait (capped), or None without a usable one."""
    try:
        return min(max(float(response.headers["Retry-After"]), 0.0), MAX_RETRY_AFTER_S)
    except (KeyError, ValueError):
        return None


def parse_response(payload: dict) -> Completion:
    """Text and usage of a chat-completions response."""
    choice = payload["choices"][0]
    usage = payload.get("usage") or {}
    return Completion(
        text=choice["message"].get("content") or "",
        usage=Usage(prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0), calls=1),
    )


def action_from_tool_call(name: str, arguments: str) -> str:
    """The action JSON (``{"action": {"tool": NAME, ...arguments}}``) a tool call stands for (arguments that are not a JSON object are kept
    as they are, so validation reports them to the model)."""
    try:
        args = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        return arguments
    if not isinstance(args, dict):
        return arguments
    return json.dumps({"action": {"tool": name, **{k: v for k, v in args.items() if k != "tool"}}})


def parse_tool_response(payload: dict) -> Completion:
    """The first tool call of a chat-completions response as action JSON (its text when it
    made none, so the caller's validation reports that), plus usage."""
    completion = parse_response(payload)
    calls = payload["choices"][0]["message"].get("tool_calls") or []
    if not calls:
        return completion
    function = calls[0].get("function") or {}
    return completion.model_copy(update={"text": action_from_tool_call(str(function.get("name", "")), function.get("arguments") or "")})
