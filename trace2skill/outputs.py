"""A run's per-trajectory outputs, streamed from the datasets the workers wrote.

The manifest is the analysis parts' manifest columns, then the quarantined records, the
held-out trajectories and those a token budget skipped; ``lessons.parquet`` and ``patches.parquet`` are the lessons and
patches of the analysis results. Each is written batch by batch, so the process writing
them never holds every result; counts and token sums are aggregations over the datasets.
Nothing here knows about Ray.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from trace2skill import parts
from trace2skill.analysts.analyze import AnalysisResult
from trace2skill.budget import skipped_results
from trace2skill.checkpoint import ANALYSIS_DIR, manifest_row
from trace2skill.evaluate.holdout import held_out_results
from trace2skill.llm.base import Usage
from trace2skill.schema import LESSON_SCHEMA, MANIFEST_SCHEMA, PATCH_SCHEMA, to_table

TRAJECTORIES, QUARANTINE = "trajectories.parquet", "quarantine.parquet"  # folders of part files
MANIFEST, LESSONS, PATCHES = "manifest.parquet", "lessons.parquet", "patches.parquet"


def analysis_results(run_dir: Path, batch_size: int = 1024) -> Iterator[list[AnalysisResult]]:
    """The analysis results written so far, a batch at a time, in part order."""
    for batch in parts.iter_batches(run_dir / ANALYSIS_DIR, ["result"], batch_size=batch_size):
        yield [AnalysisResult.model_validate_json(r) for r in batch["result"].to_pylist()]


def analysis_usage(run_dir: Path) -> Usage:
    """The LLM usage of every analysis written, summed over the analysis parts' token columns."""
    sums = parts.column_sums(run_dir / ANALYSIS_DIR, ["prompt_tokens", "completion_tokens", "llm_calls"])
    return Usage(prompt_tokens=sums["prompt_tokens"], completion_tokens=sums["completion_tokens"], calls=sums["llm_calls"])


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


def write_lessons_and_patches(run_dir: Path) -> dict[str, int]:
    """``lessons.parquet`` and ``patches.parquet`` from the analysis results, streamed; return
    how many of each."""
    counts = {"lessons": 0, "patches": 0}
    with parts.RowGroupWriter(run_dir / LESSONS, LESSON_SCHEMA) as lessons_out, parts.RowGroupWriter(run_dir / PATCHES, PATCH_SCHEMA) as patches_out:
        for results in analysis_results(run_dir):
            lessons = [lesson for r in results for lesson in r.lessons]
            patches = [r.patch for r in results if r.patch is not None]
            lessons_out.write_table(to_table(lessons, LESSON_SCHEMA))
            patches_out.write_table(to_table(patches, PATCH_SCHEMA))
            counts["lessons"] += len(lessons)
            counts["patches"] += len(patches)
    return counts
