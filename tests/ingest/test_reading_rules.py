"""Readable records are read: off-spec values repaired and counted, outcomes found where producers put
them, dataset exports (one JSON array of chat records) streamed. Small files written here, shaped after
what real producers write (not copied from them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trace2skill.ingest import detect_format, read_file
from trace2skill.ingest.inspect import record_rows, summarize

from .helpers import split


def write(tmp_path: Path, name: str, data: Any, *, lines: bool = False) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(x) for x in data) if lines else json.dumps(data), encoding="utf-8")
    return path


def chat(**fields: Any) -> dict[str, Any]:
    messages = [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": "Fix the failing test."},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "bash", "arguments": '{"cmd": "pytest -x"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "1 failed"},
    ]
    return {"messages": messages, **fields}


# --- off-spec values are repaired, not quarantined --------------------------------------------


def test_off_spec_values_keep_the_run_and_are_counted_per_field(tmp_path: Path) -> None:
    record = chat(id="run-1", success=True)
    record["messages"][3]["content"] = {"stdout": "1 failed", "exit_code": 1}  # a tool result logged as an object
    record["messages"][1]["content"] = [{"type": "text", "text": 42}]  # a number where text was expected
    record["messages"][3]["tool_call_id"] = 7
    record["messages"][2]["tool_calls"][0]["function"]["arguments"] = 3
    path = write(tmp_path, "runs.jsonl", [record, chat(id="run-2", messages="oops")], lines=True)
    ok, bad = split(list(read_file(path)))
    (t,) = ok
    assert t.steps[-1].content == '{"stdout": "1 failed", "exit_code": 1}'
    assert t.steps[1].content == "42" and t.steps[-1].tool_call_id == "7" and t.steps[2].tool_args == "3"
    assert t.metadata["repairs"] == {"arguments": 1, "content": 1, "content part text": 1, "tool_call_id": 1}
    assert [q.reason for q in bad] == ["messages are a string, expected an array"]  # what cannot be read stays out


@pytest.mark.parametrize(
    ("name", "data", "lines", "field"),
    [
        ("atif/trajectory.json", {"schema_version": "ATIF-v1.5", "session_id": "s1", "agent": {"name": "a"}, "steps": [{"step_id": 1, "source": "user", "message": {"text": "hi"}}]}, False, "content"),
        ("share.jsonl", [{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": ["a", "b"]}], "system": 5}], True, "value"),
        ("session.jsonl", [{"type": "user", "sessionId": "s1", "uuid": "u1", "timestamp": "2025-01-01T00:00:00Z", "message": {"role": "user", "content": {"text": "hi"}}}], True, "content"),
    ],
)
def test_other_formats_repair_off_spec_content(tmp_path: Path, name: str, data: Any, lines: bool, field: str) -> None:
    ok, bad = split(list(read_file(write(tmp_path, name, data, lines=lines))))
    assert bad == [] and len(ok) == 1
    assert ok[0].metadata["repairs"][field] >= 1


# --- outcomes where producers put them -----------------------------------------------------------


def atif(**extra: Any) -> dict[str, Any]:
    steps = [
        {"step_id": 1, "source": "user", "message": "Fix the failing test."},
        {"step_id": 2, "source": "agent", "message": "Running the tests.", "tool_calls": [{"tool_call_id": "c1", "function_name": "bash", "arguments": {"cmd": "pytest"}}],
         "observation": {"results": [{"source_call_id": "c1", "content": "ok"}]}},
    ]
    doc: dict[str, Any] = {"schema_version": "ATIF-v1.6", "session_id": "s-1", "agent": {"name": "claude-code", "version": "1.0"}, "steps": steps}
    if "step_extra" in extra:
        steps[-1]["extra"] = extra.pop("step_extra")
    doc.update(extra)
    return doc


@pytest.mark.parametrize(
    ("doc", "success", "field"),
    [
        (atif(extra={"verdict": "PASS"}), True, "extra.verdict"),
        (atif(extra={"verdict": "FAIL", "reward": 0.0}), False, "extra.verdict"),
        (atif(final_metrics={"total_steps": 2, "extra": {"passed": True}}), True, "final_metrics.extra.passed"),
        (atif(step_extra={"passed": False}), False, "steps[1].extra.passed"),
        (atif(extra={"reward": 1}), True, "extra.reward"),
        (atif(extra={"status": "completed"}), None, None),  # not a verdict word
    ],
)
def test_atif_outcomes_in_extra_blocks(tmp_path: Path, doc: dict[str, Any], success: bool | None, field: str | None) -> None:
    (t,) = split(list(read_file(write(tmp_path, "trajectory.json", doc))))[0]
    assert t.success is success and t.metadata.get("outcome_field") == field


def test_openhands_outcomes(tmp_path: Path) -> None:
    history = [{"id": 1, "source": "user", "action": "message", "args": {"content": "Fix it."}}, {"id": 2, "source": "agent", "action": "finish", "args": {"final_thought": "done"}}]
    lines = [
        {"instance_id": "a", "history": history, "test_result": {"report": {"resolved": True}}},
        {"instance_id": "b", "history": history, "test_result": {"git_patch": "diff"}, "verdict": "FAIL"},
        {"instance_id": "c", "history": history, "test_result": {"git_patch": "diff"}, "metadata": {"agent_class": "CodeActAgent"}},
    ]
    ok, _ = split(list(read_file(write(tmp_path, "output.jsonl", lines, lines=True))))
    assert [(t.success, t.metadata.get("outcome_field")) for t in ok] == [(True, "test_result.report.resolved"), (False, "verdict"), (None, None)]
    events = [*history, {"id": 3, "source": "environment", "observation": "run", "content": "2 passed", "extras": {"command": "pytest", "passed": True}}]
    (t,) = split(list(read_file(write(tmp_path, "events.json", events))))[0]
    assert t.success is True and t.metadata["outcome_field"] == "[2].extras.passed"


def test_claude_code_verdict_line(tmp_path: Path) -> None:
    base = {"sessionId": "s1", "timestamp": "2025-01-01T00:00:0{}Z", "parentUuid": None}
    lines = [
        {**base, "type": "user", "uuid": "u1", "timestamp": "2025-01-01T00:00:01Z", "message": {"role": "user", "content": "Fix it."}},
        {**base, "type": "assistant", "uuid": "u2", "timestamp": "2025-01-01T00:00:02Z", "message": {"role": "assistant", "content": [{"type": "text", "text": "Done."}]}},
        {**base, "type": "system", "uuid": "u3", "timestamp": "2025-01-01T00:00:03Z", "content": "graded", "extra": {"verdict": "pass"}},
    ]
    (t,) = split(list(read_file(write(tmp_path, "s1.jsonl", lines, lines=True))))[0]
    assert t.success is True and t.metadata["outcome_field"] == "extra.verdict"


def test_otel_evaluation_attribute(tmp_path: Path) -> None:
    def attr(key: str, value: Any) -> dict[str, Any]:
        kind = "boolValue" if isinstance(value, bool) else "stringValue"
        return {"key": key, "value": {kind: value}}

    spans = [
        {"traceId": "t1", "spanId": "a", "name": "chat", "startTimeUnixNano": "1", "attributes": [attr("gen_ai.operation.name", "chat"), attr("gen_ai.input.messages", json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]))]},
        {"traceId": "t1", "spanId": "b", "name": "grade", "startTimeUnixNano": "2", "attributes": [attr("gen_ai.operation.name", "evaluate"), attr("gen_ai.evaluation.score.label", "fail")]},
    ]
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    (t,) = split(list(read_file(write(tmp_path, "trace.json", doc))))[0]
    assert t.success is False and t.metadata["outcome_field"] == "gen_ai.evaluation.score.label"


@pytest.mark.parametrize(
    ("fields", "success", "field"),
    [
        ({"success": "true"}, True, "success"),  # a boolean written as text: read, counted as a repair
        ({"resolved": False}, False, "resolved"),
        ({"metadata": {"verdict": "PASS"}}, True, "metadata.verdict"),
        ({"extra": {"passed": 0}}, False, "extra.passed"),
        ({"score": 0.4}, False, "score"),
        ({}, False, None),  # no field: the run's last action, pytest reporting "1 failed", is the signal (ingest.signals)
    ],
)
def test_openai_chat_and_sharegpt_outcome_fields(tmp_path: Path, fields: dict[str, Any], success: bool | None, field: str | None) -> None:
    (t,) = split(list(read_file(write(tmp_path, "runs.jsonl", [chat(**fields)], lines=True))))[0]
    assert (t.success, t.metadata.get("outcome_field")) == (success, field)
    assert t.metadata["outcome_source"] == ("grader" if field else "signal")
    success = None if not fields else success  # the ShareGPT run below has no test run: no signal
    share = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "done"}], **fields}
    (s,) = split(list(read_file(write(tmp_path, "share.jsonl", [share], lines=True))))[0]
    assert (s.success, s.metadata.get("outcome_field")) == (success, field)


# --- dataset exports ------------------------------------------------------------------------------


def export_records() -> list[dict[str, Any]]:
    tools = [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]
    return [
        {"instance_id": "django__django-11099", **chat(), "tools": tools, "resolved": True, "reward": 1.0},
        {"instance_id": "sympy__sympy-20590", **chat(), "tools": tools, "resolved": False, "reward": 0.0},
        {"instance_id": "astropy__astropy-12907", **chat(), "tools": tools, "success": True},
        {"instance_id": "bad", "messages": [{"role": "narrator", "content": "?"}]},
    ]


@pytest.mark.parametrize("indent", [None, 2])
def test_dataset_export_array_is_detected_and_streamed(tmp_path: Path, indent: int | None) -> None:
    path = tmp_path / "trajectories.json"
    path.write_text(json.dumps(export_records(), indent=indent), encoding="utf-8")
    assert detect_format(path) == "openai_chat"
    ok, bad = split(list(read_file(path)))
    assert [t.raw_id for t in ok] == ["django__django-11099", "sympy__sympy-20590", "astropy__astropy-12907"]
    assert [t.success for t in ok] == [True, False, True]
    assert ok[0].metadata["instance_id"] == "django__django-11099" and ok[0].metadata["tools"][0]["function"]["name"] == "bash"
    assert [s.kind for s in ok[0].steps] == ["message", "message", "tool_call", "observation"]
    assert [q.location for q in bad] == ["item 3"]


def test_cut_dataset_export_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    data = json.dumps(export_records()[:3]).encode()
    path = tmp_path / "trajectories.json"
    path.write_bytes(data[: int(len(data) * 0.8)])
    ok, bad = split(list(read_file(path, fmt="openai_chat")))
    assert len(ok) == 2 and len(bad) == 1 and bad[0].location == "item 2"


# --- inspect shows it ----------------------------------------------------------------------------


def test_inspect_shows_outcome_sources_runs_without_one_and_repairs(tmp_path: Path) -> None:
    record = chat(id="r1", metadata={"verdict": "PASS"})
    record["messages"][3]["content"] = {"stdout": "ok"}
    r4 = chat(id="r4")
    r4["messages"] = r4["messages"][:2]  # nothing but the request: no outcome at all
    path = write(tmp_path, "runs.jsonl", [record, chat(id="r2", resolved=False), chat(id="r3"), r4], lines=True)
    table = summarize(record_rows(path, "openai_chat", read_file(path)))
    row = table.row(0, named=True)
    assert (row["records"], row["success"], row["failure"], row["no_outcome"]) == (4, 1, 2, 1)
    assert row["outcome_from"] == "1x metadata.verdict; 1x resolved; 1x signal: tests"
    assert row["repairs"] == "1x content"
