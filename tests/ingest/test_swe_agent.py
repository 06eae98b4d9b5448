from __future__ import annotations

import json
from pathlib import Path

import pytest

from trace2skill.ingest import read_file
from trace2skill.schema import QuarantinedRecord, Trajectory

from .helpers import DATA, split


def one(path: Path) -> Trajectory:
    (record,) = list(read_file(path))
    assert isinstance(record, Trajectory)
    return record


def test_text_actions_skip_demos_and_pair_outputs() -> None:
    t = one(DATA / "swe_agent_text.traj")
    assert [(s.role, s.kind, s.tool_name) for s in t.steps] == [
        ("system", "message", None),
        ("user", "message", None),
        ("assistant", "message", None),
        ("assistant", "tool_call", "find_file"),
        ("tool", "observation", "find_file"),
        ("assistant", "message", None),  # no action: a format error follows
        ("user", "message", None),
        ("assistant", "message", None),
        ("assistant", "tool_call", "edit"),
        ("tool", "observation", "edit"),
        ("assistant", "message", None),
        ("assistant", "tool_call", "submit"),
        ("tool", "observation", "submit"),  # the last output comes from 'trajectory'
    ]
    assert json.loads(t.steps[8].tool_args or "")["command"].startswith("edit 12:12\n")
    assert "«naïve»" in t.task
    assert (t.raw_id, t.success, t.reward) == ("swe_agent_text", None, None)
    meta = t.metadata
    assert (meta["exit_status"], meta["instance_id"], meta["demonstration_messages_skipped"]) == (
        "submitted",
        "swe_agent_text",
        1,
    )
    assert "edited_files30" not in meta and meta["model_stats"]["api_calls"] == 4


def test_function_calling_history() -> None:
    t = one(DATA / "swe_agent_fc.traj")
    assert [(s.role, s.kind, s.tool_name, s.tool_call_id) for s in t.steps] == [
        ("system", "message", None, None),
        ("user", "message", None, None),
        ("assistant", "reasoning", None, None),
        ("assistant", "message", None, None),
        ("assistant", "tool_call", "str_replace_editor", "toolu_01"),
        ("tool", "observation", "str_replace_editor", "toolu_01"),
        ("assistant", "tool_call", "submit", "toolu_02"),  # an empty turn that only calls a tool
        ("tool", "observation", "submit", "toolu_02"),
    ]
    assert t.steps[4].tool_args == '{"command": "view", "path": "/repo/src/dates.py"}'
    assert t.task.startswith("<uploaded_files>/repo</uploaded_files>\nFix parse_date()")


def test_trajectory_only_file(tmp_path: Path) -> None:
    doc = json.loads((DATA / "swe_agent_text.traj").read_text(encoding="utf-8"))
    del doc["history"]
    doc["trajectory"][0]["query"] = [{"role": "system", "content": "sys"}, {"role": "user", "content": "the issue"}]
    path = tmp_path / "inst-9.traj"
    path.write_text(json.dumps(doc), encoding="utf-8")
    t = one(path)
    assert t.metadata["steps_from"] == "trajectory" and t.task == "the issue" and t.raw_id == "inst-9"
    assert [s.index for s in t.steps] == list(range(len(t.steps)))
    assert sum(s.kind == "tool_call" for s in t.steps) == 3


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        ({"history": [{"role": "critic", "content": "x"}], "info": {}}, "history message 0 has unknown role 'critic'"),
        ({"history": [], "trajectory": [], "info": {}}, "file has neither 'history' nor 'trajectory' steps"),
        ({"history": [{"role": "user", "content": "x"}], "info": []}, "'info' is an array, expected an object"),
    ],
)
def test_bad_files_are_one_quarantined_record(tmp_path: Path, doc: object, reason: str) -> None:
    path = tmp_path / "x.traj"
    path.write_text(json.dumps(doc), encoding="utf-8")
    (q,) = list(read_file(path, fmt="swe_agent"))
    assert isinstance(q, QuarantinedRecord) and (q.location, q.reason) == ("file", reason)


def test_mini_swe_agent_text_actions() -> None:
    t = one(DATA / "mini_v1.traj.json")
    calls = [s for s in t.steps if s.kind == "tool_call"]
    assert [json.loads(c.tool_args or "")["command"] for c in calls] == [
        'grep -rn "encode" src/export.py',
        "sed -i \"s/'ascii', 'ignore'/'utf-8'/\" src/export.py && echo MINI_SWE_AGENT_FINAL_OUTPUT && git diff",
    ]
    # Two code blocks is a format error: the reply stays a message and the complaint a user turn.
    assert [(s.role, s.kind) for s in t.steps[5:7]] == [("assistant", "message"), ("user", "message")]
    assert t.steps[4].kind == "observation" and t.steps[4].content.startswith("<returncode>0</returncode>")
    assert (t.raw_id, t.metadata["model_name"], t.metadata["trajectory_format"]) == (
        "mini_v1",
        "claude-sonnet-4",
        "mini-swe-agent-1",
    )
    assert "config" not in t.metadata and t.success is None


def test_mini_swe_agent_tool_calls_and_exit_message() -> None:
    t = one(DATA / "mini_v2.traj.json")
    assert [(s.role, s.kind, s.tool_call_id) for s in t.steps] == [
        ("system", "message", None),
        ("user", "message", None),
        ("assistant", "tool_call", "call_a"),
        ("tool", "observation", "call_a"),
        ("assistant", "tool_call", "call_b"),
        ("tool", "observation", "call_b"),
    ]
    assert t.task == "Fix the failing test in tests/test_api.py\n[image]"
    assert t.metadata["exit"] == {"exit_status": "Submitted", "submission": "diff"}
    assert json.loads(t.steps[2].tool_args or "")["command"] == 'pytest -x tests/test_api.py -k "name with spaces"'


def test_mini_swe_agent_unknown_role(tmp_path: Path) -> None:
    path = tmp_path / "run.traj.json"
    path.write_text(
        json.dumps(
            {"info": {}, "messages": [{"role": "wizard", "content": "x"}], "trajectory_format": "mini-swe-agent-1"}
        ),
        encoding="utf-8",
    )
    (q,) = split(list(read_file(path)))[1]
    assert q.reason == "message 0 has unknown role 'wizard'"


def test_an_info_report_becomes_the_grader_view(tmp_path: Path) -> None:
    doc = json.loads((DATA / "swe_agent_text.traj").read_text(encoding="utf-8"))
    doc["info"]["report"] = {"resolved": False, "tests_status": {"FAIL_TO_PASS": {"success": [], "failure": ["test_a"]}}}
    doc["info"]["test_output"] = "x" * 30_000 + "FAILED test_a"
    path = tmp_path / "inst-3.traj"
    path.write_text(json.dumps(doc), encoding="utf-8")
    t = one(path)
    assert t.grader.source == "swe_agent info" and t.grader.verdict == "unresolved"
    assert [(c.kind, c.name, c.passed) for c in t.grader.checks] == [("FAIL_TO_PASS", "test_a", False)]
    assert t.grader.test_output.endswith("FAILED test_a") and len(t.grader.test_output) < 21_000  # the tail is kept
    assert "report" not in t.metadata and "test_output" not in t.metadata
    assert one(DATA / "swe_agent_text.traj").grader is None  # no evaluation in the file, no view


def test_mini_swe_agent_info_report_becomes_the_grader_view(tmp_path: Path) -> None:
    doc = json.loads((DATA / "mini_v2.traj.json").read_text(encoding="utf-8"))
    doc["info"]["tests_status"] = {"PASS_TO_PASS": {"success": [], "failure": ["test_keep"]}}
    doc["info"]["resolved"] = False
    path = tmp_path / "inst-4.traj.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    t = one(path)
    assert (t.grader.source, t.grader.verdict) == ("mini_swe_agent info", "unresolved")
    assert [(c.kind, c.name, c.passed) for c in t.grader.checks] == [("PASS_TO_PASS", "test_keep", False)]
    assert "tests_status" not in t.metadata
