"""Validated structured generation with a bounded retry, the one entry point analysts use."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from trace2skill.llm.base import LLMClient, LLMError, Message
from trace2skill.schema import Usage

T = TypeVar("T", bound=BaseModel)

# Exceptions a backend raises for a failed call that is worth another attempt.
RETRYABLE = (TimeoutError, ConnectionError, OSError)


def generate(
    client: LLMClient,
    messages: list[Message],
    output: type[T],
    *,
    max_tokens: int = 768,
    retries: int = 2,
    schema: dict | None = None,
) -> tuple[T, Usage]:
    """Ask ``client`` for an instance of ``output``; validate it with pydantic.

    The engine constrains the text to the schema; pydantic still validates it (length
    caps, cross-field rules). On an invalid answer the validation error goes back to
    the model for at most ``retries`` more attempts; then :class:`LLMError` carries
    every attempt's reason. Nothing is repaired by hand. An answer cut off at the token
    limit (``Completion.truncated``: the backend's retry with more room was cut off too)
    ends the attempts at once. ``schema`` narrows what the engine may write (see
    ``LLMClient.complete``).
    """
    usage = Usage()
    attempts: list[str] = []
    convo = list(messages)
    for _ in range(retries + 1):
        try:
            completion = client.complete(convo, output, max_tokens, schema=schema)
        except RETRYABLE as exc:
            attempts.append(f"{type(exc).__name__}: {exc}")
            usage = usage + Usage(calls=1)  # a call made, though nothing came back to count
            continue
        usage = usage + completion.usage
        if completion.truncated:  # the backend already asked again with more room: more tries would be cut off as well
            attempts.append(f"answer cut off at the token limit ({max_tokens} tokens, also with twice the room)")
            break
        try:
            return output.model_validate_json(completion.text), usage
        except ValidationError as exc:
            reason = _short_validation_error(exc, completion.text)
            attempts.append(reason)
            convo = [
                *messages,
                Message(role="assistant", content=completion.text[:2000]),
                Message(role="user", content=f"That answer was invalid: {reason}. Answer again with JSON that fits the schema."),
            ]
    raise LLMError(f"no valid {output.__name__} after {len(attempts)} attempts: {attempts[-1]}", attempts, usage)


def _short_validation_error(exc: ValidationError, text: str) -> str:
    if not text.strip():
        return "empty answer"
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "answer"
    return f"{len(errors)} validation error(s), first at {where}: {first.get('msg', '')}"


def schema_of(output: type[BaseModel]) -> dict:
    """The JSON schema handed to engines for constrained decoding.

    Strict form: every property is required and no other is allowed (what OpenAI's
    strict mode demands), and a grammar built from it makes a small model write every
    field in order instead of stopping early.
    """
    return _strict(output.model_json_schema())


def _strict(node):
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node["required"] = list(node["properties"])
            node["additionalProperties"] = False
        for value in node.values():
            _strict(value)
    elif isinstance(node, list):
        for value in node:
            _strict(value)
    return node

