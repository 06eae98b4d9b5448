"""Inspect AI JSON eval logs: samples, tool calls, reasoning, letter grades, broken logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trace2skill.ingest import read_file
from trace2skill.ingest.inspect_ai import score_value

from .helpers import DATA, split


def log(tmp_path: Path, samples: list | None, **extra) -> Path:
    doc = {"version": 2, "status": "success", "eval": {"task": "t", "model": "m/x", "run_id": "r1"}, "plan": {}, **extra}
    if samples is not None:
        doc["samples"] = samples
    path = tmp_path / "log.json"
    path.write_text(json.dumps(doc))
    return path


def test_real_log_written_by_inspect():
    ok, bad = split(list(read_file(DATA / "inspect_log.json")))
    assert not bad and [t.raw_id for t in ok] == ["add-1:1", "add-2:1"]
    first, second = ok
    assert (first.success, first.reward, second.success, second.reward) == (True, 1.0, False, 0.0)
    assert first.task == "What is 1 + 2?"
    assert [(s.role, s.kind) for s in first.steps] == [("user", "message"), ("assistant", "message"), ("assistant", "tool_call"), ("tool", "observation"), ("assistant", "message")]
    call, result = first.steps[2], first.steps[3]
    assert (call.tool_name, json.loads(call.tool_args)) == ("add", {"x": 1, "y": 2})
    assert (result.tool_name, result.content, result.tool_call_id) == ("add", "3", call.tool_call_id)
    assert first.metadata["task_id"] == "add-1" and json.loads(first.metadata["target"]) == "3" and first.metadata["task"] == "arith"


def test_reasoning_parts_tool_errors_and_epochs(tmp_path):
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Find it."}]},
        {"role": "assistant", "content": [{"type": "reasoning", "reasoning": "Search first."}, {"type": "text", "text": "Searching."}], "tool_calls": [{"id": "c1", "function": "search", "arguments": {"q": "x"}}]},
        {"role": "tool", "tool_call_id": "c1", "function": "search", "content": "", "error": {"type": "timeout", "message": "took too long"}},
    ]
    samples = [{"id": 7, "epoch": e, "input": "Find it.", "messages": messages, "scores": {"s": {"value": v}}} for e, v in ((1, 0.25), (2, "P"))]
    ok, bad = split(list(read_file(log(tmp_path, samples), success_threshold=0.5)))
    assert not bad and [t.raw_id for t in ok] == ["7:1", "7:2"]
    assert [(t.reward, t.success) for t in ok] == [(0.25, False), (0.5, True)]
    assert [s.kind for s in ok[0].steps] == ["message", "reasoning", "message", "tool_call", "observation"]
    assert ok[0].steps[1].content == "Search first." and ok[0].steps[4].content == "[error] took too long"


def test_unscored_and_bad_samples(tmp_path):
    good = {"id": "a", "messages": [{"role": "user", "content": "hi"}]}
    samples = [good, {**good, "id": "b", "scores": {"s": {"value": "maybe"}}}, {**good, "id": "c", "messages": [{"role": "wizard", "content": "x"}]}, "oops"]
    ok, bad = split(list(read_file(log(tmp_path, samples))))
    assert [(t.raw_id, t.success) for t in ok] == [("a:1", None)]
    assert ["not a grade" in bad[0].reason, "unknown role" in bad[1].reason, "expected an object" in bad[2].reason] == [True, True, True]


def test_log_without_samples_is_one_quarantined_record(tmp_path):
    ok, bad = split(list(read_file(log(tmp_path, None), fmt="inspect_ai")))
    assert not ok and len(bad) == 1 and "no 'samples'" in bad[0].reason


@pytest.mark.parametrize("value, expected", [("C", 1.0), ("I", 0.0), ("P", 0.5), ("N", 0.0), (True, 1.0), (0.7, 0.7), ("0.3", 0.3), ({"a": 1}, None)])
def test_score_values(value, expected):
    assert score_value(value) == expected
