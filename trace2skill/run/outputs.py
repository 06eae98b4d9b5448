"""A run's per-trajectory outputs, streamed from the datasets the workers wrote.

The manifest is the analysis parts' manifest columns, then the quarantined records, the
held-out trajectories and those a token budget skipped, written batch by batch, so the
process writing it never holds every result. ``lessons.parquet`` and ``patches.parquet``
are folders of parts, the lessons and patches of the analysis results, a part per group
of analysis parts (``write_lesson_parts``, run by Ray tasks). Counts and token sums are
aggregations over the datasets.
Nothing here knows about Ray.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from trace2skill import parts
from trace2skill.analysts.models import AnalysisResult
from trace2skill.run.budget import skipped_results
from trace2skill.run.checkpoint import ANALYSIS_DIR, manifest_row
from trace2skill.run.holdout import held_out_results
from trace2skill.schema import LESSON_SCHEMA, MANIFEST_SCHEMA, PATCH_SCHEMA, GraderView, Lesson, Patch, Usage, to_table

TRAJECTORIES, QUARANTINE = "trajectories.parquet", "quarantine.parquet"  # folders of part files
MANIFEST, LESSONS, PATCHES = "manifest.parquet", "lessons.parquet", "patches.parquet"


def analysis_usage(run_dir: Path) -> Usage:
    """The LLM usage of every analysis written, summed over the analysis parts' token columns."""
    sums = parts.column_sums(run_dir / ANALYSIS_DIR, ["prompt_tokens", "completion_tokens", "llm_calls"])
    return Usage(prompt_tokens=sums["prompt_tokens"], completion_tokens=sums["completion_tokens"], calls=sums["llm_calls"])


def personal_data_counts(trajectories: Path) -> dict[str, int]:
    """The personal-data replacements of ingest per kind (``metadata["personal_data"]``,
    redact.personal), summed over the trajectories; only the rows that have some are decoded."""
    counts: Counter[str] = Counter()
    for batch in parts.iter_batches(trajectories, ["metadata"], batch_size=65536):
        column = batch.column("metadata")
        for text in column.filter(pc.fill_null(pc.match_substring(column, '"personal_data"'), False)).to_pylist():
            counts.update(json.loads(text).get("personal_data") or {})
    return dict(sorted(counts.items()))


def write_manifest(run_dir: Path) -> None:
    """``manifest.parquet``: one row per input record, from the analysis parts, the
    quarantine and the held-out trajectories, streamed."""
    with parts.RowGroupWriter(run_dir / MANIFEST, MANIFEST_SCHEMA) as out:
        for batch in parts.iter_batches(run_dir / ANALYSIS_DIR, MANIFEST_SCHEMA.names):
            out.write_table(pa.Table.from_batches([batch]).select(MANIFEST_SCHEMA.names).cast(MANIFEST_SCHEMA))
        for batch in parts.iter_batches(run_dir / QUARANTINE, ["trajectory_id", "source_file", "reason"]):
            quarantined = [AnalysisResult(status="quarantined", **row) for row in batch.to_pylist()]
            out.write_table(to_table([manifest_row(r) for r in quarantined], MANIFEST_SCHEMA))
        held = held_out_results(run_dir)
        if held:
            out.write_table(to_table([manifest_row(r) for r in held], MANIFEST_SCHEMA))
        for skipped in skipped_results(run_dir, run_dir / TRAJECTORIES):
            out.write_table(to_table([manifest_row(r) for r in skipped], MANIFEST_SCHEMA))


def write_lesson_parts(analysis_parts: list[Path], run_dir: Path) -> dict[str, int]:
    """The lessons and patches of the results in ``analysis_parts``, written as one part of
    ``lessons.parquet`` and one of ``patches.parquet`` (folders of parts), named after the
    first analysis part, so that a retried task replaces its own parts; how many of each.
    Ray tasks call this over the analysis parts (``pipeline.analyze.write_lessons_and_patches``),
    so that no single process parses every result."""
    lessons: list[Lesson] = []
    patches: list[Patch] = []
    for part in analysis_parts:
        for raw in pq.read_table(part, columns=["result"]).column("result").to_pylist():
            result = AnalysisResult.model_validate_json(raw)
            lessons += result.lessons
            patches += [result.patch] if result.patch is not None else []
    name = analysis_parts[0].name if analysis_parts else parts.ordered_part_name(0)
    parts.write_part(to_table(lessons, LESSON_SCHEMA), run_dir / LESSONS, name)
    parts.write_part(to_table(patches, PATCH_SCHEMA), run_dir / PATCHES, name)
    return {"lessons": len(lessons), "patches": len(patches)}


def trajectory_texts(trajectories: Path, ids: list[str]) -> Iterator[str]:
    """The text of each trajectory of ``ids`` in the ``trajectories`` dataset (task, steps,
    metadata), for the instance-detail guard: only the rows the provenance names are read
    (an Arrow filter on ``id``), batch by batch."""
    for row in trajectory_rows(trajectories, ids, ["task", "steps", "metadata"]):
        steps = "\n".join(f"{s.get('content') or ''}\n{s.get('tool_args') or ''}" for s in row["steps"] or [])
        yield f"{row['task'] or ''}\n{steps}\n{row['metadata'] or ''}"


def trajectory_graders(trajectories: Path, ids: list[str]) -> Iterator[GraderView]:
    """The grader's view of each trajectory of ``ids`` that has one, for the grader guard (``consolidate.gold``)."""
    yield from (GraderView.model_validate(row["grader"]) for row in trajectory_rows(trajectories, ids, ["grader"]) if row["grader"] is not None)


def trajectory_rows(trajectories: Path, ids: list[str], columns: list[str]) -> Iterator[dict]:
    """``columns`` of the rows of ``ids`` in the ``trajectories`` dataset: only those rows are read (an Arrow filter on ``id``)."""
    if ids and parts.parts(trajectories):
        dataset = ds.dataset([str(p) for p in parts.parts(trajectories)], format="parquet")
        for batch in dataset.to_batches(columns=columns, filter=pc.field("id").isin(ids), batch_size=256):
            yield from batch.to_pylist()
