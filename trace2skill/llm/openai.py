"""Any OpenAI-compatible chat endpoint (vLLM, Ray Serve LLM, hosted APIs), JSON-schema constrained."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import threading
from collections.abc import Callable, Coroutine
from functools import lru_cache
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from trace2skill.llm.base import Completion, Message
from trace2skill.llm.config import RequestConfig
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

    ``settings`` (the engine's ``RequestConfig``) goes into every request, structured or
    tool-calling alike (``RequestConfig.request_fields``: temperature, seed,
    reasoning_effort, chat_template_kwargs, extra_body), and every request's ``max_tokens``
    is the answer's budget plus the reasoning room (``RequestConfig.thinking_tokens``), since
    servers count thinking against it. Only the message's ``content`` (or tool call) is the
    answer: a ``reasoning_content`` returned apart is never read. An answer cut off at the
    limit (``finish_reason: length``) is asked once more with twice the answer's room; cut
    off again, it comes back marked ``truncated``.
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
        settings: RequestConfig | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.settings = settings or RequestConfig()
        self.sampling = self.settings.request_fields()
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

    def request_body(self, messages: list[Message], max_tokens: int, **fields: Any) -> dict:
        """The chat-completions body: the settings' fields, room for the answer and the reasoning, then ``fields``."""
        return {
            "model": self.model,
            "messages": [m.model_dump() for m in messages],
            "max_tokens": max_tokens + self.settings.thinking_tokens(),
            **self.sampling,
            **fields,
        }

    def complete(self, messages: list[Message], output: type[BaseModel], max_tokens: int, schema: dict | None = None) -> Completion:
        return self._run(self.acomplete(messages, output, max_tokens, schema))

    async def acomplete(self, messages: list[Message], output: type[BaseModel], max_tokens: int, schema: dict | None = None) -> Completion:
        """One chat completion; must run on this client's loop (``complete`` puts it there)."""
        response_format = {"type": "json_schema", "json_schema": {"name": output.__name__, "schema": schema or schema_of(output), "strict": True}}
        return await self._chat(messages, max_tokens, parse_response, response_format=response_format)

    def complete_tools(self, messages: list[Message], tools: list[dict], max_tokens: int) -> Completion:
        """One chat completion that must call one of ``tools``; the call comes back as the
        action JSON ``{"action": {"tool": NAME, ...arguments}}`` (agentic analyst)."""
        return self._run(self._chat(messages, max_tokens, parse_tool_response, tools=tools, tool_choice="required"))

    async def _chat(self, messages: list[Message], max_tokens: int, parse: Callable[[dict], Completion], **fields: Any) -> Completion:
        """A chat completion parsed by ``parse``; cut off at the limit, asked once more with twice the answer's room."""
        completion = await self._ask(self.request_body(messages, max_tokens, **fields), parse)
        if not completion.truncated:
            return completion
        log.info("answer cut off at %d tokens; asking again with %d", max_tokens, 2 * max_tokens)
        try:
            again = await self._ask(self.request_body(messages, 2 * max_tokens, **fields), parse)
        except ValueError:  # e.g. the larger room exceeds the context: the first answer stands
            return completion.model_copy(update={"usage": completion.usage + Usage(calls=1)})
        return again.model_copy(update={"usage": completion.usage + again.usage})

    async def _ask(self, body: dict, parse: Callable[[dict], Completion]) -> Completion:
        response = await self._post("/chat/completions", body)
        if response.status_code != 200:
            raise ValueError(f"endpoint answered HTTP {response.status_code}: {response.text[:200]}")
        return parse(response.json())

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
    """Text and usage of a chat-completions response: the message's ``content`` only (a
    ``reasoning_content`` beside it is the model's thinking, not its answer)."""
    choice = payload["choices"][0]
    usage = payload.get("usage") or {}
    return Completion(
        text=choice["message"].get("content") or "",
        usage=Usage(prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0), calls=1),
        truncated=choice.get("finish_reason") == "length",
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
