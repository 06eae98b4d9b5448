"""Property-based fuzzing of every ingest adapter: arbitrary bytes, cut files, deep nesting,
huge strings, random JSON in every slot, and a folder of mixed formats.

The properties: ``read_file`` never raises on record-level damage; every output is a
Trajectory or a QuarantinedRecord that fits the Arrow schemas; every non-blank line of a
line-per-record file is accounted for; records that were intact stay intact. The fixed
cases (one cut at 70%, four garbage files, one value of the wrong type at a time) are in
tests/ingest/test_robustness.py and test_wrong_types.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ingest.helpers import DATA, split
from tests.ingest.test_robustness import BUILDERS
from trace2skill.ingest import FORMATS, detect_format, discover_files, read_file
from trace2skill.pipeline.read import plan_inputs
from trace2skill.schema import QUARANTINE_SCHEMA, TRAJECTORY_SCHEMA, Trajectory, to_table

FIXTURES = [p for p in discover_files([DATA]) if p.name != "labels.jsonl"]
# Formats where one non-blank JSONL line is exactly one record.
LINE_FORMATS = ("openai_chat", "sharegpt", "openhands")
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _read(path: Path, fmt: str) -> tuple[list, list]:
    ok, bad = split(list(read_file(path, fmt=fmt)))
    assert to_table(ok, TRAJECTORY_SCHEMA).num_rows == len(ok)  # storable: no lone surrogates, right types
    assert to_table(bad, QUARANTINE_SCHEMA).num_rows == len(bad)
    assert all(q.reason for q in bad)
    return ok, bad


def _valid_line(fmt: str) -> str:
    """One intact JSONL record of ``fmt``."""
    if fmt == "openhands":  # its builder writes the event-array form; take an evaluation output line
        return (DATA / "openhands_output.jsonl").read_text(encoding="utf-8").splitlines()[0]
    name, text = BUILDERS[fmt](3)
    assert name.endswith(".jsonl")
    return text.strip()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@FUZZ
@given(data=st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(tmp_path: Path, fmt: str, data: bytes) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    ok, bad = _read(path, fmt)
    if not ok and not bad:  # nothing came out: only right for a file that held no record at all
        assert _holds_no_record(data.decode("utf-8", "replace").removeprefix("\ufeff"))


def _holds_no_record(text: str) -> bool:
    for chunk in (text, *text.splitlines()):
        if not chunk.strip():
            continue
        try:
            if json.loads(chunk) not in (None, [], {}):
                return False
        except ValueError:
            if chunk is text and len(text.splitlines()) > 1:
                continue  # not one document; judged line by line
            return False
    return True


@pytest.mark.parametrize("fmt", LINE_FORMATS)
@FUZZ
@given(lines=st.lists(st.one_of(st.text(max_size=80), JSON.map(json.dumps)), max_size=12), at=st.integers(0, 12))
def test_every_line_is_accounted_for_and_the_intact_record_kept(tmp_path: Path, fmt: str, lines: list[str], at: int) -> None:
    good = _valid_line(fmt)
    garbage = [line.replace("\n", " ").replace("\r", " ") for line in lines]
    mixed = garbage[:at] + [good] + garbage[at:]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(mixed), encoding="utf-8")
    ok, bad = _read(path, fmt)
    # Ingest splits bytes; a byte-order mark opening the file is the encoding's, not a record.
    mixed[0] = mixed[0].removeprefix("\ufeff")
    assert len(ok) + len(bad) == sum(1 for line in mixed if line.encode().strip())
    alone = tmp_path / "alone.jsonl"
    alone.write_text(good, encoding="utf-8")
    (reference,) = _read(alone, fmt)[0]
    assert any(t.steps == reference.steps and t.task == reference.task for t in ok)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0.01, 0.99))
def test_a_file_cut_anywhere_keeps_only_whole_records(tmp_path: Path, path: Path, cut: float) -> None:
    fmt = detect_format(path)
    whole = {t.raw_id: t for t in _read(path, fmt)[0]}
    data = path.read_bytes()
    copy = tmp_path / path.name
    copy.write_bytes(data[: max(1, int(len(data) * cut))])
    ok, bad = _read(copy, fmt)
    if fmt in LINE_FORMATS:  # a record that survives is one the whole file had, unchanged
        assert all(t.raw_id in whole and t.steps == whole[t.raw_id].steps for t in ok)
    assert ok or bad or not data[: int(len(data) * cut)].strip()


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting_is_quarantined_not_a_crash(tmp_path: Path, fmt: str, depth: int) -> None:
    deep = "[" * depth + "]" * depth
    path = tmp_path / "deep.jsonl"
    if fmt in LINE_FORMATS:
        good = _valid_line(fmt)
        path.write_text(f'{good}\n{{"messages": {deep}}}\n{{"metadata": {{"x": {deep}}}, "messages": []}}\n{good}\n')
        ok, bad = _read(path, fmt)
        assert len(ok) == 2 and len(bad) == 2
    else:
        path.write_text(f'{{"x": {deep}}}')
        ok, bad = _read(path, fmt)
        assert not ok and len(bad) == 1


@pytest.mark.parametrize("fmt", LINE_FORMATS)
def test_huge_strings_are_read_whole(tmp_path: Path, fmt: str) -> None:
    """An 8 MB observation is kept as it is (the analysts' renderer cuts it to fit later)."""
    record = json.loads(_valid_line(fmt))
    _grow_longest_string(record, 8_000_000)
    path = tmp_path / "huge.jsonl"
    path.write_text(json.dumps(record) + "\n" + "z" * 3_000_000 + "\n")
    ok, bad = _read(path, fmt)
    assert len(ok) == 1 and len(bad) == 1
    assert max(len(s.content) + len(s.tool_args or "") for s in ok[0].steps) + len(ok[0].task) >= 8_000_000
    assert len(bad[0].excerpt) <= 200


def _grow_longest_string(node: dict | list, size: int) -> None:
    """Pad the longest string inside ``node`` (a message or an observation) to ``size`` characters."""
    best: tuple[int, dict | list, object] = (-1, node, None)
    stack = [node]
    while stack:
        parent = stack.pop()
        for key, value in parent.items() if isinstance(parent, dict) else enumerate(parent):
            if isinstance(value, str) and len(value) > best[0]:
                best = (len(value), parent, key)
            elif isinstance(value, dict | list):
                stack.append(value)
    _, parent, key = best
    parent[key] = parent[key] + "y" * size  # type: ignore[index]


@pytest.mark.parametrize("fmt", LINE_FORMATS)
@FUZZ
@given(value=JSON, key=st.sampled_from(["messages", "conversations", "history", "success", "reward", "metadata", "id", "instance_id", "test_result"]))
def test_random_json_in_any_top_level_slot(tmp_path: Path, fmt: str, value: object, key: str) -> None:
    record = json.loads(_valid_line(fmt))
    record[key] = value
    path = tmp_path / "slot.jsonl"
    path.write_text(json.dumps(record) + "\n" + _valid_line(fmt) + "\n")
    ok, bad = _read(path, fmt)
    assert len(ok) + len(bad) == 2 and len(ok) >= 1


@FUZZ
@given(messages=st.lists(st.dictionaries(st.sampled_from(["role", "content", "tool_calls", "tool_call_id", "name", "function_call"]), JSON, max_size=5), max_size=6))
def test_random_chat_messages(tmp_path: Path, messages: list) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps({"messages": messages}) + "\n")
    ok, bad = _read(path, "openai_chat")
    assert len(ok) + len(bad) == 1


def test_a_folder_of_mixed_formats(tmp_path: Path) -> None:
    """Every fixture, plus a damaged copy of each, in one folder tree: each file is detected as
    its own format and read as if it were alone; ids never collide across files."""
    folder = tmp_path / "mixed"
    expected: dict[str, tuple[str, int]] = {}
    for i, src in enumerate(FIXTURES):
        for damaged in (False, True):
            dest = folder / f"d{i % 3}" / (f"cut_{src.name}" if damaged else src.name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            data = src.read_bytes()
            dest.write_bytes(data[: int(len(data) * 0.8)] if damaged else data)
            if not damaged and src.parent == DATA:  # Claude Code files read with their siblings
                expected[dest.name] = (detect_format(src), len(list(read_file(src))))
    (folder / "notes.txt").write_text("not an input")
    shutil.copytree(DATA / "claude_code", folder / "d0" / "claude_code", dirs_exist_ok=True)
    plan = plan_inputs([str(folder)])  # what a run reads: per file its format and id scope
    assert not any(row["path"].endswith("notes.txt") for row in plan)
    ids: set[str] = set()
    total = 0
    for row in plan:
        path, fmt = Path(row["path"]), row["format"]
        ok, bad = split(list(read_file(path, fmt=fmt, id_scope=row["scope"])))
        records = [*(t.id for t in ok), *(q.trajectory_id for q in bad)]
        assert len(set(records)) == len(records)
        ids |= set(records)
        total += len(records)
        if path.name in expected:
            assert (fmt, len(records)) == expected[path.name]
    assert len(ids) == total
    assert all(isinstance(t, Trajectory) for t in read_file(FIXTURES[0]))


@pytest.mark.parametrize("fmt", ["sharegpt", "openhands"])
@pytest.mark.parametrize("first", ["[", '["an", "array"]', '[{"conversations": []}'])
def test_a_jsonl_file_starting_with_a_bracket_is_still_read_line_by_line(tmp_path: Path, fmt: str, first: str) -> None:
    """These formats also read JSON-array files; a .jsonl file whose first line opens with
    '[' must not be taken for one (that quarantined the whole file, intact lines included)."""
    path = tmp_path / "runs.jsonl"
    path.write_text(f"{first}\n{_valid_line(fmt)}\n{_valid_line(fmt)}\n")
    ok, bad = _read(path, fmt)
    assert (len(ok), len(bad)) == (2, 1) and bad[0].location == "line 1"
