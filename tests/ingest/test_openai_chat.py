from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from trace2skill.ingest import RecordError, read_file
from trace2skill.ingest.openai_chat import messages_to_steps
from trace2skill.schema import (
    QUARANTINE_SCHEMA,
    TRAJECTORY_SCHEMA,
    QuarantinedRecord,
    Trajectory,
    stable_id,
    to_table,
)

from .helpers import DATA, split

MIXED = DATA / "chat_mixed.jsonl"


def read_mixed(
    success_threshold: float = 1.0, id_scope: str | None = None
) -> tuple[dict[str, Trajectory], dict[str, QuarantinedRecord]]:
    ok, bad = split(list(read_file(MIXED, success_threshold=success_threshold, id_scope=id_scope)))
    return {t.raw_id: t for t in ok}, {q.location: q for q in bad}


def write_lines(tmp_path: Path, data: bytes, name: str = "t.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def chat(**fields: object) -> str:
    record: dict[str, object] = {
        "messages": [{"role": "user", "content": "do it"}, {"role": "assistant", "content": "done"}]
    }
    record.update(fields)
    return json.dumps(record)


def test_every_non_blank_line_is_one_record() -> None:
    ok, bad = split(list(read_file(MIXED)))
    assert (len(ok), len(bad)) == (6, 5)
    assert [t.raw_id for t in ok] == ["r1", "line 2", "line 3", "42", "line 12", "r1@line 13"]
    assert [q.location for q in bad] == ["line 5", "line 6", "line 7", "line 8", "line 9"]


def test_quarantine_reasons_ids_and_excerpts() -> None:
    _, bad = read_mixed()
    reasons = {loc: q.reason for loc, q in bad.items()}
    assert reasons["line 5"].startswith("invalid JSON: Unterminated string")
    assert reasons["line 6"] == "message 1 has unknown role 'critic'"
    assert reasons["line 7"] == "record is an array, expected an object"
    assert reasons["line 8"] == "record has no 'messages'"
    assert reasons["line 9"] == "messages are a string, expected an array"
    q = bad["line 6"]
    assert q.trajectory_id == stable_id("openai_chat", "chat_mixed.jsonl", "line 6", prefix="t-")
    assert q.source_file == str(MIXED) and q.source_format == "openai_chat"
    assert q.excerpt.startswith('{"id": "critic-1"') and not q.excerpt.endswith("\n")


def test_tool_call_only_turn_becomes_tool_call_steps() -> None:
    t = read_mixed()[0]["r1"]
    assert [(s.index, s.role, s.kind) for s in t.steps] == [
        (0, "system", "message"),
        (1, "user", "message"),
        (2, "assistant", "tool_call"),
        (3, "assistant", "tool_call"),
        (4, "tool", "observation"),
        (5, "tool", "observation"),
        (6, "assistant", "message"),
    ]
    call, obs = t.steps[2], t.steps[4]
    assert (call.tool_name, call.tool_call_id) == ("get_weather", "call_1")
    # Arguments stay the exact JSON text, including the JSON string nested inside it.
    assert call.tool_args == '{"city": "Paris", "opts": "{\\"unit\\": \\"C\\"}"}'
    assert json.loads(json.loads(call.tool_args)["opts"]) == {"unit": "C"}
    # The observation names its tool through the call id when the message has no name.
    assert (obs.tool_call_id, obs.tool_name, obs.content) == ("call_1", "get_weather", '{"temp": 21}')
    assert t.task == "What is the weather in Paris?"
    assert t.metadata["model"] == "gpt-x" and t.metadata["tools"][0]["function"]["name"] == "get_weather"


def test_multimodal_parts_and_non_ascii_text() -> None:
    t = read_mixed()[0]["line 2"]
    assert t.task == "Décris cette image 日本語 🌧\n[image]"
    assert t.steps[1].content == "Il pleut à Tōkyō."
    audio = read_mixed()[0]["line 3"]
    assert audio.steps[1].content == "[audio]"
    assert (audio.steps[2].role, audio.steps[2].content) == ("assistant", "")


def test_reasoning_developer_role_and_broken_arguments_kept() -> None:
    t = read_mixed()[0]["42"]
    assert [s.kind for s in t.steps[:5]] == ["message", "message", "reasoning", "message", "tool_call"]
    assert t.steps[0].role == "system"
    assert t.steps[2].content == "Need the calculator."
    # Malformed arguments are the agent's own mistake: evidence for analysis, not a bad record.
    assert t.steps[4].tool_args == '{"expr": "2+2"'
    assert t.metadata == {"extra_fields": {"run": "A"}, "outcome_field": "reward", "outcome_source": "grader"}


@pytest.mark.parametrize(
    ("raw_id", "success", "reward"),
    [
        ("r1", True, None),  # success flag
        ("line 2", False, 0.5),  # reward below the default threshold 1.0
        ("line 3", False, None),  # label "failure"
        ("42", True, 1.0),  # reward at the threshold
        ("line 12", None, None),  # nothing said: unknown
        ("r1@line 13", False, None),
    ],
)
def test_outcome_mapping(raw_id: str, success: bool | None, reward: float | None) -> None:
    t = read_mixed()[0][raw_id]
    assert (t.success, t.reward) == (success, reward)


def test_success_threshold_is_configurable() -> None:
    assert read_mixed(success_threshold=0.5)[0]["line 2"].success is True


def test_ids_are_stable_unique_and_scoped() -> None:
    first, second = read_mixed()[0], read_mixed()[0]
    assert {k: t.id for k, t in first.items()} == {k: t.id for k, t in second.items()}
    assert len({t.id for t in first.values()}) == len(first)
    assert first["r1"].id == stable_id("openai_chat", "chat_mixed.jsonl", "r1", prefix="t-")
    scoped = read_mixed(id_scope="run-a/chat_mixed.jsonl")[0]
    assert scoped["r1"].id == stable_id("openai_chat", "run-a/chat_mixed.jsonl", "r1", prefix="t-")
    assert scoped["r1"].raw_id == "r1"


def test_results_fit_the_arrow_schemas() -> None:
    ok, bad = split(list(read_file(MIXED)))
    trajectories: list[BaseModel] = [*ok]
    quarantined: list[BaseModel] = [*bad]
    assert to_table(trajectories, TRAJECTORY_SCHEMA).num_rows == 6
    assert to_table(quarantined, QUARANTINE_SCHEMA).num_rows == 5
    assert Trajectory.from_row(ok[0].to_row()) == ok[0]


def test_undecodable_bytes_quarantine_only_their_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path, (chat(id="a") + "\n").encode() + b'{"messages": "\xff\xfe"}\n' + chat(id="b").encode())
    ok, bad = split(list(read_file(path)))
    assert [t.raw_id for t in ok] == ["a", "b"]
    assert bad[0].location == "line 2" and bad[0].reason.startswith("line is not valid UTF-8")
    assert "\ufffd" in bad[0].excerpt


def test_lone_surrogate_escape_is_quarantined(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path, (chat(id="ok") + "\n" + '{"messages": [{"role": "user", "content": "\\ud800"}]}\n').encode()
    )
    ok, bad = split(list(read_file(path)))
    assert [t.raw_id for t in ok] == ["ok"]
    assert "not valid UTF-8" in bad[0].reason


def test_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path, b"\xef\xbb\xbf" + chat(id="x").encode() + b"\r\n\r\n  \r\n" + chat().encode() + b"\r\n"
    )
    ok, bad = split(list(read_file(path)))
    assert [t.raw_id for t in ok] == ["x", "line 4"] and bad == []


@pytest.mark.parametrize("data", [b"", b"\n\n  \n"])
def test_empty_file_yields_nothing(tmp_path: Path, data: bytes) -> None:
    assert list(read_file(write_lines(tmp_path, data))) == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (chat(success="maybe"), "'success' is a string, expected a boolean"),
        (chat(label="partial"), "'label' is 'partial', expected 'success', 'failure' or a boolean"),
        (chat(reward="high"), "'reward' is a string, expected a number"),
        (
            '{"reward": NaN, "messages": [{"role": "user", "content": "x"}]}',
            "'reward' is nan, expected a finite number",
        ),
        (chat(id=["a"]), "'id' is an array, expected a string or an integer"),
        (chat(messages=[]), "'messages' is empty"),
    ],
)
def test_wrong_record_fields_are_quarantined(tmp_path: Path, line: str, reason: str) -> None:
    ok, bad = split(list(read_file(write_lines(tmp_path, line.encode()))))
    assert ok == [] and bad[0].reason == reason


def test_labels_and_success_flag_precedence(tmp_path: Path) -> None:
    lines = [chat(label="Success"), chat(label=False), chat(success=False, reward=1.0), chat(label="pass", reward=0.2)]
    ok, _ = split(list(read_file(write_lines(tmp_path, "\n".join(lines).encode()))))
    assert [(t.success, t.reward) for t in ok] == [(True, None), (False, None), (False, 1.0), (False, 0.2)]


def test_legacy_function_call_and_function_role() -> None:
    steps = messages_to_steps(
        [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": None,
                "function_call": {"name": "get_weather", "arguments": {"city": "Oslo"}},
            },
            {"role": "function", "name": "get_weather", "content": "-3"},
        ]
    )
    assert [(s.role, s.kind, s.tool_name) for s in steps] == [
        ("user", "message", None),
        ("assistant", "tool_call", "get_weather"),
        ("tool", "observation", "get_weather"),
    ]
    assert steps[1].tool_args == '{"city": "Oslo"}'


def test_content_parts_edge_cases() -> None:
    steps = messages_to_steps(
        [
            {
                "role": "user",
                "content": ["plain", {"type": "input_text", "text": "a"}, {"type": "video_url", "video_url": {}}],
            }
        ]
    )
    assert steps[0].content == "plain\na\n[video_url]"


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([{"content": "x"}], "message 0 has unknown role None"),
        (["hi"], "message 0 is a string, expected an object"),
        ([{"role": "assistant", "tool_calls": [{"id": "c"}]}], "message 0 tool call 0 has no 'function' object"),
        (
            [{"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}],
            "message 0 tool call 0 has no function name",
        ),
        ([{"role": "assistant", "tool_calls": {"a": 1}}], "message 0 'tool_calls' is an object, expected an array"),
    ],
)
def test_bad_messages_raise_record_error(messages: list[object], reason: str) -> None:
    with pytest.raises(RecordError) as info:
        messages_to_steps(messages)
    assert str(info.value) == reason


line_text = st.text(st.characters(exclude_characters="\n\r\ufeff", codec="utf-8"), max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["messages", "role", "content", "id"]), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(json_values.map(json.dumps) | line_text, min_size=1, max_size=5))
def test_any_line_becomes_exactly_one_record(values: list[str]) -> None:
    lines = [line for line in values if line.encode().strip()]  # the reader's notion of blank
    with tempfile.TemporaryDirectory() as tmp:
        path = write_lines(Path(tmp), "\n".join(lines).encode())
        records = list(read_file(path, fmt="openai_chat"))
    assert len(records) == len(lines)
    split(records)
