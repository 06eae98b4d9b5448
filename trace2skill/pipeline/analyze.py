"""Analysis on Ray: Ray Data actors send each batch of trajectories to the Serve analyst as
one request; then Ray tasks split the results into the lessons and patches datasets."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
from ray import serve
from ray.exceptions import RayActorError
from ray.serve.handle import DeploymentHandle

from trace2skill import parts
from trace2skill.analysts.batch import call_failed
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.draft import MAX_TASKS
from trace2skill.analysts.models import AnalysisResult
from trace2skill.analysts.verify import VerifierJob
from trace2skill.pipeline.tuning import paths_dataset, releasing
from trace2skill.run.checkpoint import ANALYSIS_DIR, write_analysis_part
from trace2skill.run.outputs import LESSONS, PATCHES, write_lesson_parts
from trace2skill.run.update import with_content_hashes
from trace2skill.schema import Trajectory, Usage
from trace2skill.skill.model import Skill

Progress = Callable[[str], None]
REPLICA_TRIES = 3  # sends of one batch when its replica is lost (crash, node gone)
RESULTS_PER_LESSON_PART = 8192  # analysis results a lessons/patches part is split from, at most (1M results: 200 parts, as Ray Data blocks the list of parts)


class AnalyzeBatch:
    """Ray Data actor: a batch read from ``trajectories.parquet`` sent to the Serve analyst as
    Arrow rows, ``rows_per_request`` a request (default: the whole batch in one), all in
    flight at once; the replica runs them concurrently, one engine request per analysis.
    The actor writes the batch's results itself, as one part of ``RUN_DIR/analysis`` (the
    checkpoint), and returns only what the driver's progress display counts."""

    def __init__(self, app: str, skill: SkillContext, run_dir: str, verifier: VerifierJob | None = None, rows_per_request: int | None = None, changed: str | None = None):
        self.handle = serve.get_app_handle(app)
        self.skill = skill
        self.run_dir = Path(run_dir)
        self.rows_per_request = rows_per_request
        self.verifier = verifier  # re-runs analysed failures with their fix (analysts/verify.py)
        self.changed = changed  # an update's note for a trajectory changed since the previous run

    def __call__(self, batch: pa.Table) -> dict[str, list]:
        size = self.rows_per_request or max(batch.num_rows, 1)
        requests = [batch.slice(i, size) for i in range(0, batch.num_rows, size)]
        pending = [self.handle.analyze_batch.remote(rows, self.skill) for rows in requests]
        results = [r for rows, response in zip(requests, pending) for r in self._results_of(rows, response)]
        if self.verifier is not None:
            results = [self.verifier.check(result, Trajectory.from_row(row)) for result, row in zip(results, batch.to_pylist())]
        part = write_analysis_part(self.run_dir, with_content_hashes(results, batch, self.changed))
        return progress_rows(results, part)

    def _results_of(self, rows: pa.Table, response) -> list[AnalysisResult]:
        """The analyst's answers to the request of ``rows``; a request lost with its replica is
        sent again (Serve routes it to a live one), at most ``REPLICA_TRIES`` times in all. A
        row whose analysis raised comes back as that row's ``failed`` result (``analysts.batch``)."""
        for attempt in range(1, REPLICA_TRIES + 1):
            try:
                return response.result()
            except RayActorError as exc:  # the replica died or is unreachable, not the analysis
                error = exc
                if attempt < REPLICA_TRIES:
                    response = self.handle.analyze_batch.remote(rows, self.skill)
            except Exception as exc:  # the request itself failed: its trajectories fail, not the run
                error = exc
                break
        return [call_failed(row, error) for row in rows.to_pylist()]


def progress_rows(results: list[AnalysisResult], part: Path | None = None) -> dict[str, list]:
    """What the driver gets back of a batch: ids, statuses and token counts, not the results;
    and the ``part`` they were written to (for the units op that may follow, ``pipeline.units``)."""
    return {
        "trajectory_id": [r.trajectory_id for r in results],
        "part": [str(part or "")] * len(results),
        "status": [r.status for r in results],
        "prompt_tokens": [r.usage.prompt_tokens for r in results],
        "completion_tokens": [r.usage.completion_tokens for r in results],
    }


def write_lessons_and_patches(run_dir: Path, results: int) -> dict[str, int]:
    """``lessons.parquet`` and ``patches.parquet`` (folders of parts) split from the
    ``results`` analysis results in the parts of ``run_dir`` by Ray tasks, about
    ``RESULTS_PER_LESSON_PART`` results a part; how many of each. The driver only sums the
    counts: parsing a 1M run's results there raised it by ~200 MB (docs/performance.md).
    Written anew each time, so a resumed run has no stale part."""
    for name in (LESSONS, PATCHES):
        parts.reset(run_dir / name)
    found = parts.parts(run_dir / ANALYSIS_DIR)
    if not found:  # empty datasets with their schemas, as for any run
        return write_lesson_parts([], run_dir)
    per_task = max(1, round(RESULTS_PER_LESSON_PART * len(found) / max(results, 1)))
    written = paths_dataset([str(p) for p in found]).map_batches(
        _lesson_parts,
        fn_kwargs={"run_dir": str(run_dir)},
        batch_size=per_task,
        batch_format="pyarrow",
        num_cpus=1,  # a task parses results: a core each, so no more worker processes than cores (a quarter core: 8 at 100k, +1.2 GB)
    )
    counts = {"lessons": 0, "patches": 0}
    for row in written.iter_rows():
        counts["lessons"] += row["lessons"]
        counts["patches"] += row["patches"]
    return counts


@releasing
def _lesson_parts(batch: pa.Table, run_dir: str) -> dict[str, list[int]]:
    counts = write_lesson_parts([Path(p) for p in batch.column("path").to_pylist()], Path(run_dir))
    return {name: [n] for name, n in counts.items()}


def draft_s0(handle: DeploymentHandle, name: str, trajectories: Path, progress: Progress) -> tuple[Skill, Usage, str]:
    """Create mode with ``--draft``: the model drafts S0 from the first task descriptions."""
    tasks: list[str] = []
    for batch in parts.iter_batches(trajectories, columns=["task"], batch_size=MAX_TASKS):
        tasks += batch["task"].to_pylist()
        if len(tasks) >= MAX_TASKS:
            break
    tasks = tasks[:MAX_TASKS]
    answer = json.loads(handle.draft.remote(name, tasks).result())
    progress(f"S0 {answer['note']} ({len(tasks)} task(s))")
    return Skill.model_validate(answer["skill"]), Usage.model_validate(answer["usage"]), answer["note"]
