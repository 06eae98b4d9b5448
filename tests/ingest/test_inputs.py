"""What a folder of inputs holds (ingest.inputs): sidecars read as labels, other files skipped
with a warning, --include/--exclude; and the preflight that stops a run with no outcome at all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from trace2skill.ingest import read_file
from trace2skill.ingest.inputs import selected, sort_inputs
from trace2skill.pipeline.read import input_plan
from trace2skill.run.outcomes import NoOutcomeError, check_outcomes
from trace2skill.schema import Trajectory

HERE = Path(__file__).parent
MINI = HERE / "sidecars" / "mini_swe_agent"
DATA = HERE / "data"


def trajectories(found) -> list[Trajectory]:
    labels = found.with_labels(None)
    return [r for path, fmt in found.files for r in read_file(path, fmt=fmt, labels=labels) if isinstance(r, Trajectory)]


def test_report_json_sidecars_join_as_labels_and_other_files_are_skipped_with_a_warning():
    found = sort_inputs([MINI])
    assert [p.name for p, _ in found.files] == ["django__django-10999.traj.json", "sympy__sympy-20590.traj.json"]
    assert [p.name for p in found.sidecars] == ["django__django-10999.report.json", "sympy__sympy-20590.report.json"]
    [skipped, read] = found.warnings()
    assert skipped.startswith(f"skipped {MINI / 'preds.json'}: not a recognised trajectory file; not a labels sidecar either")
    assert read == "2 label(s) read from 2 sidecar file(s) next to the trajectories"
    runs = {t.raw_id: t for t in trajectories(found)}
    assert {k: (t.success, t.metadata["outcome_source"]) for k, t in runs.items()} == {
        "django__django-10999": (True, "label"),
        "sympy__sympy-20590": (False, "label"),
    }
    assert runs["sympy__sympy-20590"].grader.checks[0].name == "test_immutable"  # the report's failing test, for the error analyst


def test_labels_given_on_the_command_line_win_over_a_sidecar(tmp_path: Path):
    from trace2skill.ingest import read_labels

    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps({"instance_id": "sympy__sympy-20590", "success": True}) + "\n")
    merged = sort_inputs([MINI]).with_labels(read_labels(labels))
    assert merged["sympy__sympy-20590"].success is True and merged["django__django-10999"].success is True


def test_a_file_neither_format_nor_labels_reads_is_skipped_not_an_abort(tmp_path: Path):
    shutil.copy(DATA / "tau_results.json", tmp_path / "tau.json")
    # ToolBench's answer file: a JSON document no format claims.
    (tmp_path / "G1_answer.json").write_text(json.dumps({"answer_generation": {"valid_data": True, "final_answer": "", "train_messages": [[]]}}))
    found = sort_inputs([tmp_path])
    assert [p.name for p, _ in found.files] == ["tau.json"]
    assert len(found.skipped) == 1 and "G1_answer.json: not a recognised trajectory file" in found.skipped[0]


def test_include_and_exclude_globs_match_the_path_or_the_name(tmp_path: Path):
    assert selected(Path("runs/a/x.traj.json"), ["*.traj.json"], [])
    assert not selected(Path("runs/a/x.report.json"), ["*.traj.json"], [])
    assert not selected(Path("runs/old/x.traj.json"), [], ["*/old/*"])
    found = sort_inputs([MINI], exclude=["preds.json", "*sympy*"])
    assert ([p.name for p, _ in found.files], found.skipped) == (["django__django-10999.traj.json"], [])
    assert [p.name for p in found.sidecars] == ["django__django-10999.report.json"]
    only = sort_inputs([MINI], include=["*.traj.json"])
    assert (len(only.files), only.sidecars, only.skipped) == (2, [], [])


def test_an_explicit_format_still_takes_report_json_as_a_sidecar():
    found = sort_inputs([MINI], "mini_swe_agent", exclude=["preds.json"])
    assert len(found.files) == 2 and len(found.sidecars) == 2


def unlabelled(tmp_path: Path) -> list[dict]:
    # Claude Code and OpenHands runs with no outcome and no signal in the trace.
    shutil.copy(DATA / "claude_code" / "7d3c1a52-4a8e-4f51-9d0e-1b2c3d4e5f60.jsonl", tmp_path)
    shutil.copy(DATA / "openhands_events.json", tmp_path)
    return input_plan([str(tmp_path)])[0]


def test_a_run_with_no_outcome_at_all_and_no_judge_stops_naming_labels_and_its_keys(tmp_path: Path):
    plan = unlabelled(tmp_path)
    with pytest.raises(NoOutcomeError) as err:
        check_outcomes(plan, None, success_threshold=1.0, backend="embedded", judge=True)
    message = str(err.value)
    assert message.startswith("none of the first 2 trajectory(ies) has an outcome")
    assert "--labels FILE" in message and "trajectory_id, instance_id, session_id, task_id" in message and "success" in message
    check_outcomes(plan, None, success_threshold=1.0, backend="fake", judge=True)  # a judge will run: no error
    with pytest.raises(NoOutcomeError):
        check_outcomes(plan, None, success_threshold=1.0, backend="openai", judge=False)


def test_one_outcome_is_enough_to_go_on(tmp_path: Path):
    plan = unlabelled(tmp_path)
    from trace2skill.ingest import Label

    check_outcomes(plan, {"7d3c1a52-4a8e-4f51-9d0e-1b2c3d4e5f60": Label(success=True)}, success_threshold=1.0, backend="embedded", judge=True)
