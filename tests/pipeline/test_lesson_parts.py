"""Lessons and patches split from the analysis parts by Ray tasks (``pipeline.analyze.write_lessons_and_patches``)."""

from __future__ import annotations

import polars as pl

from tests.run.test_outputs import _result
from trace2skill import parts
from trace2skill.pipeline import analyze
from trace2skill.run.checkpoint import write_analysis_part
from trace2skill.run.outputs import LESSONS, PATCHES


def test_tasks_split_every_result_once_and_a_rerun_leaves_no_stale_part(ray_session, tmp_path, monkeypatch):
    for i in range(6):
        write_analysis_part(tmp_path, [_result(f"t{i}a", 2), _result(f"t{i}b", 0)])
    monkeypatch.setattr(analyze, "RESULTS_PER_LESSON_PART", 4)  # two analysis parts a task: three tasks
    assert analyze.write_lessons_and_patches(tmp_path, 12) == {"lessons": 12, "patches": 6}
    assert len(parts.parts(tmp_path / LESSONS)) == 3
    lessons = pl.read_parquet(tmp_path / LESSONS)
    assert sorted(lessons["id"]) == sorted(f"t{i}a-l{j}" for i in range(6) for j in range(2))
    assert pl.read_parquet(tmp_path / PATCHES).height == 6

    monkeypatch.setattr(analyze, "RESULTS_PER_LESSON_PART", 12)  # all in one task: the three old parts go
    assert analyze.write_lessons_and_patches(tmp_path, 12) == {"lessons": 12, "patches": 6}
    assert len(parts.parts(tmp_path / LESSONS)) == 1
    assert pl.read_parquet(tmp_path / LESSONS).height == 12
