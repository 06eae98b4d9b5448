import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from trace2skill import parts
from trace2skill.analysts.models import AnalysisResult
from trace2skill.run.checkpoint import (
    ANALYSIS_DIR,
    ANALYSIS_SCHEMA,
    RUN_FORMAT,
    RunError,
    analysis_table,
    check_writable,
    clear_run,
    load_state,
    manifest_row,
    mark_done,
    resumable,
    resume_config,
    start_run,
    write_analysis_part,
)
from trace2skill.run.options import DistillConfig


def _cfg(tmp_path: Path, **kw) -> DistillConfig:
    inputs = tmp_path / "in.jsonl"
    inputs.touch()
    return DistillConfig(inputs=[inputs], out_dir=tmp_path / "out", **kw)


def _result(i: int) -> AnalysisResult:
    return AnalysisResult(trajectory_id=f"t{i}", status="no_lesson", reason="r")


def test_fresh_run_saves_its_config_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = DistillConfig(inputs=[Path("in.jsonl")], out_dir=Path("out"))
    cfg.resolved_run_dir.mkdir(parents=True)
    state = start_run(cfg, resume=False)
    assert state.config["inputs"] == [str(tmp_path / "in.jsonl")]
    assert load_state(cfg.resolved_run_dir) == state


def test_resume_refuses_other_options_and_other_versions(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.resolved_run_dir.mkdir(parents=True)
    start_run(cfg, resume=False)
    with pytest.raises(RunError, match="other options .*limit"):
        start_run(cfg.model_copy(update={"limit": 4}), resume=True)
    assert start_run(cfg.model_copy(update={"num_cpus": 7, "batch_size": 9}), resume=True).stages == []
    state_file = cfg.resolved_run_dir / "run.json"
    state_file.write_text(json.dumps({**json.loads(state_file.read_text()), "format": RUN_FORMAT + 1}))
    with pytest.raises(RunError, match="run format"):
        start_run(cfg, resume=True)


def test_an_unfinished_run_is_not_overwritten_by_a_fresh_start(tmp_path):
    cfg = _cfg(tmp_path)
    cfg.resolved_run_dir.mkdir(parents=True)
    state = start_run(cfg, resume=False)
    mark_done(cfg.resolved_run_dir, state, "read")
    with pytest.raises(RunError, match="unfinished run"):
        start_run(cfg, resume=False)
    for stage in ("analyze", "consolidate"):
        mark_done(cfg.resolved_run_dir, state, stage)
    assert start_run(cfg, resume=False).stages == []  # a finished run may be redone


def test_only_an_unfinished_run_of_this_format_is_resumable_and_force_clears_any_run(tmp_path):
    cfg = _cfg(tmp_path)
    run_dir = cfg.resolved_run_dir
    assert not resumable(run_dir)
    run_dir.mkdir(parents=True)
    state = start_run(cfg, resume=False)
    mark_done(run_dir, state, "read")
    assert resumable(run_dir)
    state_file = run_dir / "run.json"
    state_file.write_text(json.dumps({**json.loads(state_file.read_text()), "format": RUN_FORMAT - 1}))
    assert not resumable(run_dir)  # an older version's run: started again, not resumed
    with pytest.raises(RunError, match="run format"):
        start_run(cfg, resume=False)
    clear_run(run_dir)
    assert not run_dir.exists() and start_run(cfg, resume=False).stages == []
    elsewhere = tmp_path / "mine"
    (elsewhere / "keep.txt").parent.mkdir()
    (elsewhere / "keep.txt").write_text("x")
    clear_run(elsewhere)  # not a run's folder: left alone
    assert (elsewhere / "keep.txt").read_text() == "x"


def test_nothing_to_resume(tmp_path):
    with pytest.raises(RunError, match="nothing to resume"):
        resume_config(tmp_path)


def test_resume_config_keeps_result_options(tmp_path):
    cfg = _cfg(tmp_path, limit=3)
    cfg.resolved_run_dir.mkdir(parents=True)
    start_run(cfg, resume=False)
    assert resume_config(cfg.resolved_run_dir, num_cpus=1).limit == 3
    with pytest.raises(RunError, match="cannot change limit"):
        resume_config(cfg.resolved_run_dir, limit=5)


def test_analysis_parts_are_whole_and_named_by_their_ids(tmp_path):
    first = write_analysis_part(tmp_path, [_result(i) for i in range(3)])
    write_analysis_part(tmp_path, [_result(3)])
    assert write_analysis_part(tmp_path, []) is None
    again = write_analysis_part(tmp_path, [_result(i) for i in reversed(range(3))])  # the same batch, retried
    assert again == first and len(parts.parts(tmp_path / ANALYSIS_DIR)) == 2
    table = pq.read_table(first)
    assert table.schema == ANALYSIS_SCHEMA and table["trajectory_id"].to_pylist() == ["t2", "t1", "t0"]
    assert AnalysisResult.model_validate_json(table["result"][0].as_py()).trajectory_id == "t2"
    assert parts.num_rows(tmp_path / ANALYSIS_DIR) == 4
    assert not list(parts.staging_dir(tmp_path / ANALYSIS_DIR).iterdir())  # nothing half-written left behind


def test_manifest_row_joins_notes_and_carries_usage():
    result = AnalysisResult(trajectory_id="t", status="failed", reason="bad", notes=["no sibling"], usage={"prompt_tokens": 5, "completion_tokens": 2, "calls": 1})
    row = manifest_row(result)
    assert (row.reason, row.prompt_tokens, row.completion_tokens, row.llm_calls) == ("bad; no sibling", 5, 2, 1)
    assert analysis_table([result]).column("llm_calls").to_pylist() == [1]


def test_check_writable_names_the_folder(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")  # a folder under a file cannot be made, even by root
    with pytest.raises(RunError, match="cannot write to .*a-file/out"):
        check_writable(tmp_path, blocker / "out")


def test_check_writable_refuses_a_full_disk(tmp_path, monkeypatch):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=1_000_000))
    with pytest.raises(RunError, match="only 1 MB free"):
        check_writable(tmp_path, need_bytes=60_000_000)
