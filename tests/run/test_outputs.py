"""The run's per-trajectory outputs, streamed from the analysis parts, the quarantine and the held-out rows."""

from __future__ import annotations

import polars as pl

from trace2skill import parts
from trace2skill.analysts.models import AnalysisResult
from trace2skill.run.checkpoint import ANALYSIS_DIR, write_analysis_part
from trace2skill.run.outputs import LESSONS, PATCHES, QUARANTINE, analysis_usage, write_lesson_parts, write_manifest
from trace2skill.schema import QUARANTINE_SCHEMA, Lesson, Patch, QuarantinedRecord, Usage, to_table


def _result(tid: str, lessons: int) -> AnalysisResult:
    found = [Lesson(id=f"{tid}-l{i}", trajectory_id=tid, kind="success", topic="booking", title="t", content="c") for i in range(lessons)]
    patch = Patch(id=f"{tid}-p", lesson_ids=[lesson.id for lesson in found], trajectory_ids=[tid]) if lessons else None
    return AnalysisResult(trajectory_id=tid, status="analyzed" if lessons else "no_lesson", reason="" if lessons else "none", lessons=found, patch=patch, usage=Usage(prompt_tokens=10, completion_tokens=3, calls=1))


def test_outputs_stream_from_the_parts_and_count_by_aggregation(tmp_path):
    write_analysis_part(tmp_path, [_result("t2", 2), _result("t0", 0)])  # parts come in completion order
    write_analysis_part(tmp_path, [_result("t1", 1)])
    bad = QuarantinedRecord(trajectory_id="q", source_file="f", location="line 1", source_format="openai_chat", reason="not JSON")
    parts.write_part(to_table([bad], QUARANTINE_SCHEMA), tmp_path / QUARANTINE, "part-000000000-000000000.parquet")

    write_manifest(tmp_path)
    manifest = pl.read_parquet(tmp_path / "manifest.parquet")
    assert sorted(manifest["trajectory_id"]) == ["q", "t0", "t1", "t2"]
    assert dict(parts.value_counts(tmp_path / "manifest.parquet", "status")) == {"analyzed": 2, "no_lesson": 1, "quarantined": 1}
    assert manifest.filter(pl.col("trajectory_id") == "q")["reason"].to_list() == ["not JSON"]
    assert write_lesson_parts(parts.parts(tmp_path / ANALYSIS_DIR), tmp_path) == {"lessons": 3, "patches": 2}
    assert pl.read_parquet(tmp_path / "lessons.parquet").height == 3
    assert analysis_usage(tmp_path) == Usage(prompt_tokens=30, completion_tokens=9, calls=3)


def test_lesson_parts_are_named_after_their_first_analysis_part_so_a_retry_replaces_them(tmp_path):
    first = write_analysis_part(tmp_path, [_result("t1", 2)])
    second = write_analysis_part(tmp_path, [_result("t2", 1), _result("t3", 0)])
    for _ in range(2):  # the second call is a retried task
        assert write_lesson_parts([first], tmp_path) == {"lessons": 2, "patches": 1}
        assert write_lesson_parts([second], tmp_path) == {"lessons": 1, "patches": 1}
    assert sorted(p.name for p in parts.parts(tmp_path / LESSONS)) == sorted([first.name, second.name])
    assert sorted(pl.read_parquet(tmp_path / LESSONS)["id"]) == ["t1-l0", "t1-l1", "t2-l0"]
    assert sorted(pl.read_parquet(tmp_path / PATCHES)["id"]) == ["t1-p", "t2-p"]


def test_no_analysis_part_still_gives_both_datasets_with_their_schemas(tmp_path):
    assert write_lesson_parts([], tmp_path) == {"lessons": 0, "patches": 0}
    assert pl.read_parquet(tmp_path / LESSONS).height == 0
    assert "trajectory_id" in pl.read_parquet(tmp_path / LESSONS).columns


def test_personal_data_counts_sum_the_ingest_replacements_and_the_guard_reads_only_the_named_trajectories(tmp_path):
    from trace2skill.run.outputs import TRAJECTORIES, personal_data_counts, trajectory_texts
    from trace2skill.schema import TRAJECTORY_SCHEMA, Step, Trajectory

    rows = [
        Trajectory(id="a", source_format="x", task="book K7WQ2M", steps=[Step(index=0, role="tool", kind="observation", content="user priya_441060a")], metadata={"personal_data": {"PERSON": 2}}),
        Trajectory(id="b", source_format="x", task="refund", metadata={"personal_data": {"PERSON": 1, "EMAIL_ADDRESS": 1}}),
        Trajectory(id="c", source_format="x", task="other"),
    ]
    parts.write_part(to_table(rows, TRAJECTORY_SCHEMA), tmp_path / TRAJECTORIES, "part-0.parquet")
    assert personal_data_counts(tmp_path / TRAJECTORIES) == {"EMAIL_ADDRESS": 1, "PERSON": 3}
    texts = list(trajectory_texts(tmp_path / TRAJECTORIES, ["a", "c"]))
    assert len(texts) == 2 and "K7WQ2M" in texts[0] and "priya_441060a" in texts[0] and "refund" not in "".join(texts)
