"""A distill run end to end: read -> analyze -> consolidate -> write, on one Ray session."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray
from ray.data import ActorPoolStrategy
from ray.serve.handle import DeploymentHandle

from trace2skill import parts
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.verify import VerifierJob
from trace2skill.consolidate.carry import CarriedProvenance
from trace2skill.consolidate.provenance import write_provenance
from trace2skill.consolidate.view import consolidation_view
from trace2skill.ingest import read_labels
from trace2skill.pipeline.analyze import AnalyzeBatch, draft_s0, write_lessons_and_patches
from trace2skill.pipeline.consolidate import Topics, finish_topics, reduce_topics
from trace2skill.pipeline.pair import MAX_PARTITIONS, ROWS_PER_PARTITION, task_pairings, with_pairings
from trace2skill.pipeline.read import input_plan, read_records, write_records
from trace2skill.pipeline.stages import Stage, run_stages
from trace2skill.pipeline.tuning import TRIM_EVERY_BATCHES, analysis_stream, in_worker, ray_session, system_arrow_pool, trim
from trace2skill.pipeline.units import streams_units, with_streamed_units
from trace2skill.pipeline.update import mark_seen, seen_count, unseen, with_previous
from trace2skill.run.budget import PromptBudget, budget_report, budget_run
from trace2skill.run.checkpoint import ANALYSIS_DIR, Checkpoint, RunState, check_writable, mark_done, start_run
from trace2skill.run.holdout import HOLDOUT_TASKS, read_task_ids, split_holdout
from trace2skill.run.options import DistillConfig
from trace2skill.run.outcomes import check_outcomes
from trace2skill.run.outputs import MANIFEST, QUARANTINE, TRAJECTORIES, analysis_usage, personal_data_counts, write_manifest
from trace2skill.run.progress import Console
from trace2skill.run.summary import RunSummary
from trace2skill.run.update import UPDATE_JSON, changed_note, update_cost
from trace2skill.safety.trace import write_safety
from trace2skill.schema import PATCH_SCHEMA, to_table
from trace2skill.serve.analyst import start_analyst, wait_running
from trace2skill.skill.folder import load_skill, minimal_skill, write_skill
from trace2skill.skill.model import Skill

Progress = Callable[[str], None]
STATUSES = ("analyzed", "no_lesson", "quarantined", "failed", "skipped", "seen")
RAY_LOG = "ray.log"  # what Ray and the libraries print during a run, unless the caller wants it on stderr
MIN_FREE_BYTES = 50_000_000  # beyond the inputs' size: Parquet outputs, the skill, Ray's spill headroom


def load_starting_skill(cfg: DistillConfig) -> Skill:
    """S0: the given skill folder (deepen), or a minimal skill named ``--name`` (create)."""
    if cfg.draft and cfg.skill_dir is not None:
        raise ValueError("--draft drafts a new S0 in create mode; it cannot be combined with --skill")
    if cfg.skill_dir is not None:
        s0 = load_skill(cfg.skill_dir)
        if cfg.name and cfg.name != s0.name:
            s0 = s0.model_copy(update={"name": cfg.name, "frontmatter": {**s0.frontmatter, "name": cfg.name}})
        return s0
    if cfg.resolved_mode == "deepen":
        raise ValueError("deepen mode needs a starting skill: pass --skill S0_DIR")
    name = cfg.name or "distilled-skill"
    return minimal_skill(name, f"Lessons distilled from agent trajectories for {name.replace('-', ' ')} tasks. Use when doing such tasks.")


def ingest(
    inputs: list[str],
    trajectories: Path,
    *,
    fmt: str = "auto",
    labels: Path | None = None,
    success_threshold: float = 1.0,
    num_cpus: int | None = None,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    progress: Progress = print,
) -> dict[str, int]:
    """``trace2skill ingest``: normalise and redact inputs into a trajectories Parquet dataset,
    a folder of part files written by the workers (and ``<stem>.quarantine.parquet`` beside
    it); return the counts. Sidecars join as labels; files neither read are named to ``progress``.
    What Ray prints goes to ``<stem>.ray.log`` beside it."""
    plan, found = input_plan(inputs, fmt, include=include, exclude=exclude)
    for line in found.warnings():
        progress(line)
    label_map = found.with_labels(read_labels(labels) if labels else None)
    with ray_session(num_cpus, trajectories.with_name(f"{trajectories.stem}.{RAY_LOG}")):
        parsed = read_records(plan, success_threshold=success_threshold, labels=label_map, limit=None)
        counts = write_records(parsed, trajectories, trajectories.with_name(f"{trajectories.stem}.quarantine.parquet"))
    parts.remove_staging(trajectories.parent)
    return counts


@dataclass
class DistillRun:
    """What the stages of one ``distill`` share: its inputs, the summary they fill in, and the
    analyst deployment the first stage starts."""

    cfg: DistillConfig
    progress: Console
    plan: list[dict[str, str]]
    labels: dict | None
    s0: Skill  # the starting skill, until the read stage freezes it in RUN_DIR/s0 (``frozen_s0``)
    summary: RunSummary
    app: str = ""
    handle: DeploymentHandle | None = None

    @property
    def run_dir(self) -> Path:
        return self.cfg.resolved_run_dir

    @cached_property
    def frozen_s0(self) -> Skill:
        """The S0 every stage after the read (and a resumption) works against."""
        return load_skill(self.run_dir / "s0")


def start(run: DistillRun) -> None:
    """The analyst deployment (or the one ``--analyst-app`` names), started without waiting
    for its replicas: they start while the read runs (``analyst_ready`` waits for them)."""
    run.progress(f"starting the analyst deployment ({run.cfg.backend.backend} backend)")
    run.app, run.handle = start_analyst(run.cfg.backend, run.cfg.analyst, run.cfg.replicas, existing=run.cfg.analyst_app, wait=False)


def analyst_ready(run: DistillRun) -> None:
    """Wait until the analyst deployment runs (raises if it failed); every stage that calls it
    waits first, as a resumption may skip the stages before it."""
    wait_running(run.app)


def read(run: DistillRun) -> None:
    """``read_inputs``, then ``freeze_s0`` once the analyst runs (a draft calls it)."""
    read_inputs(run)
    analyst_ready(run)
    freeze_s0(run)


def read_inputs(run: DistillRun) -> None:
    """Inputs -> trajectories and quarantine (Parquet parts written by the workers)."""
    cfg, run_dir = run.cfg, run.run_dir
    run.progress(f"reading {len(run.plan)} file(s)")
    parsed = read_records(run.plan, success_threshold=cfg.success_threshold, labels=run.labels, limit=cfg.limit, personal_data=cfg.redact.personal_data)
    counts = write_records(parsed, run_dir / TRAJECTORIES, run_dir / QUARANTINE)
    run.progress(f"read {counts['ok']} trajectory(ies), {counts['quarantined']} quarantined")


def freeze_s0(run: DistillRun) -> None:
    """What follows the read over ``RUN_DIR/trajectories``: the held-out split, a drafted S0
    (``--draft``), the budget's sample, an update's ``seen`` results (``pipeline.update``);
    S0 frozen in ``s0/``."""
    cfg, run_dir, progress = run.cfg, run.run_dir, run.progress
    if cfg.holdout or cfg.holdout_ids:
        held = split_holdout(run_dir, run_dir / TRAJECTORIES, fraction=cfg.holdout, ids=read_task_ids(cfg.holdout_ids) if cfg.holdout_ids else None, seed=cfg.seed)
        progress(f"{held} task(s) held out for evaluate: {run_dir / HOLDOUT_TASKS}")
    if cfg.draft:
        run.s0, usage, run.summary.draft_note = draft_s0(run.handle, run.s0.name, run_dir / TRAJECTORIES, progress)
        run.summary.analysis_usage = run.summary.analysis_usage + usage
    if cfg.max_prompt_tokens:
        progress(budget_run(cfg, run_dir / TRAJECTORIES, SkillContext.of(run.s0)).line())
    if cfg.update:  # after the holdout split and the budget's sample: what they took out is neither seen nor analysed
        counts = mark_seen(run_dir, cfg.update)
        (run_dir / UPDATE_JSON).write_text(counts.model_dump_json())
        progress(f"update: {counts.seen} trajectory(ies) seen by {cfg.update} (no call), {counts.changed} changed, {counts.new} new")
    write_skill(run.s0, run_dir / "s0")


def analyze(run: DistillRun) -> None:
    """Analyse every trajectory without a result in ``RUN_DIR/analysis``; the actors write the
    results there themselves."""
    cfg, run_dir, progress = run.cfg, run.run_dir, run.progress
    analyst_ready(run)
    analysis = run_dir / ANALYSIS_DIR
    done = parts.num_rows(analysis)  # analysed before a resumption, or seen by an update's read
    # A resumption counts what the interrupted run spent.
    guard = PromptBudget(cfg.max_prompt_tokens, parts.column_sums(analysis, ["prompt_tokens"])["prompt_tokens"] if done else 0)
    total = parts.num_rows(run_dir / TRAJECTORIES)
    progress(f"analyzing {total - done} trajectory(ies)" + (f"; {done} have a result already (analysed before the resumption, or seen)" if done else ""))
    batch_size = cfg.analysis_batch_size(total - done)
    if total <= done or guard.exhausted:
        return
    # Pairs are found over every run (a done success is still a failure's sibling), before
    # the stream starts; their passes read the part files by path (pipeline.pair).
    pairings = task_pairings(run_dir / TRAJECTORIES, total) if cfg.analyst.contrast else None
    # Blocks of one batch each (streamed, not a barrier), so every actor gets work: a
    # file's rows otherwise arrive as one block that only one actor would process.
    with analysis_stream():  # nothing downstream needs input order: parts are named by their ids
        rows = ray.data.read_parquet(str(run_dir / TRAJECTORIES))
        if pairings is not None:
            rows = with_pairings(rows, pairings)
        # An update's seen rows go by its join with the previous hashes; the join with the
        # results is only needed when a resumption left more results than the seen ones.
        if done > (seen_count(run_dir) if cfg.update else 0):
            rows = not_analysed(rows, analysis, total)
        if cfg.update:
            rows = unseen(with_previous(rows, cfg.update, total))
        rows = rows.repartition(target_num_rows_per_block=batch_size)
    verifier = VerifierJob(config=cfg.verifier, policy=cfg.analyst.checker, s0=run.frozen_s0, work_dir=run_dir / "verify") if cfg.verifier.command else None
    analyzed = rows.map_batches(
        AnalyzeBatch,
        fn_constructor_kwargs={"app": run.app, "skill": SkillContext.of(run.frozen_s0), "run_dir": str(run_dir), "verifier": verifier, "rows_per_request": cfg.rows_per_request, "changed": changed_note(cfg.update) if cfg.update else None},
        batch_size=batch_size,
        batch_format="pyarrow",
        compute=ActorPoolStrategy(size=cfg.analysis_actors(total - done)),
        num_cpus=0,  # the actors only wait on Serve; the replicas hold the CPUs
    )
    if streams_units(cfg.consolidate, total - done):
        analyzed = with_streamed_units(analyzed, run_dir, cfg.consolidate)  # the merge stage's units, embedded meanwhile
    counts = parts.value_counts(analysis, "status")
    with progress.stage("analyze", total, "trajectory", initial=done) as bar:
        for i, batch in enumerate(analyzed.iter_batches(batch_size=None, batch_format="pyarrow"), start=1):
            if i % TRIM_EVERY_BATCHES == 0:  # the stage is long: what the executor freed meanwhile goes back
                trim()
            counts.update(batch["status"].to_pylist())
            bar.advance(batch.num_rows, ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
            if guard.spend(pc.sum(batch["prompt_tokens"]).as_py() or 0):  # the budget is spent: send nothing new (the rest is skipped)
                progress(f"--max-prompt-tokens {guard.limit:,} spent ({guard.spent:,} prompt tokens); no new analysis is sent")
                break


def consolidate(run: DistillRun) -> dict[str, float]:
    """Lessons and patches split from the results, merged by topic, the skill finished and the
    run's outputs written; the seconds of the writing (``apply``), timed in its worker."""
    cfg, run_dir, summary = run.cfg, run.run_dir, run.summary
    analyst_ready(run)
    usage = analysis_usage(run_dir)
    summary.analysis_usage = summary.analysis_usage + usage
    if cfg.update:
        summary.update = update_cost(run_dir, cfg.update, usage.calls)
    # Under a budget, a trajectory still in trajectories.parquet without a result was left unsent.
    results = parts.num_rows(run_dir / ANALYSIS_DIR)
    summary.budget = budget_report(run_dir, usage.prompt_tokens, parts.num_rows(run_dir / TRAJECTORIES) - results)
    found = write_lessons_and_patches(run_dir, results)  # lessons.parquet and patches.parquet, split from the parts by Ray tasks
    run.progress(f"{found['lessons']} lesson(s), {found['patches']} patch(es); consolidating ({cfg.consolidate.embedder} embeddings, fan-in {cfg.consolidate.fan_in})")
    skill_view = consolidation_view(run.frozen_s0)  # S0's listing and its reference files, for merges
    topics = reduce_topics(run_dir / ANALYSIS_DIR, cfg, run.app, skill_view, run.progress)
    run.progress("assembling the skill from the topics, applying and validating it")
    # In a worker that exits once it is done: the cluster results name every lesson and
    # trajectory behind what each topic keeps; at 1M trajectories they took the driver from
    # 745 to 1,291 MB (docs/performance.md).
    run.summary, apply_seconds = in_worker(finish_and_write)(run.frozen_s0, topics, cfg, run.app, skill_view, found, summary)
    return {"apply": apply_seconds}


# The clock's names ("start" ... "apply") are the keys of the summary's stage_seconds.
STAGES: tuple[Stage[DistillRun], ...] = (
    Stage("start", start),
    Stage("read", read, Checkpoint.READ),
    Stage("analyze", analyze, Checkpoint.ANALYZE),
    Stage("merge", consolidate),  # done (Checkpoint.CONSOLIDATE) once summary.json and the report are written
)


def distill(cfg: DistillConfig, progress: Progress = print, *, resume: bool = False, quiet_ray: bool = False) -> RunSummary:
    """Run the whole method over ``cfg.inputs`` and write the skill and the run outputs.

    With ``resume``, continue the run saved in the run dir: completed stages are skipped and
    trajectories already analysed are not sent again. ``progress`` gets the run's lines (a
    ``Console`` also shows stage progress as bars). With ``quiet_ray``, whatever Ray and the
    libraries print while the run goes on goes to ``RUN_DIR/ray.log``, not stderr.
    """
    t_start = time.perf_counter()
    progress = Console.of(progress)
    if cfg.library is not None:
        raise ValueError("a library run (cfg.library) is distilled by trace2skill.pipeline.library.distill_library")
    run_dir = cfg.resolved_run_dir
    plan, labels = planned_inputs(cfg, progress, resume=resume)
    s0 = load_starting_skill(cfg)
    check_writable(cfg.out_dir, run_dir, need_bytes=sum(Path(f["path"]).stat().st_size for f in plan) + MIN_FREE_BYTES)
    state = start_run(cfg, resume=resume)
    if state.finished:
        progress(f"{run_dir} holds a finished run; nothing to resume")
        return RunSummary.model_validate_json((run_dir / "summary.json").read_text())
    # Trajectories whose analysis an interrupted earlier run had already written.
    run = DistillRun(cfg, progress, plan, labels, s0, RunSummary(resumed=parts.num_rows(run_dir / ANALYSIS_DIR)))

    with system_arrow_pool():  # the driver's freed Arrow memory can be trimmed (pipeline.tuning)
        with ray_session(cfg.num_cpus, run_dir / RAY_LOG if quiet_ray else None):
            summary = run_to_end(run, STAGES, state, t_start)
    parts.remove_staging(run_dir)
    return summary


def planned_inputs(cfg: DistillConfig, progress: Progress, *, resume: bool) -> tuple[list[dict[str, str]], dict | None]:
    """The files to read and the labels joined onto them. Fails before any work on a bad
    input; sidecars join as labels, files neither read are named."""
    plan, found = input_plan([str(p) for p in cfg.inputs], cfg.input_format, include=cfg.include, exclude=cfg.exclude)
    for line in found.warnings():
        progress(line)
    labels = found.with_labels(read_labels(cfg.labels) if cfg.labels else None)
    if not resume:
        check_outcomes(plan, labels, success_threshold=cfg.success_threshold, backend=cfg.backend.backend, judge=cfg.analyst.judge)
    return plan, labels


def run_to_end(run: DistillRun, stages: tuple[Stage[DistillRun], ...], state: RunState, t_start: float) -> RunSummary:
    """Run ``stages`` (those not done before a resumption), write ``summary.json`` and the
    report, and record the run finished; its summary. Inside the run's Ray session."""
    run_dir = run.run_dir
    seconds = run_stages(stages, run, run_dir, state, run.progress)
    summary = run.summary.model_copy(update={"stage_seconds": seconds, "wall_seconds": round(time.perf_counter() - t_start, 2)})
    (run_dir / "summary.json").write_text(summary.model_dump_json(indent=2))
    # The report reads the run's files into polars, ~1 GB at 1M trajectories
    # (docs/performance.md): work for a worker, not for the driver, which only steers.
    from trace2skill.report import write_report  # matplotlib and the report's templates: the run's last step, not its start-up

    in_worker(write_report)(run_dir)
    mark_done(run_dir, state, Checkpoint.CONSOLIDATE)
    return summary


def finish_and_write(s0: Skill, topics: Topics, cfg: DistillConfig, app: str, skill_view: str, found: dict[str, int], summary: RunSummary) -> tuple[RunSummary, float]:
    """The skill finished from the cluster results (``finish_topics``) and the run's outputs
    written (``_write_outputs``); the filled-in summary and the seconds the writing took.
    Like every stage's workers, the worker that runs it needs the run dir and the output folder."""
    cons = finish_topics(s0, topics, cfg, app, skill_view)
    start = time.perf_counter()
    summary = _write_outputs(cfg, cons, found, summary)
    return summary, time.perf_counter() - start

def not_analysed(rows: ray.data.Dataset, analysis: Path, total: int) -> ray.data.Dataset:
    """``rows`` less the trajectories that have a result in the ``analysis`` parts: a left
    anti-join on the trajectory id, run by Ray Data (no set of done ids on the driver)."""
    done = ray.data.read_parquet(str(analysis), columns=["trajectory_id"])
    partitions = max(1, min(MAX_PARTITIONS, total // ROWS_PER_PARTITION))
    return rows.join(done, join_type="left_anti", num_partitions=partitions, on=("id",), right_on=("trajectory_id",))


def _write_outputs(cfg: DistillConfig, cons, found: dict[str, int], summary: RunSummary) -> RunSummary:
    """Write the skill and the run's Parquet and JSON outputs; return the filled-in summary.
    The per-trajectory outputs stream from the analysis parts, the quarantine and the
    held-out rows; the counts are aggregations over what was written."""
    run_dir = cfg.resolved_run_dir
    result = cons.final
    skill_dir = cfg.out_dir / result.skill.name
    write_skill(result.skill, skill_dir)
    write_manifest(run_dir)
    final = [p.to_patch() for p in cons.assembly.parts]
    pq.write_table(to_table(final, PATCH_SCHEMA), run_dir / "final_patches.parquet")
    # An update's provenance carries on the previous run's for the lines still in the skill.
    carried = CarriedProvenance(cfg.update / "provenance.parquet", cons.provenance, result.skill, cfg.consolidate.near_duplicate) if cfg.update else None
    write_provenance(
        carried.remaining() if carried else cons.provenance, run_dir / "provenance.parquet",
        folded=cons.folded, labels={c.cluster_id: c.label for c in cons.clusters}, carried=carried.tables() if carried else (),
    )
    (run_dir / "consolidation.json").write_text(cons.stats.model_dump_json(indent=2))
    (run_dir / "refusals.json").write_text(json.dumps([r.model_dump() for r in result.refused], indent=2))
    safety = write_safety(cons.safety, run_dir)

    statuses = parts.value_counts(run_dir / MANIFEST, "status")
    sources = parts.value_counts(run_dir / ANALYSIS_DIR, "outcome_source")  # of the trajectories sent to analysis
    return summary.model_copy(
        update={
            "skill_dir": str(skill_dir),
            "read": statuses.total(),
            **{s: statuses[s] for s in STATUSES},
            **found,
            "consolidation": cons.stats,
            "edits_applied": result.applied,
            "edits_refused": len(result.refused),
            **safety.summary_fields(),
            "personal_data": personal_data_counts(run_dir / TRAJECTORIES),
            "personal_data_off": not cfg.redact.personal_data,
            "outcome_sources": dict(sorted(sources.items())),
            "valid": not result.problems,
            "validation_problems": result.problems,
        }
    )
