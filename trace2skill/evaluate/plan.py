"""The options of one evaluation and the runs they make: every task x arm x trial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trace2skill.evaluate.runner import RunSpec
from trace2skill.evaluate.summary import BASELINE, candidate_arm
from trace2skill.evaluate.tasks import task_folder


class EvaluateConfig(BaseModel):
    """Everything ``trace2skill evaluate`` needs (the CLI flags)."""

    model_config = ConfigDict(extra="forbid")

    tasks: Path = Field(description="JSONL of task objects, each with an 'id'.")
    runner: str = Field(description="Shell command with {skill_dir} {task_file} {out_dir} {trial} (and {task_id} {arm}) placeholders.")
    baseline: Path = Field(description="The baseline skill folder (S0).")
    candidates: list[Path] = Field(min_length=1, description="Candidate skill folders.")
    out: Path = Field(description="Evaluation folder: evaluation.json, runs.parquet, report, runs/.")
    trials: int = Field(1, ge=1, description="Runs per task and arm.")
    concurrency: int = Field(2, ge=1, description="Runs in flight at once.")
    timeout_s: float | None = Field(None, gt=0, description="A run over this is killed (its whole process group) and is an error.")
    alpha: float = Field(0.05, gt=0, lt=1, description="Family-wise error level of the gate (Bonferroni over candidates).")
    min_gain: float = Field(0.0, description="Promote only when the paired interval's lower end is above this.")
    seed: int = Field(0, description="Seed of the paired bootstrap.")
    success_threshold: float = Field(1.0, description="reward >= threshold counts as success when a run reports no success flag.")
    num_cpus_per_run: float = Field(1.0, ge=0, description="CPUs Ray reserves for each run.")
    num_gpus_per_run: float = Field(0.0, ge=0, description="GPUs Ray reserves for each run.")
    resources_per_run: dict[str, float] = Field(default_factory=dict, description="Custom Ray resources per run (to place runs on given nodes).")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray instance (default: all).")
    leak_min_words: int = Field(12, ge=4, description="Warn when a candidate shares this many consecutive words with a task.")

    @field_validator("runner")
    @classmethod
    def _has_command(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the runner command is empty")
        return value

    def arms(self) -> list[tuple[str, Path]]:
        """(arm name, skill folder): the baseline first, then the candidates in the order given."""
        return [(BASELINE, self.baseline)] + [(candidate_arm(i), p) for i, p in enumerate(self.candidates, 1)]


def plan_runs(cfg: EvaluateConfig, tasks: list[dict[str, Any]]) -> list[RunSpec]:
    """One spec per task x arm x trial, trial-major then task then arm, so that the arms of
    one task run close in time (a drifting service affects both sides of a pair alike)."""
    runs, cwd = cfg.out.resolve() / "runs", str(Path.cwd())
    return [
        RunSpec(task_id=task["id"], task=task, arm=arm, skill_dir=str(skill.resolve()), trial=trial, run_dir=str(runs / arm / task_folder(task["id"]) / f"trial-{trial}"), cwd=cwd)
        for trial in range(cfg.trials)
        for task in tasks
        for arm, skill in cfg.arms()
    ]
