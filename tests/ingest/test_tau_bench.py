from __future__ import annotations

import json
from pathlib import Path

import pytest

from trace2skill.ingest import read_file
from trace2skill.schema import QuarantinedRecord, Trajectory, stable_id

from .helpers import DATA, first_record_peak, split

RESULTS = DATA / "tau_results.json"
TRUNCATED = DATA / "tau_truncated.json"


def read_results(success_threshold: float = 1.0) -> tuple[dict[str, Trajectory], dict[str, QuarantinedRecord]]:
    ok, bad = split(list(read_file(RESULTS, success_threshold=success_threshold)))
    return {t.raw_id: t for t in ok}, {q.location: q for q in bad}


def item(task_id: object = 0, trial: object = 0, **fields: object) -> dict[str, object]:
    record: dict[str, object] = {
        "task_id": task_id,
        "reward": 1.0,
        "info": {},
        "traj": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}],
        "trial": trial,
    }
    record.update(fields)
    return record


def write_items(tmp_path: Path, items: list[object]) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


def test_every_item_is_one_record() -> None:
    ok, bad = split(list(read_file(RESULTS)))
    assert [t.raw_id for t in ok] == ["0:0", "0:1", "2:0"]
    assert [q.location for q in bad] == ["item 2", "item 4", "item 5", "item 6"]
    assert all(t.source_format == "tau_bench" and t.source_file == str(RESULTS) for t in ok)


def test_ids_are_stable_ids_of_task_and_trial() -> None:
    ok, bad = read_results()
    assert ok["0:1"].id == stable_id("tau_bench", "tau_results.json", "0:1", prefix="t-")
    assert bad["item 4"].trajectory_id == stable_id("tau_bench", "tau_results.json", "item 4", prefix="t-")
    assert ok["0:1"].id == read_results()[0]["0:1"].id


def test_success_follows_reward_and_threshold() -> None:
    ok, _ = read_results()
    assert [(ok[k].success, ok[k].reward) for k in ("0:0", "0:1", "2:0")] == [(True, 1.0), (False, 0.0), (False, 0.5)]
    assert read_results(success_threshold=0.5)[0]["2:0"].success is True


def test_task_is_the_instruction_and_the_conversation_is_kept() -> None:
    t = read_results()[0]["0:1"]
    assert t.task.startswith("Your user id is mia_li_3668. You want to fly")
    assert [(s.index, s.role, s.kind) for s in t.steps] == [
        (0, "system", "message"),
        (1, "user", "message"),
        (2, "assistant", "tool_call"),
        (3, "tool", "observation"),
        (4, "assistant", "message"),
        (5, "user", "message"),
    ]
    assert t.steps[1].content == "Hello! Booking please."
    assert (t.steps[2].tool_name, t.steps[2].tool_args) == ("get_user_details", '{"user_id": "mia_li_3668"}')
    assert t.steps[3].tool_call_id == "call_a1"


def test_without_instruction_the_task_is_the_first_user_message() -> None:
    assert read_results()[0]["2:0"].task == "Bonjour, je veux annuler ma réservation ✈️"


def test_metadata_keeps_the_run_and_the_grader_view_keeps_what_the_grader_knew() -> None:
    traj = read_results()[0]["0:0"]
    meta = traj.metadata
    assert (meta["task_id"], meta["trial"], meta["user_id"]) == (0, 0, "mia_li_3668")
    assert (meta["source"], meta["user_cost"]) == ("user", 0.012)
    assert "reward_info" not in meta and "expected_actions" not in meta  # moved to the grader view
    grader = traj.grader
    assert grader is not None and grader.source == "tau_bench info"
    assert json.loads(grader.expected_actions[0])["name"] == "book_reservation"
    assert [(c.kind, c.name, c.score, c.passed) for c in grader.checks] == [("reward", "actions", 1.0, True)]


def test_grader_view_of_a_failed_run_with_outputs() -> None:
    from trace2skill.ingest.tau_bench import grader_view

    info = {
        "task": {"actions": [{"name": "cancel", "kwargs": {"id": "X1"}}], "outputs": ["327"]},
        "reward_info": {"reward": 0.0, "info": {"r_actions": 0.0, "r_outputs": 0.0, "outputs": {"327": False}}},
    }
    view = grader_view(info)
    assert view.expected_actions == ['{"kwargs": {"id": "X1"}, "name": "cancel"}']
    assert view.reference_answers == ["327"]
    assert [(c.kind, c.name, c.passed) for c in view.checks] == [("reward", "actions", False), ("reward", "outputs", False), ("output", "327", False)]
    assert grader_view({"task": {"actions": [], "outputs": []}, "reward_info": {"reward": 0.0}}) is None  # nothing to show


def test_quarantine_reasons() -> None:
    bad = read_results()[1]
    assert bad["item 2"].reason == "'traj' is empty (run error: RateLimitError: too many requests)"
    assert bad["item 4"].reason == "message 1 has unknown role 'narrator'"
    assert bad["item 5"].reason == "item is a string, expected an object"
    assert bad["item 6"].reason == "'reward' is a string, expected a number"
    assert bad["item 4"].excerpt.startswith('{"task_id": 3') and len(bad["item 4"].excerpt) <= 200


def test_truncated_file_keeps_the_items_before_the_cut() -> None:
    records = list(read_file(TRUNCATED))
    assert [type(r) for r in records] == [Trajectory, Trajectory, QuarantinedRecord]
    assert [r.raw_id for r in records[:2]] == ["0:0", "0:1"]
    q = records[2]
    assert (q.location, q.source_file, q.source_format) == ("item 2", str(TRUNCATED), "tau_bench")
    assert q.reason == "file is not valid JSON from item 2 on (truncated or corrupt?): parse error: premature EOF"
    assert q.trajectory_id == stable_id("tau_bench", "tau_truncated.json", "item 2", prefix="t-")


def test_a_large_array_streams_item_by_item(tmp_path: Path) -> None:
    item = json.loads(RESULTS.read_text())[0]
    path = tmp_path / "big.json"
    with path.open("w") as fh:  # ~25 MB of results, written without holding them
        fh.write("[")
        for i in range(20_000):
            fh.write(("," if i else "") + json.dumps({**item, "task_id": i}))
        fh.write("]")
    first, peak = first_record_peak(path, "tau_bench")
    assert isinstance(first, Trajectory) and peak < path.stat().st_size / 20  # a read buffer and one item, not the file


def test_non_array_document_is_one_quarantined_record(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text('{"task_id": 0}', encoding="utf-8")
    (q,) = list(read_file(path, fmt="tau_bench"))
    assert isinstance(q, QuarantinedRecord) and q.reason == "file holds an object, expected a JSON array"


@pytest.mark.parametrize("data", [b"", b"  \n", b"[]"])
def test_empty_file_yields_nothing(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "results.json"
    path.write_bytes(data)
    assert list(read_file(path, fmt="tau_bench")) == []


def test_undecodable_bytes_quarantine_only_their_item(tmp_path: Path) -> None:
    good = json.dumps(item(0)).encode()
    bad = json.dumps(item(1)).encode().replace(b'"hello"', b'"hel\xff\xfelo"')
    path = tmp_path / "results.json"
    path.write_bytes(b"[" + good + b", " + bad + b"]")
    ok, quarantined = split(list(read_file(path)))
    assert [t.raw_id for t in ok] == ["0:0"]
    assert quarantined[0].location == "item 1" and "not valid UTF-8" in quarantined[0].reason


def test_repeated_and_partial_ids(tmp_path: Path) -> None:
    path = write_items(tmp_path, [item(0, 0), item(0, 0), item("a-7", None), item(True, 0), item(1, "x")])
    ok, bad = split(list(read_file(path)))
    assert [t.raw_id for t in ok] == ["0:0", "0:0@item 1", "a-7"]
    assert len({t.id for t in ok}) == 3
    assert [q.reason for q in bad] == [
        "'task_id' is a boolean, expected an integer or a string",
        "'trial' is a string, expected an integer",
    ]


def test_missing_reward_is_unknown_outcome(tmp_path: Path) -> None:
    record = item()
    del record["reward"]
    (t,) = list(read_file(write_items(tmp_path, [record])))
    assert isinstance(t, Trajectory) and (t.success, t.reward) == (None, None)
