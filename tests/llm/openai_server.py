"""A minimal OpenAI-compatible chat-completions server on loopback, for tests.

It answers with the fake LLM's responders (chosen by the ``response_format`` schema
name; ``responders`` replaces some of them with a test's script), so the ``openai`` backend is tested over real HTTP, not with a mocked client.
A request with ``tools`` gets the fake agentic analyst's action back as a tool call.
It can answer the first requests with an error status to exercise retries, take
``latency_s`` per answer or hold answers until ``gate`` requests are in (it records the
most requests it held at once), and counts
tokens on ``POST /tokenize`` and lists the model (``m``) with its ``max_model_len`` on
``GET /v1/models``, as vLLM's server does. As a reasoning model behind vLLM's
reasoning parser, it can return ``reasoning`` as ``reasoning_content`` beside the answer,
and cut off its first ``truncate_first`` answers at the limit (``finish_reason: length``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from trace2skill.llm.fake import RESPONDERS


class ChatServer:
    def __init__(
        self,
        fail_first: int = 0,
        fail_status: int = 503,
        tokenize: bool = True,
        latency_s: float = 0.0,
        retry_after: str | None = None,
        gate: int = 0,
        responders: dict[str, Callable[[str], dict]] | None = None,
        reasoning: str | None = None,
        truncate_first: int = 0,
        max_model_len: int | None = None,
    ):
        self.reasoning = reasoning
        self.truncate_first = truncate_first
        self.answered = 0
        self.responders = {**RESPONDERS, **(responders or {})}
        self.fail_first = fail_first
        self.latency_s = latency_s
        self.retry_after = retry_after  # Retry-After header sent with the failures
        self.in_flight = 0
        self.peak_in_flight = 0
        self.gate = gate
        self.lock = threading.Condition()
        self.tokenize = tokenize  # answer POST /tokenize (one token per word), as vLLM's server does
        self.fail_status = fail_status
        self.requests: list[dict] = []
        self.max_model_len = max_model_len  # listed on GET /v1/models, as vLLM does (None: no length)
        self.headers: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                if self.path != "/v1/models":
                    return self._send(404, {"error": "not found"})
                entry = {"id": "m", "object": "model"} | ({"max_model_len": server.max_model_len} if server.max_model_len else {})
                return self._send(200, {"object": "list", "data": [entry]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                if self.path == "/tokenize" and server.tokenize:
                    return self._send(200, {"count": len(body["prompt"].split()), "max_model_len": 8192})
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": "not found"})
                if len(server.requests) <= server.fail_first:
                    return self._send(server.fail_status, {"error": "busy"}, server.retry_after)
                with server.lock:
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                    server.lock.notify_all()
                    server.lock.wait_for(lambda: server.peak_in_flight >= server.gate, timeout=10)
                time.sleep(server.latency_s)
                with server.lock:
                    server.in_flight -= 1
                prompt = "\n".join(m["content"] for m in body["messages"])
                with server.lock:
                    server.answered += 1
                    cut = server.answered <= server.truncate_first
                if "tools" in body:  # tool calling: the fake analyst's action as a tool call
                    action = RESPONDERS["AnalystAction"](prompt)["action"]
                    arguments = {k: v for k, v in action.items() if k != "tool"}
                    answer = json.dumps(action)
                    arguments = json.dumps(arguments)
                    message = {"role": "assistant", "content": None, "tool_calls": [
                        {"id": "call_0", "type": "function", "function": {"name": action["tool"], "arguments": arguments[: len(arguments) // 2] if cut else arguments}}]}
                else:
                    answer = json.dumps(server.responders[body["response_format"]["json_schema"]["name"]](prompt))
                    message = {"role": "assistant", "content": answer[: len(answer) // 2] if cut else answer}
                if server.reasoning is not None:
                    message["reasoning_content"] = server.reasoning
                self._send(200, {
                    "id": "x", "object": "chat.completion", "model": body["model"],
                    "choices": [{"index": 0, "message": message, "finish_reason": "length" if cut else "stop"}],
                    "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(answer) // 4, "total_tokens": 0},
                })

            def _send(self, status: int, payload: dict, retry_after: str | None = None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
