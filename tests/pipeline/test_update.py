"""``distill --update`` end to end on Ray with the fake backend: a first run over examples/airline,
then an update over the same runs (one of them changed) plus new ones."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import EXAMPLES
from tests.pipeline.test_resume import RECIPE, analysis_rows, kill_distill_when
from tests.test_pipeline import check_run_invariants
from trace2skill.pipeline.run import distill
from trace2skill.run.checkpoint import load_state, resume_config
from trace2skill.run.options import DistillConfig
from trace2skill.run.update import update_config

pytestmark = pytest.mark.ray

FIRST = 24  # 20 tau-bench + 4 chat records in examples/airline
NEW = 4  # runs copied into a file of their own: new ids, so new trajectories


def more_runs(folder: Path) -> Path:
    """examples/airline with its first tau-bench run changed (a user turn longer) and ``NEW`` runs in a new file."""
    shutil.copytree(EXAMPLES / "airline", folder)
    runs = json.loads((folder / "tau_bench_results.json").read_text())
    user = next(m for m in runs[0]["traj"] if m.get("role") == "user")
    user["content"] = (user.get("content") or "") + " Also, please hurry."
    (folder / "tau_bench_results.json").write_text(json.dumps(runs))
    (folder / "more_runs.json").write_text(json.dumps(runs[1 : 1 + NEW]))
    return folder


@pytest.fixture(scope="module")
def first_run(ray_session, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("first")
    cfg = DistillConfig.model_validate({**RECIPE, "batch_size": 8, "inputs": [EXAMPLES / "airline"], "out_dir": out, "skill_dir": EXAMPLES / "skills" / "airline-support"})
    distill(cfg, progress=lambda _: None)
    return out


def content_rows(run_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(run_dir / "provenance.parquet").filter(pl.col("kind").is_in(["skill", "reference", "scaffold"]))


def test_an_update_analyses_only_what_is_new_or_changed(first_run, tmp_path):
    data = more_runs(tmp_path / "data")
    cfg = update_config(first_run, [data], tmp_path / "second", {})
    summary = distill(cfg, progress=lambda _: None)
    run_dir = cfg.resolved_run_dir
    manifest = check_run_invariants(run_dir, Path(summary.skill_dir), FIRST + NEW)
    assert (summary.seen, summary.analyzed + summary.no_lesson + summary.failed) == (FIRST - 1, 1 + NEW)
    seen = manifest.filter(pl.col("status") == "seen")
    assert seen["llm_calls"].sum() == 0 and seen["reason"].str.contains(str(first_run / "run")).all()
    sent = manifest.filter(pl.col("status") != "seen")
    assert summary.analysis_usage.calls == sent["llm_calls"].sum() >= 1 + NEW  # every call is a changed or new run's
    assert sent["reason"].str.contains("changed since the previous run").sum() == 1
    assert (manifest["content_hash"].str.len_chars() == 64).all()
    update = summary.update
    assert (update.seen, update.changed, update.new, update.calls) == (FIRST - 1, 1, NEW, summary.analysis_usage.calls)
    assert update.full_calls == round(update.calls / (1 + NEW) * (FIRST + NEW))

    # The previous run's evidence for the lines still there carries on, with the new runs' added.
    before, after = content_rows(first_run / "run"), content_rows(run_dir)
    skill_text = (Path(summary.skill_dir) / "SKILL.md").read_text()
    still = before.filter(pl.col("content").map_elements(lambda c: any(line.strip() and line.strip() in skill_text for line in c.splitlines()), return_dtype=pl.Boolean))
    assert still.height >= 1
    for row in still.iter_rows(named=True):
        carried = after.filter((pl.col("path") == row["path"]) & (pl.col("section") == row["section"]) & (pl.col("content") == row["content"]))
        assert carried.height == 1 and set(row["trajectory_ids"]) <= set(carried["trajectory_ids"][0])
    new_ids = set(sent["trajectory_id"])
    assert any(set(ids) & new_ids for ids in after["trajectory_ids"]), "the update's evidence joins the lines it supports"
    grown = after.filter(pl.col("support") > pl.col("trajectory_ids").list.len() - 1)
    assert (grown["support"] == grown["trajectory_ids"].list.unique().list.len()).all()

    # explain on the updated skill shows the old and the new evidence.
    shown = subprocess.run([sys.executable, "-m", "trace2skill.cli", "explain", summary.skill_dir, str(run_dir), "--json"], capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr
    evidence = [e for place in json.loads(shown.stdout)["places"] for e in place["evidence"]]
    ids = {t for e in evidence for t in e["trajectory_ids"]}
    assert ids & new_ids and ids & set(still["trajectory_ids"].explode())
    assert any(lesson["lesson_id"] in set(still["lesson_ids"].explode()) for e in evidence for lesson in e["lessons"])  # old lessons' text, from the first run

    # plan --update counts the same before any call.
    planned = subprocess.run([sys.executable, "-m", "trace2skill.cli", "plan", str(data), "--update", str(first_run), "--json"], capture_output=True, text=True, timeout=300, check=False)
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    assert (plan["update"]["seen"], plan["update"]["changed"], plan["update"]["new"]) == (FIRST - 1, 1, NEW)
    assert (plan["update"]["calls"], plan["update"]["full_calls"]) == (1 + NEW, FIRST + NEW)


def test_sigkill_mid_update_then_resume_loses_nothing(first_run, tmp_path):
    data = more_runs(tmp_path / "data")
    out = tmp_path / "second"

    def analysing(run: Path) -> bool:  # past the seen split, with a changed or new run's result written
        parts = list((run / "analysis").glob("part-*.parquet")) if (run / "analysis").is_dir() else []
        return any((pl.read_parquet(p)["status"] != "seen").any() for p in parts)

    slow = {**RECIPE, "backend": {"backend": "fake", "latency_s": 1.0}}  # a second a batch: the kill lands mid-analysis
    kill_distill_when([str(data), "--update", str(first_run)], slow, out, tmp_path, analysing)
    state = load_state(out / "run")
    assert "analyze" not in state.stages and state.config["update"] == str((first_run / "run").resolve())
    written = analysis_rows(out / "run")
    assert FIRST - 1 < written < FIRST + NEW

    summary = distill(resume_config(out / "run"), progress=lambda _: None, resume=True)
    manifest = check_run_invariants(out / "run", Path(summary.skill_dir), FIRST + NEW)
    assert summary.seen == FIRST - 1 and manifest.filter(pl.col("status") == "seen")["llm_calls"].sum() == 0
    assert summary.update is not None and (summary.update.changed, summary.update.new) == (1, NEW)
    assert load_state(out / "run").finished and (first_run / "run" / "summary.json").is_file()  # the previous run intact
