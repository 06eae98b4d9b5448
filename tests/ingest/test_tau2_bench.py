from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from trace2skill.ingest import read_file
from trace2skill.schema import QuarantinedRecord, Trajectory

from .helpers import DATA, first_record_peak, split

RESULTS = DATA / "tau2_results.json"


def read_results(threshold: float = 1.0) -> tuple[dict[str, Trajectory], dict[str, QuarantinedRecord]]:
    ok, bad = split(list(read_file(RESULTS, success_threshold=threshold)))
    return {t.raw_id: t for t in ok}, {q.location: q for q in bad}


def test_every_simulation_is_one_record() -> None:
    ok, bad = read_results()
    assert list(ok) == ["0:0", "1:0", "1:1", "0:2"]
    assert list(bad) == ["item 2", "item 4", "item 5", "item 7"]
    assert bad["item 2"].reason == "message 1 has unknown role 'narrator'"
    assert bad["item 4"].reason == "simulation has no 'messages' (full-duplex 'ticks' are not read)"
    assert bad["item 5"].reason == "'task_id' is a boolean, expected a string or an integer"
    assert bad["item 7"].reason == "simulation is a string, expected an object"


def test_outcome_from_reward_info_and_termination() -> None:
    ok, _ = read_results()
    assert [(t.success, t.reward) for t in ok.values()] == [(True, 1.0), (False, 0.0), (None, None), (False, 0.5)]
    assert read_results(threshold=0.5)[0]["0:2"].success is True


def test_tool_calls_multi_tool_results_and_task_text() -> None:
    t = read_results()[0]["0:0"]
    kinds = [(s.role, s.kind, s.tool_name) for s in t.steps]
    assert kinds[2:6] == [
        ("assistant", "tool_call", "get_reservation_details"),
        ("assistant", "tool_call", "get_user_details"),
        ("tool", "observation", "get_reservation_details"),
        ("tool", "observation", "get_user_details"),
    ]
    # Arguments are the agent's object as JSON text, JSON-in-string values untouched.
    assert json.loads(json.loads(t.steps[3].tool_args or "")["filters"]) == {"fields": ["payment_methods"]}
    assert t.steps[1].content == "Je voudrais annuler ma réservation EHGLP3 ✈️ (予約番号)"
    assert t.task.startswith("Reason for call: You want to cancel reservation EHGLP3.\nKnown info:")
    meta = t.metadata
    assert (meta["domain"], meta["agent_llm"], meta["termination_reason"], meta["simulation_id"]) == (
        "airline",
        "gpt-4.1",
        "user_stop",
        "sim-0a",
    )
    assert json.loads(t.grader.expected_actions[0])["name"] == "cancel_reservation"
    assert [(c.kind, c.passed, c.score) for c in t.grader.checks] == [("db", True, 1.0)]
    assert "reward_info" not in meta and "expected_actions" not in meta  # moved to the grader view
    assert (meta["task_id"], meta["trial"]) == ("0", 0)


def test_user_tool_calls_and_empty_assistant_turn() -> None:
    t = read_results()[0]["1:0"]
    call = next(s for s in t.steps if s.kind == "tool_call")
    assert (call.role, call.tool_name, call.tool_args) == ("user", "check_status_bar", "{}")
    assert t.steps[-2].role == "assistant" and t.steps[-2].content == ""
    assert t.task == "Your phone has no signal. Turn airplane mode off."


def test_single_simulation_file_takes_tasks_from_results_json(tmp_path: Path) -> None:
    doc = json.loads(RESULTS.read_text(encoding="utf-8"))
    run = doc["simulations"][0]
    (tmp_path / "simulations").mkdir()
    (tmp_path / "simulations" / "sim-0a.json").write_text(json.dumps(run), encoding="utf-8")
    alone = tmp_path / "elsewhere.json"
    alone.write_text(json.dumps(run), encoding="utf-8")
    (t,) = list(read_file(alone))
    assert isinstance(t, Trajectory) and t.task.startswith("Je voudrais")  # no tasks: the first user message
    shutil.copy(RESULTS, tmp_path / "results.json")
    (t,) = list(read_file(tmp_path / "simulations" / "sim-0a.json"))
    assert isinstance(t, Trajectory) and t.task.startswith("Reason for call:") and t.metadata["domain"] == "airline"


def test_results_json_of_the_directory_layout_has_no_records(tmp_path: Path) -> None:
    doc = json.loads(RESULTS.read_text(encoding="utf-8"))
    doc["simulations"] = []
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert list(read_file(path)) == []


def _write_results(path: Path, doc: dict[str, Any], sims: Iterable[str], tail: str = "]}") -> None:
    """A results file with ``doc``'s other fields first, then ``sims`` (JSON texts) as its simulations."""
    head = json.dumps({k: v for k, v in doc.items() if k != "simulations"})
    with path.open("w", encoding="utf-8") as fh:
        fh.write(head[:-1] + ', "simulations": [')
        for i, sim in enumerate(sims):
            fh.write(("," if i else "") + sim)
        fh.write(tail)


def test_truncated_results_keep_the_simulations_before_the_cut(tmp_path: Path) -> None:
    doc = json.loads(RESULTS.read_text(encoding="utf-8"))
    sims = [json.dumps(s) for s in doc["simulations"][:4]]
    sims[3] = sims[3][: len(sims[3]) // 2]
    path = tmp_path / "results.json"
    _write_results(path, doc, sims, tail="")
    records = list(read_file(path))
    assert [type(r) for r in records] == [Trajectory, Trajectory, QuarantinedRecord, QuarantinedRecord]
    assert [r.raw_id for r in records[:2] if isinstance(r, Trajectory)] == ["0:0", "1:0"]
    assert records[0].task.startswith("Reason for call:")  # tasks still read for the intact runs
    q = records[3]
    assert isinstance(q, QuarantinedRecord) and q.location == "item 3"
    assert q.reason.startswith("file is not valid JSON from item 3 on (truncated or corrupt?): ")


def test_tasks_and_info_after_the_simulations_are_still_used(tmp_path: Path) -> None:
    doc = json.loads(RESULTS.read_text(encoding="utf-8"))
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"simulations": doc["simulations"], "info": doc["info"], "tasks": doc["tasks"]}))
    assert [(t.task, t.metadata) for t in read_results()[0].values()] == [
        (t.task, t.metadata) for t in split(list(read_file(path)))[0]
    ]


def test_a_large_results_file_streams_simulation_by_simulation(tmp_path: Path) -> None:
    doc = json.loads(RESULTS.read_text(encoding="utf-8"))
    sim = doc["simulations"][0]
    path = tmp_path / "results.json"  # ~30 MB of simulations, written without holding them
    _write_results(path, doc, (json.dumps({**sim, "trial": i}) for i in range(18_000)))
    first, peak = first_record_peak(path, "tau2_bench")
    assert isinstance(first, Trajectory) and peak < path.stat().st_size / 20  # a read buffer and one run, not the file


def test_grader_view_keeps_every_check_of_a_failed_run() -> None:
    from trace2skill.ingest.tau2_bench import grader_view

    task = {"evaluation_criteria": {"actions": [{"name": "refund", "arguments": {"amount": 10}}], "communicate_info": ["10 USD"]}}
    reward_info = {
        "reward": 0.0,
        "db_check": {"db_match": False, "db_reward": 0.0},
        "action_checks": [{"action": {"name": "refund", "arguments": {"amount": 10}}, "action_match": False, "action_reward": 0.0}],
        "nl_assertions": [{"nl_assertion": "Agent explains the fee", "met": True, "justification": "it did"}],
        "communicate_checks": [{"info": "10 USD", "met": False, "justification": "never said"}],
        "reward_breakdown": {"DB": 0.0, "COMMUNICATE": 0.0},
    }
    view = grader_view(task, reward_info)
    assert view.reference_answers == ["10 USD"] and json.loads(view.expected_actions[0])["name"] == "refund"
    assert [(c.kind, c.name, c.passed) for c in view.checks] == [
        ("db", "database state", False),
        ("action", "refund", False),
        ("assertion", "Agent explains the fee", True),
        ("communicate", "10 USD", False),
        ("reward", "DB", False),
        ("reward", "COMMUNICATE", False),
    ]
    assert view.checks[3].detail == "never said"
    assert grader_view({}, None) is None
