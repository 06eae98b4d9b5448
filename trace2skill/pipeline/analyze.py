"""Analysis on Ray: Ray Data actors send trajectories to the Serve analyst, all of a batch in flight."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
from ray import serve
from ray.exceptions import RayActorError
from ray.serve.handle import DeploymentHandle

from trace2skill import parts
from trace2skill.analysts.analyze import AnalysisResult
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.contrast import Pairing, with_contrast
from trace2skill.analysts.draft import MAX_TASKS
from trace2skill.analysts.verify import VerifierJob
from trace2skill.checkpoint import write_analysis_part
from trace2skill.llm.base import Usage
from trace2skill.pipeline.pair import PAIRING
from trace2skill.schema import Trajectory
from trace2skill.skill.model import Skill

Progress = Callable[[str], None]
REPLICA_TRIES = 3  # sends of one trajectory when its replica is lost (crash, node gone)


class AnalyzeBatch:
    """Ray Data actor: one Serve request per trajectory of a batch read from
    ``trajectories.parquet``, all in flight at once. The actor writes the batch's results
    itself, as one part of ``RUN_DIR/analysis`` (the checkpoint), and returns only what the
    driver's progress display counts."""

    def __init__(self, app: str, skill: SkillContext, run_dir: str, verifier: VerifierJob | None = None):
        self.handle = serve.get_app_handle(app)
        self.skill = skill
        self.run_dir = Path(run_dir)
        self.verifier = verifier  # re-runs analysed failures with their fix (analysts/verify.py)

    def __call__(self, batch: pa.Table) -> dict[str, list]:
        rows = batch.to_pylist()
        # A failure's sibling, where the pairing stage (pipeline/pair.py) found one.
        work = [(Trajectory.from_row(r), r.get(PAIRING)) for r in rows]
        pending = [self.handle.analyze.remote(t.model_dump_json(), self.skill, p) for t, p in work]
        results = [self._result_of(response, traj, pairing) for (traj, pairing), response in zip(work, pending)]
        if self.verifier is not None:
            results = [self.verifier.check(result, traj) for result, (traj, _) in zip(results, work)]
        write_analysis_part(self.run_dir, results)
        return progress_rows(results)

    def _result_of(self, response, traj: Trajectory, pairing: str | None = None) -> AnalysisResult:
        """The analyst's answer; a request lost with its replica is sent again (Serve routes it
        to a live one), at most ``REPLICA_TRIES`` times in all."""
        for attempt in range(1, REPLICA_TRIES + 1):
            try:
                return AnalysisResult.model_validate_json(response.result())
            except RayActorError as exc:  # the replica died or is unreachable, not the analysis
                error = exc
                if attempt < REPLICA_TRIES:
                    response = self.handle.analyze.remote(traj.model_dump_json(), self.skill, pairing)
            except Exception as exc:  # the analyst code failed: this trajectory fails, not the run
                error = exc
                break
        reason = f"analyst call failed: {type(error).__name__}: {error}"
        failed = AnalysisResult(trajectory_id=traj.id, source_file=traj.source_file, status="failed", reason=reason)
        return with_contrast(failed, Pairing.model_validate_json(pairing) if pairing else None)  # the manifest still names the sibling


def progress_rows(results: list[AnalysisResult]) -> dict[str, list]:
    """What the driver gets back of a batch: ids, statuses and token counts, not the results."""
    return {
        "trajectory_id": [r.trajectory_id for r in results],
        "status": [r.status for r in results],
        "prompt_tokens": [r.usage.prompt_tokens for r in results],
        "completion_tokens": [r.usage.completion_tokens for r in results],
    }


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
