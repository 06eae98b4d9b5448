"""``trace2skill evaluate`` on Ray: every task x arm x trial run is a Ray task, a bounded number in flight.

The runs are the user's own commands (``evaluate.runner``); Ray places them where their
resources are (``num_cpus_per_run``, ``num_gpus_per_run``, custom resources), so a
cluster spreads them over its nodes. At most ``concurrency`` runs are submitted at once;
each finished run frees a slot. A run's task is never retried (a rerun is a new trial,
not a repair) and a failure of the Ray task itself (its worker died) becomes an error
row like a crashed runner: the evaluation always finishes with one row per run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import ray
from ray.exceptions import RayError

from trace2skill.evaluate.leakage import find_leaks
from trace2skill.evaluate.plan import EvaluateConfig, plan_runs
from trace2skill.evaluate.report import write_outputs
from trace2skill.evaluate.runner import RunRow, RunSpec, run_once
from trace2skill.evaluate.summary import EvaluationSummary, summarize
from trace2skill.evaluate.tasks import read_tasks
from trace2skill.pipeline.tuning import ray_session

Progress = Callable[[str], None]
PROGRESS_EVERY_S = 10.0


@ray.remote(max_retries=0)
def _run_remote(spec: RunSpec, template: str, timeout_s: float | None, success_threshold: float) -> RunRow:
    return run_once(spec, template, timeout_s=timeout_s, success_threshold=success_threshold)


def run_all(specs: Sequence[RunSpec], cfg: EvaluateConfig, progress: Progress = print) -> list[RunRow]:
    """Run every spec as a Ray task, ``cfg.concurrency`` at a time; the rows in spec order."""
    remote = _run_remote.options(num_cpus=cfg.num_cpus_per_run, num_gpus=cfg.num_gpus_per_run, resources=cfg.resources_per_run or None)
    rows: list[RunRow | None] = [None] * len(specs)
    pending: dict[ray.ObjectRef, int] = {}
    queue = iter(range(len(specs)))
    last = time.monotonic()

    def submit() -> None:
        index = next(queue, None)
        if index is not None:
            pending[remote.remote(specs[index], cfg.runner, cfg.timeout_s, cfg.success_threshold)] = index

    for _ in range(cfg.concurrency):
        submit()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=PROGRESS_EVERY_S)
        for ref in ready:
            index = pending.pop(ref)
            rows[index] = _result(ref, specs[index])
            submit()
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            last = time.monotonic()
            done = [r for r in rows if r is not None]
            progress(f"{len(done)}/{len(specs)} runs done, {sum(r.status == 'error' for r in done)} error(s), {len(pending)} in flight")
    return [r for r in rows if r is not None]


def _result(ref: ray.ObjectRef, spec: RunSpec) -> RunRow:
    try:
        return ray.get(ref)
    except RayError as exc:  # the worker died (OOM, node lost) or the task was cancelled
        return RunRow(task=spec.task_id, arm=spec.arm, skill_dir=spec.skill_dir, trial=spec.trial, status="error", reason=f"the run's Ray task failed: {type(exc).__name__}: {str(exc)[:500]}")


def evaluate(cfg: EvaluateConfig, progress: Progress = print) -> EvaluationSummary:
    """Run the gate: every run on Ray, then the statistics and the outputs in ``cfg.out``
    (what Ray prints goes to ``cfg.out/ray.log``)."""
    tasks = read_tasks(cfg.tasks)
    for _, skill in cfg.arms():
        if not skill.is_dir():
            raise FileNotFoundError(f"skill folder not found: {skill}")
    leaks = [
        span.warning(str(path)) for path in cfg.candidates for span in find_leaks(path, tasks, baseline_dir=cfg.baseline, min_words=cfg.leak_min_words)
    ]
    for warning in leaks:
        progress(f"warning: {warning}")
    specs = plan_runs(cfg, tasks)
    progress(f"{len(specs)} runs: {len(tasks)} task(s) x {len(cfg.arms())} arm(s) x {cfg.trials} trial(s), {cfg.concurrency} at a time")
    cfg.out.mkdir(parents=True, exist_ok=True)
    with ray_session(cfg.num_cpus, cfg.out / "ray.log"):
        rows = run_all(specs, cfg, progress)
    summary = summarize(
        rows,
        baseline=str(cfg.baseline),
        candidates=[str(c) for c in cfg.candidates],
        tasks=len(tasks),
        trials=cfg.trials,
        alpha=cfg.alpha,
        min_gain=cfg.min_gain,
        seed=cfg.seed,
    )
    summary.leakage = leaks
    write_outputs(cfg.out, rows, summary)
    progress(f"report: {cfg.out / 'report.html'}")
    return summary
