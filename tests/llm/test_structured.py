import pytest
from pydantic import BaseModel, Field

from trace2skill.llm.base import Completion, LLMError, Message
from trace2skill.llm.structured import generate
from trace2skill.schema import Usage


class Answer(BaseModel):
    word: str = Field(max_length=5)


class Scripted:
    """Returns the scripted texts in order and records the prompts it saw."""

    def __init__(self, *texts: str | Exception):
        self.texts = list(texts)
        self.seen: list[list[Message]] = []

    def count_tokens(self, text: str) -> int:
        return len(text)

    def complete(self, messages, output, max_tokens, schema=None):
        self.seen.append(messages)
        item = self.texts.pop(0)
        if isinstance(item, Exception):
            raise item
        return Completion(text=item, usage=Usage(prompt_tokens=1, completion_tokens=1, calls=1))


def test_valid_first_time():
    answer, usage = generate(Scripted('{"word": "hi"}'), [Message(role="user", content="q")], Answer)
    assert answer.word == "hi" and usage.calls == 1


def test_invalid_then_valid_feeds_the_error_back():
    llm = Scripted('{"word": "toolong"}', '{"word": "ok"}')
    answer, usage = generate(llm, [Message(role="user", content="q")], Answer)
    assert answer.word == "ok" and usage.calls == 2
    assert "invalid" in llm.seen[1][-1].content and "word" in llm.seen[1][-1].content


def test_bounded_retries_then_error_with_every_attempt():
    llm = Scripted("", "{", TimeoutError("slow"))
    with pytest.raises(LLMError) as info:
        generate(llm, [Message(role="user", content="q")], Answer, retries=2)
    assert len(info.value.attempts) == 3
    assert info.value.attempts[0] == "empty answer"
    assert "TimeoutError" in info.value.attempts[2]
    assert info.value.usage.calls == 3  # the timed-out call counts as a call, with no tokens


def test_non_retryable_error_propagates():
    with pytest.raises(KeyError):
        generate(Scripted(KeyError("bug")), [Message(role="user", content="q")], Answer)
