"""Unlabeled runs and sidecar folders end to end, through real Ray Data and a real Serve deployment
with the fake backend's scripted outcome judge: Claude Code and OpenHands runs with no outcome are
judged and analysed; a mini-swe-agent folder's report.json sidecars join as labels."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from trace2skill.llm.config import FakeConfig
from trace2skill.pipeline.run import distill
from trace2skill.run.options import DistillConfig

pytestmark = pytest.mark.ray

HERE = Path(__file__).parent
DATA = HERE / "ingest" / "data"
MINI = HERE / "ingest" / "sidecars" / "mini_swe_agent"


def test_unlabeled_sessions_are_judged_and_sidecars_join_and_every_source_is_in_the_manifest(ray_session, tmp_path: Path):
    unlabeled = tmp_path / "unlabeled"
    unlabeled.mkdir()
    shutil.copy(DATA / "claude_code" / "7d3c1a52-4a8e-4f51-9d0e-1b2c3d4e5f60.jsonl", unlabeled)
    shutil.copy(DATA / "openhands_events.json", unlabeled)
    shutil.copytree(MINI, tmp_path / "mini")
    lines: list[str] = []
    cfg = DistillConfig(inputs=[unlabeled, tmp_path / "mini"], out_dir=tmp_path / "out", backend=FakeConfig(), consolidate={"fan_in": 4})
    summary = distill(cfg, progress=lines.append)

    assert any(line.startswith(f"skipped {tmp_path / 'mini' / 'preds.json'}: not a recognised trajectory file") for line in lines)
    assert "2 label(s) read from 2 sidecar file(s) next to the trajectories" in lines
    run_dir = cfg.resolved_run_dir
    manifest = pl.read_parquet(run_dir / "manifest.parquet")
    trajectories = pl.read_parquet(run_dir / "trajectories.parquet").select("id", "source_format", "raw_id")
    rows = {r["source_format"] + ":" + r["raw_id"]: r for r in manifest.join(trajectories, left_on="trajectory_id", right_on="id").to_dicts()}
    sources = {key: (row["status"], row["outcome_source"]) for key, row in rows.items()}
    assert sources == {
        "claude_code:7d3c1a52-4a8e-4f51-9d0e-1b2c3d4e5f60": ("analyzed", "judged"),
        "openhands:openhands_events": ("analyzed", "judged"),
        "mini_swe_agent:django__django-10999": ("analyzed", "label"),
        "mini_swe_agent:sympy__sympy-20590": ("analyzed", "label"),
    }, sources
    assert summary.outcome_sources == {"judged": 2, "label": 2}
    assert "outcomes                   2 label, 2 judged" in summary.table()

    # Lessons from the judged runs: the OpenHands run judged a failure (its last tool result is an
    # error), the Claude Code session a success; the analyst was told the outcome was judged.
    lessons = pl.read_parquet(run_dir / "lessons.parquet")
    by_run = {row["trajectory_id"]: row["kind"] for row in lessons.select("trajectory_id", "kind").unique().to_dicts()}
    judged = {row["source_format"]: row["trajectory_id"] for row in rows.values() if row["outcome_source"] == "judged"}
    assert by_run[judged["openhands"]] == "failure" and by_run[judged["claude_code"]] == "success"
    assert summary.lessons > 0 and summary.valid
