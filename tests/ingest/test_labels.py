from __future__ import annotations

import json
from pathlib import Path

import pytest

from trace2skill.ingest import Label, LabelsError, apply_labels, read_file, read_labels
from trace2skill.schema import Trajectory

from .helpers import DATA, split

LABELS = DATA / "labels.jsonl"


def test_read_labels_jsonl() -> None:
    labels = read_labels(LABELS)
    assert labels == {
        "swe_agent_text": Label(success=True),
        "astropy__astropy-12907": Label(success=False),
        "7d3c1a52-4a8e-4f51-9d0e-1b2c3d4e5f60": Label(reward=1.0),
        "0:2": Label(reward=1.0),
    }


def test_labels_join_onto_any_format() -> None:
    labels = read_labels(LABELS)
    (swe,) = list(read_file(DATA / "swe_agent_text.traj", labels=labels))
    assert isinstance(swe, Trajectory) and (swe.success, swe.metadata["label_id"]) == (True, "swe_agent_text")
    claude = split(list(read_file(DATA / "claude_code" / "7d3c1a52-4a8e-4f51-9d0e-1b2c3d4e5f60.jsonl", labels=labels)))[
        0
    ][0]
    assert (claude.success, claude.reward) == (True, 1.0)
    oh = split(list(read_file(DATA / "openhands_output.jsonl", labels=labels)))[0][0]
    # A label overrides what the file said; the file's own outcome is kept.
    assert (oh.success, oh.metadata["source_outcome"]) == (False, {"success": True, "reward": None})
    tau2 = {
        t.raw_id: t for t in split(list(read_file(DATA / "tau2_results.json", labels=labels, success_threshold=0.9)))[0]
    }
    assert (tau2["0:2"].success, tau2["0:2"].reward) == (True, 1.0)
    assert tau2["0:0"].metadata.get("label_id") is None


def test_label_by_trajectory_id_and_threshold() -> None:
    (t,) = list(read_file(DATA / "mini_v1.traj.json"))
    assert isinstance(t, Trajectory)
    labelled = apply_labels(t, {t.id: Label(reward=0.4)}, success_threshold=0.5)
    assert (labelled.success, labelled.reward, labelled.metadata["label_id"]) == (False, 0.4, t.id)
    assert apply_labels(t, {"other": Label(success=True)}) is t


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            json.dumps({"resolved_ids": ["a"], "unresolved_ids": ["b"], "error_ids": ["c"]}),
            {"a": True, "b": False, "c": False},
        ),
        (json.dumps({"a": {"resolved": True, "tests_status": {}}, "b": False}), {"a": True, "b": False}),
        (json.dumps([{"trajectory_id": "t-1", "success": True}]), {"t-1": True}),
        (json.dumps({"instance_id": "x", "resolved": False}), {"x": False}),
        (json.dumps({"instance_id": "y", "test_result": {"report": {"resolved": True}}}), {"y": True}),
    ],
)
def test_other_label_layouts(tmp_path: Path, text: str, expected: dict[str, bool]) -> None:
    path = tmp_path / "labels.json"
    path.write_text(text, encoding="utf-8")
    assert {k: v.success for k, v in read_labels(path).items()} == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"instance_id": "a"}', "neither 'success' nor 'reward'"),
        ('{"success": true}', "row has none of trajectory_id, instance_id, session_id, task_id"),
        ('{"instance_id": "a", "success": "yes"}', "'success' is a string, expected a boolean"),
        ('{"instance_id": "a", "reward": "1"}', "'reward' is '1', expected a finite number"),
        (
            '{"instance_id": "a", "success": true}\n{"instance_id": "a", "success": false}',
            "already has a different label",
        ),
        ('{"instance_id": "a", "success": true}\nnot json', "line 2: invalid JSON"),
    ],
)
def test_bad_labels_files_raise(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(line, encoding="utf-8")
    with pytest.raises(LabelsError, match=message):
        read_labels(path)


def test_swebench_report_labels_carry_the_grader_view(tmp_path: Path) -> None:
    report = {
        "django__django-1": {
            "patch_successfully_applied": True,
            "resolved": False,
            "tests_status": {
                "FAIL_TO_PASS": {"success": [], "failure": ["tests/test_dates.py::test_parse_iso"]},
                "PASS_TO_PASS": {"success": ["tests/test_dates.py::test_parse_plain"], "failure": []},
            },
        }
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    label = read_labels(path)["django__django-1"]
    grader = label.grader
    assert label.success is False and grader is not None and grader.verdict == "unresolved"
    assert [(c.kind, c.name, c.passed) for c in grader.checks] == [
        ("FAIL_TO_PASS", "tests/test_dates.py::test_parse_iso", False),
        ("PASS_TO_PASS", "tests/test_dates.py::test_parse_plain", True),
        ("harness", "patch applied", True),
    ]
    traj = Trajectory(id="t", source_format="swe_agent", raw_id="django__django-1", steps=[], metadata={"instance_id": "django__django-1"})
    assert apply_labels(traj, read_labels(path)).grader == grader


def test_openhands_eval_line_carries_its_test_output(tmp_path: Path) -> None:
    line = {"instance_id": "y", "test_result": {"report": {"resolved": False}, "test_output": "FAILED test_x - AssertionError"}}
    path = tmp_path / "output.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    grader = read_labels(path)["y"].grader
    assert grader.verdict == "unresolved" and grader.test_output == "FAILED test_x - AssertionError"
