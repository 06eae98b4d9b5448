"""The Inspect AI runner for real: Inspect runs each task offline (its mock model), writes its
JSON log to the run's out dir, and evaluate reads the outcome with the inspect_ai adapter."""

from __future__ import annotations

import json
import sys

import polars as pl
import pytest

from tests.evaluate.conftest import write_skill, write_tasks
from trace2skill.evaluate.plan import EvaluateConfig
from trace2skill.evaluate.runner import RunSpec, run_once

pytest.importorskip("inspect_ai")

RUNNER = f"{sys.executable} -m trace2skill.evaluate.runners.inspect_runner --skill-dir {{skill_dir}} --task-file {{task_file}} --out-dir {{out_dir}}"
TASKS = [
    {"id": "capital", "input": "What is the capital of Australia?", "target": "Canberra"},
    {"id": "currency", "input": "What currency does Japan use?", "target": "yen"},
    {"id": "known", "input": "Which ocean is the largest?", "target": "Pacific"},
]


@pytest.fixture
def inspect_skills(tmp_path):
    base = write_skill(tmp_path, "base", "- The Pacific is the largest ocean.")
    better = write_skill(tmp_path, "better", "- The Pacific is the largest ocean.\n- Canberra is the capital of Australia; Japan uses the yen. {not a template}")
    return base, better


def test_one_run_reads_the_inspect_log(tmp_path, inspect_skills):
    spec = RunSpec(task_id="capital", task=TASKS[0], arm="candidate-1", skill_dir=str(inspect_skills[1]), trial=0, run_dir=str(tmp_path / "run"), cwd=str(tmp_path))
    row = run_once(spec, RUNNER, timeout_s=120)
    assert (row.status, row.outcome, row.reward, row.outcome_from) == ("ok", True, 1.0, "trajectory"), row.reason
    log = json.loads(open(row.trajectory_file).read())
    assert log["eval"]["model"] == "mockllm/model" and log["samples"][0]["messages"][0]["role"] == "system"
    assert "{not a template}" in log["samples"][0]["messages"][0]["content"]  # the skill is passed literally


@pytest.mark.ray
def test_evaluate_with_inspect(ray_session, tmp_path, inspect_skills):
    from trace2skill.pipeline.evaluate import evaluate

    base, better = inspect_skills
    cfg = EvaluateConfig(tasks=write_tasks(tmp_path / "tasks.jsonl", TASKS), runner=RUNNER, baseline=base, candidates=[better], out=tmp_path / "eval", concurrency=2, timeout_s=180)
    summary = evaluate(cfg, progress=lambda _: None)
    assert summary.errors == 0
    assert summary.baseline.success_rate == pytest.approx(1 / 3) and summary.candidates[0].success_rate == 1.0
    assert summary.candidates[0].delta == pytest.approx(2 / 3) and (summary.candidates[0].wins, summary.candidates[0].ties) == (2, 1)
    runs = pl.read_parquet(tmp_path / "eval" / "runs.parquet")
    assert (runs["outcome_from"] == "trajectory").all() and runs["trajectory_file"].str.ends_with(".json").all()
