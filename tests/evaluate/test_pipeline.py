"""The gate end to end on the shared Ray session: runs as Ray tasks, outputs, the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.evaluate.conftest import RULE, RUNNER, toy_tasks, write_skill, write_tasks
from trace2skill.cli import app
from trace2skill.evaluate.plan import EvaluateConfig, plan_runs
from trace2skill.pipeline.evaluate import evaluate, run_all

pytestmark = pytest.mark.ray


def test_gate_on_ray_with_crashes_and_timeouts(ray_session, tmp_path, skills):
    hostile = "<script>alert(1)</script>"
    tasks = toy_tasks(n_rule=8, n_easy=2) + [{"id": "boom", "crash": True}, {"id": "slow", "sleep": 30, "easy": True}, {"id": hostile, "easy": True}]
    cfg = EvaluateConfig(
        tasks=write_tasks(tmp_path / "tasks.jsonl", tasks), runner=RUNNER, baseline=skills["baseline"],
        candidates=[skills["cosmetic"], skills["helpful"]], out=tmp_path / "eval", trials=2, concurrency=4, timeout_s=3, num_cpus_per_run=0.5,
    )
    summary = evaluate(cfg, progress=lambda _: None)

    doc = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert doc["baseline"]["path"] == str(skills["baseline"]) and doc["baseline"]["n"] == 22 and doc["baseline"]["success_rate"] == pytest.approx(6 / 22)
    assert doc["errors"] == 12  # crash + timeout, 3 arms x 2 trials
    cosmetic, helpful = doc["candidates"]
    assert {"path", "success_rate", "n", "delta", "ci_low", "ci_high", "p_value", "promoted"} <= set(helpful)
    assert helpful["promoted"] and not cosmetic["promoted"] and summary.promoted == str(skills["helpful"])

    runs = pl.read_parquet(tmp_path / "eval" / "runs.parquet")
    assert runs.height == 13 * 3 * 2
    assert {"task", "arm", "trial", "outcome", "reward", "trajectory_file", "exit_code", "reason"} <= set(runs.columns)
    timed_out = runs.filter(pl.col("task") == "slow")
    assert timed_out["reason"].str.starts_with("timed out after 3 s").all() and timed_out["exit_code"].is_null().all()
    assert runs.filter(pl.col("task") == "boom")["exit_code"].to_list() == [3] * 6

    page = (tmp_path / "eval" / "report.html").read_text()
    assert hostile not in page and "&lt;script&gt;" in page
    assert 'id="chart-arms"' in page and "PROMOTED" in page and "win" in page
    assert (tmp_path / "eval" / "report_files" / "arms.png").is_file()


def test_a_dead_worker_is_an_error_row(ray_session, tmp_path, skills):
    cfg = EvaluateConfig(tasks=tmp_path / "t.jsonl", runner="kill -9 $PPID", baseline=skills["baseline"], candidates=[skills["helpful"]], out=tmp_path / "eval")
    rows = run_all(plan_runs(cfg, [{"id": "t1"}]), cfg, progress=lambda _: None)
    assert [r.status for r in rows] == ["error", "error"]
    assert all("the run's Ray task failed" in r.reason for r in rows)


def test_cli_json_and_leakage_warning(ray_session, tmp_path, skills):
    tasks = toy_tasks(n_rule=4, n_easy=1)
    tasks[0]["question"] = "I booked flight 22 to Oslo last week and now I would like to move it to Friday"
    write_tasks(tmp_path / "tasks.jsonl", tasks)
    leaky = write_skill(tmp_path, "leaky", f"- {RULE}.\n- For example: {tasks[0]['question']}.")
    args = ["evaluate", "--tasks", str(tmp_path / "tasks.jsonl"), "--runner", RUNNER, "--baseline", str(skills["baseline"]), "--candidate", str(leaky), "--out", str(tmp_path / "eval"), "--json", "--quiet", "--allow-none"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["candidates"][0]["delta"] == pytest.approx(0.8)
    assert len(doc["leakage"]) == 1 and "rule-0" in doc["leakage"][0]
    assert "warning:" in result.stderr and "held-out task 'rule-0'" in result.stderr


def test_cli_exits_5_when_nothing_is_promoted_unless_allowed(ray_session, tmp_path, skills):
    write_tasks(tmp_path / "tasks.jsonl", toy_tasks(n_rule=2, n_easy=1))
    args = ["evaluate", "--tasks", str(tmp_path / "tasks.jsonl"), "--runner", RUNNER, "--baseline", str(skills["baseline"]),
            "--candidate", str(skills["cosmetic"]), "--out", str(tmp_path / "eval"), "--quiet"]
    gated = CliRunner().invoke(app, args)
    assert gated.exit_code == 5 and "promoted: none" in gated.stdout, gated.output
    assert CliRunner().invoke(app, [*args, "--allow-none"]).exit_code == 0


def test_cli_quiet_prints_nothing_of_ray_on_a_fresh_ray(tmp_path, skills):
    """Its own Ray (as a user's first command starts one): what Ray prints on start-up goes to EVAL_DIR/ray.log."""
    write_tasks(tmp_path / "tasks.jsonl", toy_tasks(n_rule=1, n_easy=1))
    out = tmp_path / "eval"
    args = ["evaluate", "--tasks", str(tmp_path / "tasks.jsonl"), "--runner", RUNNER, "--baseline", str(skills["baseline"]),
            "--candidate", str(skills["helpful"]), "--out", str(out), "--num-cpus", "2", "--quiet", "--allow-none"]
    env = {**os.environ, "RAY_ADDRESS": "local"}  # its own Ray, not the test session's
    result = subprocess.run([sys.executable, "-m", "trace2skill.cli", *args], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == "" and "promoted:" in result.stdout
    assert (out / "ray.log").is_file()
