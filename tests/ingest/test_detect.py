from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from trace2skill.ingest import (
    FORMATS,
    Format,
    Record,
    Source,
    UnknownFormatError,
    detect_format,
    discover_files,
    read_file,
    registry,
)
from trace2skill.schema import Trajectory

from .helpers import DATA

REAL_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "real-samples"
CHAT_LINE = json.dumps({"messages": [{"role": "user", "content": "hi"}]})


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


ALL_FORMATS = [
    "mini_swe_agent",
    "swe_agent",
    "tau2_bench",
    "atif",
    "inspect_ai",
    "openhands",
    "claude_code",
    "otel_genai",
    "sharegpt",
    "tau_bench",
    "openai_chat",
]
FIXTURES = {
    "chat_mixed.jsonl": "openai_chat",
    "responses.jsonl": "openai_chat",
    "tau_results.json": "tau_bench",
    "tau_truncated.json": "tau_bench",
    "tau2_results.json": "tau2_bench",
    "sharegpt.jsonl": "sharegpt",
    "sharegpt_array.json": "sharegpt",
    "swe_agent_text.traj": "swe_agent",
    "swe_agent_fc.traj": "swe_agent",
    "mini_v1.traj.json": "mini_swe_agent",
    "mini_v2.traj.json": "mini_swe_agent",
    "inspect_log.json": "inspect_ai",
    "openhands_events.json": "openhands",
    "openhands_output.jsonl": "openhands",
    "atif_trajectory.json": "atif",
    "claude_code/7d3c1a52-4a8e-4f51-9d0e-1b2c3d4e5f60.jsonl": "claude_code",
    "claude_code/agent-5f2e9a1c.jsonl": "claude_code",
    "claude_code/two_sessions.jsonl": "claude_code",
    "otel_genai.json": "otel_genai",
    "otel_genai.jsonl": "otel_genai",
}
REAL = {
    "swe-agent/function_calling_simple.traj": "swe_agent",
    "swe-agent/swe-agent__test-repo-i1.traj": "swe_agent",
    "swe-agent/ctf-networking_1.traj": "swe_agent",
    "openhands/basic.json": "openhands",
    "openhands/basic_interactions.json": "openhands",
    "claude-code/agent-test-hash-123.jsonl": "claude_code",
}


def test_registry_lists_the_formats() -> None:
    assert list(FORMATS) == ALL_FORMATS
    assert all(isinstance(f, Format) and f.suffixes for f in FORMATS.values())
    assert ".traj" in registry.known_suffixes()


def test_every_fixture_has_a_known_format() -> None:
    on_disk = {p.relative_to(DATA).as_posix() for p in discover_files([DATA])} - {"labels.jsonl"}
    assert on_disk == set(FIXTURES)
    assert set(FIXTURES.values()) == set(FORMATS)  # every format has a fixture


@pytest.mark.parametrize(("name", "expected"), sorted(FIXTURES.items()))
def test_every_fixture_is_claimed_by_its_format_only(name: str, expected: str) -> None:
    assert registry.matching_formats(DATA / name) == [expected]
    assert detect_format(DATA / name) == expected


@pytest.mark.skipif(not REAL_SAMPLES.is_dir(), reason="shared/real-samples is not present in this checkout")
@pytest.mark.parametrize(("name", "expected"), sorted(REAL.items()))
def test_real_samples_are_claimed_by_their_format_only(name: str, expected: str) -> None:
    assert registry.matching_formats(REAL_SAMPLES / name) == [expected]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("", "openai_chat"),
        (" \n\n", "openai_chat"),
        ("not json\n" + CHAT_LINE + "\n", "openai_chat"),  # a bad first line does not hide the rest
        ("\ufeff" + CHAT_LINE, "openai_chat"),
        ("  [\n  ]", "tau_bench"),
        ('[{"task_id": 0, "traj": [', "tau_bench"),  # cut inside the first item
    ],
)
def test_detects_edge_cases(tmp_path: Path, data: str, expected: str) -> None:
    assert detect_format(write(tmp_path, "f.jsonl", data)) == expected


def test_first_line_longer_than_the_sniffed_head(tmp_path: Path) -> None:
    big = json.dumps({"messages": [{"role": "user", "content": "x" * (registry.SNIFF_BYTES + 10)}]})
    path = write(tmp_path, "big.jsonl", big + "\n")
    assert detect_format(path) == "openai_chat"
    (t,) = list(read_file(path))
    assert isinstance(t, Trajectory) and len(t.task) == registry.SNIFF_BYTES + 10


@pytest.mark.parametrize(
    "data",
    [
        "hello world",
        json.dumps({"name": "x", "items": [1, 2]}, indent=2),  # a pretty-printed object
        json.dumps({"history": [1, 2], "info": {}}),  # a history of non-messages is not SWE-agent
        json.dumps({"type": "user", "message": {"role": "user"}}) + "\n",  # Claude Code needs a sessionId
        json.dumps({"schema_version": "2.0", "steps": []}),
        json.dumps({"trajectory_format": "other-agent-1", "info": {}, "messages": []}, indent=1),
        "\x00\x01\x02\xff binary garbage",
    ],
)
def test_unknown_format_is_one_error_naming_the_formats_tried(tmp_path: Path, data: str) -> None:
    path = write(tmp_path, "f.json", data)
    assert registry.matching_formats(path) == []
    with pytest.raises(UnknownFormatError, match="tried " + ", ".join(ALL_FORMATS)):
        detect_format(path)
    with pytest.raises(UnknownFormatError):
        read_file(path)


def test_read_file_errors_are_raised_at_call_time(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match="known formats: " + ", ".join(ALL_FORMATS)):
        read_file(DATA / "chat_mixed.jsonl", fmt="no_such_format")
    with pytest.raises(FileNotFoundError):
        read_file(tmp_path / "missing.jsonl")
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        read_file(tmp_path / "missing.json", fmt="tau_bench")


def test_explicit_format_skips_detection(tmp_path: Path) -> None:
    path = write(tmp_path, "odd.txt", CHAT_LINE)
    assert [r.raw_id for r in read_file(path, fmt="openai_chat") if isinstance(r, Trajectory)] == ["line 1"]


def test_a_new_adapter_is_one_registry_entry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def read(source: Source) -> Iterator[Record]:
        for n, line in enumerate(source.path.read_text().split(), 1):
            yield Trajectory(id=source.make_id(f"line {n}"), source_format=source.format, task=line)

    toy = Format(
        name="toy", description="words", suffixes=(".toy",), sniff=lambda head: head.startswith("TOY"), read=read
    )
    monkeypatch.setitem(FORMATS, "toy", toy)
    path = write(tmp_path, "a.toy", "TOY words")
    assert detect_format(path) == "toy"
    assert [r.task for r in read_file(path) if isinstance(r, Trajectory)] == ["TOY", "words"]
    assert [p.name for p in discover_files([tmp_path])] == ["a.toy"]


def test_discover_files_walks_sorted_and_skips_hidden(tmp_path: Path) -> None:
    for name in [
        "b/2.jsonl",
        "b/1.json",
        "a.jsonl",
        "c/d/deep.ndjson",
        ".hidden.jsonl",
        ".git/x.jsonl",
        "README.md",
        "b/notes.txt",
    ]:
        write(tmp_path, name, "")
    found = discover_files([str(tmp_path)])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.jsonl",
        "b/1.json",
        "b/2.jsonl",
        "c/d/deep.ndjson",
    ]


def test_discover_files_keeps_named_files_and_deduplicates(tmp_path: Path) -> None:
    readme = write(tmp_path, "README.md", "")
    data = write(tmp_path, "x.jsonl", "")
    found = discover_files([readme, tmp_path, str(data)])
    assert found == [readme, data]
    assert discover_files([tmp_path / "README.md"], suffixes=[".md"]) == [readme]
    assert discover_files([], suffixes=None) == []


def test_discover_files_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"input path does not exist: .*nope"):
        discover_files([tmp_path, tmp_path / "nope"])
