"""The runner contract: one run of the user's agent harness on one task with one skill.

For every task x arm x trial, :func:`run_once` writes the task object to ``task.json``,
gives the command a fresh, empty ``out/`` folder, substitutes the placeholders (each value
shell-quoted) and runs the command through the shell in a process group of its own. The
outcome comes from the trajectories the runner left in ``out/`` (read with trace2skill's
own ingest adapters) or, when there are none, from a JSON object on the last line of its
stdout (``{"success": true, "reward": 0.8}``). A run that exits non-zero, times out or
yields no outcome is an error row with its reason; nothing here raises for a bad run.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from trace2skill.command import build_command, run_in_group, tail
from trace2skill.ingest import IngestError, discover_files, read_file
from trace2skill.schema import Trajectory


class RunSpec(BaseModel):
    """One run to make: which task, which arm (skill) and which trial, and where."""

    task_id: str
    task: dict[str, Any] = Field(description="The task object, written to the task file as is.")
    arm: str = Field(description="'baseline' or 'candidate-N'.")
    skill_dir: str
    trial: int
    run_dir: str = Field(description="This run's own folder: task.json, out/, stdout.txt, stderr.txt.")
    cwd: str = Field(description="Where the command runs: the folder evaluate was started in (else run_dir, on a node without it).")


class RunRow(BaseModel):
    """What one run gave: an outcome, or an error with its reason. One row of runs.parquet."""

    task: str
    arm: str
    skill_dir: str
    trial: int
    status: Literal["ok", "error"]
    outcome: bool | None = Field(None, description="Success of the run (None for an error).")
    reward: float | None = None
    outcome_from: Literal["trajectory", "stdout"] | None = None
    trajectory_file: str | None = Field(None, description="The trajectory file the outcome was read from.")
    exit_code: int | None = Field(None, description="None when the run was killed for its timeout.")
    reason: str = ""
    seconds: float = 0.0


def run_once(spec: RunSpec, template: str, *, timeout_s: float | None = None, success_threshold: float = 1.0) -> RunRow:
    """Run ``template`` for ``spec`` and return its row; never raises for what the runner does."""
    run_dir = Path(spec.run_dir)
    out_dir = run_dir / "out"
    if run_dir.exists():  # a rerun into the same evaluation folder starts clean
        shutil.rmtree(run_dir)
    out_dir.mkdir(parents=True)
    task_file = run_dir / "task.json"
    task_file.write_text(json.dumps(spec.task, ensure_ascii=False), encoding="utf-8")
    values = {
        "skill_dir": str(Path(spec.skill_dir).resolve()),
        "task_file": str(task_file.resolve()),
        "out_dir": str(out_dir.resolve()),
        "trial": str(spec.trial),
        "task_id": spec.task_id,
        "arm": spec.arm,
    }
    row = {"task": spec.task_id, "arm": spec.arm, "skill_dir": spec.skill_dir, "trial": spec.trial}
    started = time.perf_counter()
    cwd = Path(spec.cwd) if Path(spec.cwd).is_dir() else run_dir
    code, timed_out = _execute(build_command(template, values), run_dir, cwd, timeout_s, values)
    seconds = round(time.perf_counter() - started, 3)
    stderr_tail = tail(run_dir / "stderr.txt")
    if timed_out:
        return RunRow(**row, status="error", reason=f"timed out after {timeout_s:g} s (process group killed); stderr: {stderr_tail}", seconds=seconds)
    if code != 0:
        return RunRow(**row, status="error", exit_code=code, reason=f"exit code {code}; stderr: {stderr_tail}", seconds=seconds)
    found = outcome_from_trajectories(out_dir, success_threshold) or outcome_from_stdout(tail(run_dir / "stdout.txt"), success_threshold)
    if isinstance(found, str):
        return RunRow(**row, status="error", exit_code=code, reason=f"no outcome: {found}", seconds=seconds)
    return RunRow(**row, status="ok", exit_code=code, seconds=seconds, **found)


def _execute(command: str, run_dir: Path, cwd: Path, timeout_s: float | None, values: dict[str, str]) -> tuple[int | None, bool]:
    """Run ``command`` in its own process group (``trace2skill.command``); (exit code, timed out)."""
    env = {f"TRACE2SKILL_{k.upper()}": v for k, v in values.items()}
    return run_in_group(command, cwd=cwd, stdout=run_dir / "stdout.txt", stderr=run_dir / "stderr.txt", timeout_s=timeout_s, env=env)


def outcome_from_trajectories(out_dir: Path, success_threshold: float) -> dict[str, Any] | None:
    """The outcome of the trajectories found in ``out_dir``, or None when none has one.

    A run may leave several trajectories (an agent and its sub-agents, several samples):
    the run succeeds when every trajectory with a known outcome does, and its reward is
    their mean reward. Files no adapter recognises are skipped.
    """
    known: list[tuple[Trajectory, Path]] = []
    for path in discover_files([out_dir]):
        try:
            records = list(read_file(path, success_threshold=success_threshold))
        except (IngestError, OSError):
            continue
        known += [(r, path) for r in records if isinstance(r, Trajectory) and r.success is not None]
    if not known:
        return None
    rewards = [t.reward for t, _ in known if t.reward is not None]
    return {
        "outcome": all(t.success for t, _ in known),
        "reward": sum(rewards) / len(rewards) if rewards else None,
        "outcome_from": "trajectory",
        "trajectory_file": str(known[0][1]),
    }


def outcome_from_stdout(tail: str, success_threshold: float) -> dict[str, Any] | str:
    """The outcome printed as a JSON object on the last stdout line, or the reason there is none."""
    lines = tail.splitlines()
    if not lines:
        return "no trajectory with an outcome in out_dir and nothing on stdout"
    try:
        value = json.loads(lines[-1])
    except json.JSONDecodeError:
        return "no trajectory with an outcome in out_dir and the last stdout line is not JSON"
    if not isinstance(value, dict):
        return "the last stdout line is not a JSON object"
    success, reward = value.get("success"), value.get("reward")
    if reward is not None and (isinstance(reward, bool) or not isinstance(reward, int | float) or not math.isfinite(reward)):
        return f"'reward' on the last stdout line is {reward!r}, expected a finite number"
    if not isinstance(success, bool):
        if success is not None:
            return f"'success' on the last stdout line is {success!r}, expected true or false"
        if reward is None:
            return "the last stdout line has neither 'success' nor 'reward'"
        success = reward >= success_threshold
    return {"outcome": success, "reward": None if reward is None else float(reward), "outcome_from": "stdout"}
