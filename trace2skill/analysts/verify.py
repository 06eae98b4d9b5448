"""Verified diagnoses: re-run a failed task with the analyst's fix in the skill.

Where the user can replay tasks, an error analysis is checked the way the method keeps
only confirmed diagnoses: the proposed patch is applied (by the guarded apply) to a copy
of S0, the user's runner re-runs the task with that skill, and the diagnosis is
``verified`` when the run succeeds, else ``unverified``: the same ``verified`` value the
check tool gives (``passed`` / ``failed``, analysts/check.py), under the same recipe
setting for failed diagnoses (``analyst.checker.failed``). The check tool judges the
analyst's minimal fix of the run inside the loop; the verifier re-runs the user's whole
agent with the patched skill afterwards (docs/analysts.md, "Checked diagnoses").

The command is a template with the placeholders of the ``evaluate`` runner contract,
``{skill_dir} {task_file} {out_dir} {trial}``, each replaced by its shell-quoted value,
and run through the shell with a timeout. The task file is JSON (``task_id``, ``task``,
``trajectory_id``, ``metadata``). The runner reports its outcome as a JSON object on the
last line of its stdout (``{"success": true}`` or ``{"reward": 1.0}``). No text of the
trajectory reaches the command line: it goes into the task file only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from trace2skill.analysts.check import CheckerConfig, apply_policy
from trace2skill.analysts.models import AnalysisResult
from trace2skill.command import build_command, run_in_group, tail
from trace2skill.schema import Trajectory, stable_id
from trace2skill.skill.apply import apply_patch
from trace2skill.skill.folder import write_skill
from trace2skill.skill.model import Skill


class VerifierConfig(BaseModel):
    """The optional verifier hook (recipe ``verifier:``)."""

    command: str | None = Field(None, description="Runner template with {skill_dir} {task_file} {out_dir} {trial}; unset: no verification.")
    timeout_s: float = Field(600.0, gt=0, description="Seconds one re-run may take.")
    success_threshold: float = Field(1.0, description="A reported reward >= this counts as success.")


class Verdict(BaseModel):
    verdict: Literal["verified", "unverified"]
    reason: str = ""


def reported_success(stdout: str, threshold: float) -> bool | None:
    """The outcome on the last non-empty stdout line (a JSON object), or None without one."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        report = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None
    if not isinstance(report, dict):
        return None
    if isinstance(report.get("success"), bool):
        return report["success"]
    reward = report.get("reward")
    return reward >= threshold if isinstance(reward, int | float) and not isinstance(reward, bool) else None


def verify(result: AnalysisResult, traj: Trajectory, s0: Skill, config: VerifierConfig, work_dir: Path, trial: int = 0) -> Verdict:
    """Re-run ``traj``'s task with ``result``'s patch applied to ``s0``; never raises for what the runner does."""
    applied = apply_patch(s0, result.patch)
    if not applied.applied:
        return Verdict(verdict="unverified", reason="no edit of the fix could be applied to S0")
    skill_dir = write_skill(applied.skill, work_dir / "skill" / s0.name)
    out_dir = work_dir / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    task_file = work_dir / "task.json"
    task = {"task_id": traj.task_key or traj.id, "task": traj.task, "trajectory_id": traj.id, "metadata": traj.metadata}
    task_file.write_text(json.dumps(task, ensure_ascii=False), encoding="utf-8")
    values = {"skill_dir": str(skill_dir), "task_file": str(task_file), "out_dir": str(out_dir), "trial": str(trial)}
    stdout, stderr = work_dir / "stdout.txt", work_dir / "stderr.txt"
    code, timed_out = run_in_group(build_command(config.command or "", values), cwd=work_dir, stdout=stdout, stderr=stderr, timeout_s=config.timeout_s)
    if timed_out:
        return Verdict(verdict="unverified", reason=f"verifier timed out after {config.timeout_s:g} s")
    if code != 0:
        return Verdict(verdict="unverified", reason=f"verifier exited {code}: {tail(stderr, 200)}")
    success = reported_success(stdout.read_text(encoding="utf-8", errors="replace"), config.success_threshold)
    if success is None:
        return Verdict(verdict="unverified", reason="verifier reported no outcome (a JSON object on its last stdout line)")
    return Verdict(verdict="verified" if success else "unverified", reason="" if success else "the task still failed with the fix")


def verify_result(
    result: AnalysisResult, traj: Trajectory, s0: Skill, config: VerifierConfig, work_dir: Path, policy: CheckerConfig | None = None
) -> AnalysisResult:
    """``result`` checked by the verifier when it is an analysed failure with a fix (its
    ``verified`` then says passed or failed, and ``policy`` acts on a failure); else as it is."""
    if config.command is None or traj.success is not False or result.status != "analyzed" or result.patch is None:
        return result
    verdict = verify(result, traj, s0, config, work_dir)
    return apply_policy(result, "passed" if verdict.verdict == "verified" else "failed", policy or CheckerConfig(), verdict.reason)


class VerifierJob(BaseModel):
    """What the analysis stage needs to verify a run's diagnoses: the hook, S0, a work folder."""

    config: VerifierConfig
    policy: CheckerConfig = Field(default_factory=CheckerConfig, description="What a failed verification does (analyst.checker.failed).")
    s0: Skill
    work_dir: Path

    def check(self, result: AnalysisResult, traj: Trajectory) -> AnalysisResult:
        """``result`` verified in its own folder (named by a hash of the trajectory id)."""
        return verify_result(result, traj, self.s0, self.config, self.work_dir / stable_id(traj.id, prefix="v-"), self.policy)
