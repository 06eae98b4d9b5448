"""Properties every adapter keeps: long runs, cut files, garbage, empty files, Arrow-ready output."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel

from trace2skill.ingest import FORMATS, detect_format, discover_files, read_file
from trace2skill.schema import QUARANTINE_SCHEMA, TRAJECTORY_SCHEMA, QuarantinedRecord, Trajectory, to_table

from .helpers import DATA, split

N = 250  # tool-call rounds: every builder yields a trajectory of more than 500 steps
FIXTURES = [p for p in discover_files([DATA]) if p.name != "labels.jsonl"]
DOCUMENT_FORMATS = {"tau_bench", "tau2_bench", "swe_agent", "mini_swe_agent", "atif"}


def _chat(n: int) -> list[dict[str, object]]:
    msgs: list[dict[str, object]] = [{"role": "system", "content": "sys"}, {"role": "user", "content": "täsk"}]
    for i in range(n):
        call = {
            "id": f"c{i}",
            "type": "function",
            "function": {"name": "step", "arguments": json.dumps({"i": i, "q": '{"x": 1}'})},
        }
        msgs += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{i}", "content": f"ok {i}"},
        ]
    return msgs


def openai_chat(n: int) -> tuple[str, str]:
    return "long.jsonl", json.dumps({"messages": _chat(n)})


def tau_bench(n: int) -> tuple[str, str]:
    return "long.json", json.dumps([{"task_id": 1, "trial": 0, "reward": 1.0, "info": {}, "traj": _chat(n)}])


def tau2_bench(n: int) -> tuple[str, str]:
    msgs: list[dict[str, object]] = [{"role": "user", "content": "täsk"}]
    for i in range(n):
        msgs += [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": f"c{i}", "name": "step", "arguments": {"i": i}}],
            },
            {"role": "tool", "id": f"c{i}", "content": "ok"},
        ]
    return "long.json", json.dumps(
        {
            "info": {},
            "tasks": [],
            "simulations": [
                {
                    "task_id": "1",
                    "trial": 0,
                    "termination_reason": "user_stop",
                    "reward_info": {"reward": 1},
                    "messages": msgs,
                }
            ],
        }
    )


def sharegpt(n: int) -> tuple[str, str]:
    turns = [{"from": "human", "value": "täsk"}]
    for i in range(n):
        turns += [
            {"from": "function_call", "value": json.dumps({"name": "step", "arguments": {"i": i}})},
            {"from": "observation", "value": "ok"},
        ]
    return "long.jsonl", json.dumps({"conversations": turns})


def swe_agent(n: int) -> tuple[str, str]:
    history: list[dict[str, object]] = [{"role": "system", "content": "sys"}, {"role": "user", "content": "täsk"}]
    for i in range(n):
        history += [
            {"role": "assistant", "content": f"t{i}", "thought": f"t{i}", "action": f"ls {i}"},
            {"role": "user", "content": "out"},
        ]
    return "long.traj", json.dumps({"trajectory": [], "history": history, "info": {}})


def mini_swe_agent(n: int) -> tuple[str, str]:
    msgs: list[dict[str, object]] = [{"role": "user", "content": "täsk"}]
    for i in range(n):
        msgs += [
            {"role": "assistant", "content": f"THOUGHT: {i}\n\n```bash\nls {i}\n```"},
            {"role": "user", "content": "<returncode>0</returncode>"},
        ]
    return "long.traj.json", json.dumps({"info": {}, "messages": msgs, "trajectory_format": "mini-swe-agent-1"})


def openhands(n: int) -> tuple[str, str]:
    events: list[dict[str, object]] = [{"id": 0, "source": "user", "action": "message", "args": {"content": "täsk"}}]
    for i in range(n):
        events += [
            {"id": 2 * i + 1, "source": "agent", "action": "run", "args": {"command": f"ls {i}"}},
            {"id": 2 * i + 2, "source": "agent", "observation": "run", "content": "ok", "cause": 2 * i + 1},
        ]
    return "long.json", json.dumps(events, indent=1)


def atif(n: int) -> tuple[str, str]:
    steps: list[dict[str, object]] = [{"step_id": 1, "source": "user", "message": "täsk"}]
    for i in range(n):
        steps.append(
            {
                "step_id": i + 2,
                "source": "agent",
                "message": "",
                "tool_calls": [{"tool_call_id": f"c{i}", "function_name": "step", "arguments": {"i": i}}],
                "observation": {"results": [{"source_call_id": f"c{i}", "content": "ok"}]},
            }
        )
    return "long.json", json.dumps(
        {"schema_version": "ATIF-v1.4", "session_id": "s", "agent": {"name": "a", "version": "1"}, "steps": steps},
        indent=2,
    )


def claude_code(n: int) -> tuple[str, str]:
    base = {"sessionId": "s-1", "isSidechain": False}
    lines = [
        {
            **base,
            "type": "user",
            "uuid": "u",
            "timestamp": "2025-01-01T00:00:00.000Z",
            "message": {"role": "user", "content": "täsk"},
        }
    ]
    for i in range(n):
        ts = f"2025-01-01T00:{i // 60:02d}:{i % 60:02d}.500Z"
        lines += [
            {
                **base,
                "type": "assistant",
                "uuid": f"a{i}",
                "timestamp": ts,
                "message": {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": f"t{i}", "name": "Bash", "input": {"command": f"ls {i}"}}],
                },
            },
            {
                **base,
                "type": "user",
                "uuid": f"r{i}",
                "timestamp": ts,
                "message": {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": "ok"}],
                },
            },
        ]
    return "s-1.jsonl", "\n".join(json.dumps(x) for x in lines)


def otel_genai(n: int) -> tuple[str, str]:
    def attr(k: str, v: str) -> dict[str, object]:
        return {"key": k, "value": {"stringValue": v}}

    spans = [
        {
            "traceId": "t1",
            "spanId": "s0",
            "startTimeUnixNano": "1",
            "attributes": [
                attr("gen_ai.operation.name", "chat"),
                attr(
                    "gen_ai.input.messages",
                    json.dumps([{"role": "user", "parts": [{"type": "text", "content": "täsk"}]}]),
                ),
            ],
        }
    ]
    for i in range(n):
        spans.append(
            {
                "traceId": "t1",
                "spanId": f"s{i + 1}",
                "startTimeUnixNano": str(10 + i),
                "attributes": [
                    attr("gen_ai.operation.name", "execute_tool"),
                    attr("gen_ai.tool.name", "step"),
                    attr("gen_ai.tool.call.id", f"c{i}"),
                    attr("gen_ai.tool.call.arguments", json.dumps({"i": i})),
                    attr("gen_ai.tool.call.result", "ok"),
                ],
            }
        )
    return "long.json", json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})


def inspect_ai(n: int) -> tuple[str, str]:
    messages: list[dict[str, object]] = [{"role": "user", "content": "täsk"}]
    for i in range(n):
        messages.append({"role": "assistant", "content": "", "tool_calls": [{"id": f"c{i}", "function": "step", "arguments": {"i": i}}]})
        messages.append({"role": "tool", "tool_call_id": f"c{i}", "function": "step", "content": "ok"})
    sample = {"id": "long", "epoch": 1, "input": "täsk", "target": "x", "messages": messages, "scores": {"s": {"value": "C"}}}
    return "long.json", json.dumps({"version": 2, "status": "success", "eval": {"task": "t"}, "samples": [sample]})


BUILDERS: dict[str, Callable[[int], tuple[str, str]]] = {
    "openai_chat": openai_chat,
    "tau_bench": tau_bench,
    "tau2_bench": tau2_bench,
    "sharegpt": sharegpt,
    "swe_agent": swe_agent,
    "mini_swe_agent": mini_swe_agent,
    "openhands": openhands,
    "atif": atif,
    "claude_code": claude_code,
    "otel_genai": otel_genai,
    "inspect_ai": inspect_ai,
}


def test_every_format_has_a_long_run_builder() -> None:
    assert set(BUILDERS) == set(FORMATS)


@pytest.mark.parametrize("fmt", sorted(BUILDERS))
def test_500_step_trajectory(tmp_path: Path, fmt: str) -> None:
    name, text = BUILDERS[fmt](N)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    (t,) = list(read_file(path))  # detected, not told
    assert isinstance(t, Trajectory) and t.source_format == fmt
    assert len(t.steps) >= 2 * N + 1
    assert [s.index for s in t.steps] == list(range(len(t.steps)))
    assert sum(s.kind == "tool_call" for s in t.steps) == N
    assert "täsk" in t.task


def _copy(path: Path, folder: Path, cut: bool) -> Path:
    data = path.read_bytes()
    if cut:
        at = int(len(data) * 0.7)
        while data[at - 1 : at] in (b"\n", b"\r"):  # cut inside a line, never on a boundary
            at -= 1
        data = data[:at]
    folder.mkdir()
    out = folder / path.name
    out.write_bytes(data)
    return out


STREAMED_ARRAY_FORMATS = {"tau_bench", "sharegpt"}  # read_array streams their items


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_cut_file_keeps_intact_records_and_quarantines_the_rest(tmp_path: Path, path: Path) -> None:
    fmt = detect_format(path)
    # Both copies stand alone, so a Claude Code agent file is read as its own session in each.
    whole_ok = {t.raw_id for t in split(list(read_file(_copy(path, tmp_path / "whole", cut=False))))[0]}
    cut = _copy(path, tmp_path / "cut", cut=True)
    ok, bad = split(list(read_file(cut, fmt=fmt)))
    assert bad, "a cut file must report what it lost"
    streamed_array = (fmt in STREAMED_ARRAY_FORMATS and path.read_bytes().lstrip()[:1] == b"[") or (
        fmt == "tau2_bench" and b'"simulations"' in path.read_bytes()  # stream_array streams its simulations
    ) or fmt == "inspect_ai"  # and an Inspect log's samples
    single_document = (
        fmt in DOCUMENT_FORMATS
        or path.read_bytes().lstrip()[:1] == b"["
        or (fmt == "otel_genai" and path.suffix == ".json")
    )
    if streamed_array:  # the items before the cut are kept; the rest is one record where reading stopped
        assert {t.raw_id for t in ok} <= whole_ok
        assert bad[-1].location == f"item {len(ok) + len(bad) - 1}" and "from item" in bad[-1].reason
    elif single_document:
        assert (ok, [q.location for q in bad]) == ([], ["file"])
    else:
        assert ok and {t.raw_id for t in ok} <= whole_ok  # every surviving record is one the whole file had


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize(
    "data", [b"", b"\n  \n", b"\x00\xff\xfe garbage \x89PNG\r\n\x1a\n", b'{"a": 1}\n[1, 2]\n"str"\n']
)
def test_garbage_and_empty_files_never_raise(tmp_path: Path, fmt: str, data: bytes) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    records = list(read_file(path, fmt=fmt))
    assert all(isinstance(r, QuarantinedRecord) for r in records)
    if not data.strip():
        assert records == []


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_fixture_records_fit_the_arrow_schemas(path: Path) -> None:
    ok, bad = split(list(read_file(path)))
    trajectories: list[BaseModel] = [*ok]
    quarantined: list[BaseModel] = [*bad]
    assert to_table(trajectories, TRAJECTORY_SCHEMA).num_rows == len(ok)
    assert to_table(quarantined, QUARANTINE_SCHEMA).num_rows == len(bad)
    assert all(Trajectory.from_row(t.to_row()) == t for t in ok)
    assert len({t.id for t in ok} | {q.trajectory_id for q in bad}) == len(ok) + len(bad)
    for t in ok:
        assert [s.index for s in t.steps] == list(range(len(t.steps)))
        assert all(s.kind != "tool_call" or s.tool_name for s in t.steps)
    assert all(len(q.excerpt) <= 200 for q in bad)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_utf16_copy_is_detected_and_quarantined_whole(tmp_path: Path, path: Path) -> None:
    copy = tmp_path / path.name
    copy.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    fmt = detect_format(path)
    assert detect_format(copy) == fmt
    (q,) = list(read_file(copy))
    assert isinstance(q, QuarantinedRecord) and q.location == "file"
    assert q.reason == "file is UTF-16 encoded (byte-order mark); expected UTF-8"
