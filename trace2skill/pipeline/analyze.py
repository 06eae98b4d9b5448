"""Analysis on Ray: Ray Data actors send each batch of trajectories to the Serve analyst as one request."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray
from ray import serve
from ray.exceptions import RayActorError
from ray.serve.handle import DeploymentHandle

from trace2skill.analysts.analyze import AnalysisResult
from trace2skill.analysts.batch import call_failed
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.draft import MAX_TASKS
from trace2skill.analysts.verify import VerifierJob
from trace2skill.llm.base import Usage
from trace2skill.schema import Trajectory
from trace2skill.skill.model import Skill

Progress = Callable[[str], None]
REPLICA_TRIES = 3  # sends of one batch when its replica is lost (crash, node gone)


class AnalyzeBatch:
    """Ray Data actor: a batch read from ``trajectories.parquet`` sent to the Serve analyst as
    Arrow rows, ``rows_per_request`` a request (default: the whole batch in one), all in
    flight at once; the replica runs them concurrently, one engine request per analysis.
    Trajectories in ``skip`` (analysed before a resumption) are left out."""

    def __init__(self, app: str, skill: SkillContext, skip: list[ray.ObjectRef], verifier: VerifierJob | None = None, rows_per_request: int | None = None):
        self.handle = serve.get_app_handle(app)
        self.skill = skill
        self.rows_per_request = rows_per_request
        self.verifier = verifier  # re-runs analysed failures with their fix (analysts/verify.py)
        done = ray.get(skip[0]) if skip else set()  # a ref in a list: Ray Data passes it unresolved
        self.skip = pa.array(sorted(done), pa.string())

    def __call__(self, batch: pa.Table) -> dict[str, list]:
        if len(self.skip):
            batch = batch.filter(pc.invert(pc.is_in(batch["id"], value_set=self.skip)))
        size = self.rows_per_request or max(batch.num_rows, 1)
        parts = [batch.slice(i, size) for i in range(0, batch.num_rows, size)]
        pending = [self.handle.analyze_batch.remote(part, self.skill) for part in parts]
        results = [r for part, response in zip(parts, pending) for r in self._results_of(part, response)]
        if self.verifier is not None:
            results = [self.verifier.check(result, Trajectory.from_row(row)) for result, row in zip(results, batch.to_pylist())]
        return {"trajectory_id": [r.trajectory_id for r in results], "result": [r.model_dump_json() for r in results]}

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


def draft_s0(handle: DeploymentHandle, name: str, trajectories: Path, progress: Progress) -> tuple[Skill, Usage, str]:
    """Create mode with ``--draft``: the model drafts S0 from the first task descriptions."""
    tasks: list[str] = []
    for batch in pq.ParquetFile(trajectories).iter_batches(batch_size=MAX_TASKS, columns=["task"]):
        tasks += batch["task"].to_pylist()
        if len(tasks) >= MAX_TASKS:
            break
    tasks = tasks[:MAX_TASKS]
    answer = json.loads(handle.draft.remote(name, tasks).result())
    progress(f"S0 {answer['note']} ({len(tasks)} task(s))")
    return Skill.model_validate(answer["skill"]), Usage.model_validate(answer["usage"]), answer["note"]
