"""Library mode: one Ray job routes a mixed pool to several skills and distills each (docs/library.md).

The library's run dir (``LIB_OUT/run``) holds the pool, read once (``trajectories.parquet``,
``quarantine.parquet``), the routing (``routes.parquet``, ``routing.json``) and a run dir per
skill (``skills/<name>/``). Each skill's run is a single-skill run: its trajectories (split
from the pool by the workers), its S0 (the matched existing skill, or one drafted from its
group's tasks), its analysis against that S0, consolidation by topic, outputs and report, so
``inspect``, ``explain``, ``report`` and ``evaluate`` work on a library's skill as on any
run's. Every skill's run uses the one analyst deployment; ``library.parallel_skills`` of
them go at a time, each streaming its own Ray Data datasets.

The library's ``run.json`` records ``read`` (the pool read, routed and split), ``analyze``
(every skill's run finished; a skill's own ``run.json`` resumes it) and ``consolidate``
(``library.json``, the manifest and the report written).

A library update (``cfg.update``: the previous library's run folder, ``run.library_update``)
routes against the previous library's skills; a skill matched to one runs as the update of
that skill's previous run, and the previous skills no group took are carried into
``library.json`` by the last stage.
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray

from trace2skill import parts
from trace2skill.library.describe import MAX_TASKS
from trace2skill.library.models import Routing, SkillRoute
from trace2skill.pipeline.read import PART_ROWS
from trace2skill.pipeline.run import (
    MIN_FREE_BYTES,
    RAY_LOG,
    DistillRun,
    analyst_ready,
    analyze,
    consolidate,
    freeze_s0,
    load_starting_skill,
    planned_inputs,
    read_inputs,
    run_to_end,
    start,
)
from trace2skill.pipeline.stages import Stage, run_stages
from trace2skill.pipeline.tuning import in_worker, ray_session, system_arrow_pool
from trace2skill.run.checkpoint import (
    ANALYSIS_DIR,
    STATE_FILE,
    Checkpoint,
    check_writable,
    mark_done,
    start_run,
)
from trace2skill.run.library import (
    LIBRARY_JSON,
    SKILLS_DIR,
    Library,
    library_entry,
    write_library_manifest,
)
from trace2skill.run.library_update import carry_skills, previous_library, skill_counts
from trace2skill.run.options import DistillConfig
from trace2skill.run.outputs import TRAJECTORIES
from trace2skill.run.progress import Console
from trace2skill.run.routing import ROUTES, existing_skills, read_routing, route_pool
from trace2skill.run.summary import RunSummary
from trace2skill.run.update import as_update
from trace2skill.schema import Usage
from trace2skill.skill.folder import write_skill
from trace2skill.skill.model import Skill


@dataclass
class LibraryRun:
    """What the library's stages share: the library-level run (its configuration, inputs,
    console and the analyst deployment), the routing, and each skill's summary."""

    base: DistillRun
    routing: Routing | None = None
    summaries: dict[str, RunSummary] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return self.base.run_dir


def start_library(lib: LibraryRun) -> None:
    """The analyst deployment every skill's run uses, running."""
    start(lib.base)
    analyst_ready(lib.base)


def read_and_route(lib: LibraryRun) -> None:
    """The pool read once, routed in a worker (``run.routing.route_pool``), and split into
    each skill's run dir by the workers."""
    cfg, run_dir, progress = lib.base.cfg, lib.run_dir, lib.base.progress
    read_inputs(lib.base)
    progress(f"routing the pool ({'by ' + cfg.library.group_by if cfg.library.group_by else 'clustering task descriptions'}, {cfg.consolidate.embedder} embeddings)")
    lib.routing = in_worker(route_pool)(run_dir, run_dir / TRAJECTORIES, cfg.library, cfg.consolidate, cfg.seed)
    progress(f"{len(lib.routing.skills)} skill(s), {len(lib.routing.unrouted)} trajectory(ies) unrouted: {lib.routing.criterion}")
    split_pool(run_dir)


def split_pool(run_dir: Path) -> int:
    """Each routed trajectory written into its skill's run dir (``skills/<name>/trajectories.parquet``)
    by the Ray Data workers; how many were written."""
    shutil.rmtree(run_dir / SKILLS_DIR, ignore_errors=True)  # a split cut short before the checkpoint is redone whole
    rows = ray.data.read_parquet(str(run_dir / TRAJECTORIES))
    written = rows.map_batches(
        write_skill_parts,
        fn_kwargs={"routes": str(run_dir / ROUTES), "skills": str(run_dir / SKILLS_DIR)},
        batch_size=PART_ROWS,
        batch_format="pyarrow",
    )
    return int(written.sum("written") or 0)


@functools.lru_cache(maxsize=2)
def _routes(path: str) -> pa.Table:
    """The routes, read once per worker process."""
    return pq.read_table(path, columns=["trajectory_id", "skill"])


def write_skill_parts(batch: pa.Table, *, routes: str, skills: str) -> dict[str, list[int]]:
    """Ray Data ``map_batches``: the batch's rows, each skill's as one part of its run dir's
    trajectories (named by the rows' ids, so a retried batch replaces its parts)."""
    table = _routes(routes)
    skill = pc.take(table["skill"], pc.index_in(batch["id"], table["trajectory_id"]))
    written = 0
    for name in pc.unique(skill).to_pylist():
        if not name:  # unrouted: the library's manifest says why
            continue
        rows = batch.filter(pc.fill_null(pc.equal(skill, name), False))
        parts.write_part(rows, Path(skills) / name / TRAJECTORIES, parts.content_part_name(rows["id"].to_pylist()))
        written += rows.num_rows
    return {"written": [written]}


def skill_config(cfg: DistillConfig, route: SkillRoute, skill_dir: Path | None, app: str, previous_run: Path | None = None) -> DistillConfig:
    """The single-skill run of ``route``: deepen the matched existing skill, or create one
    (drafted from the group's tasks unless ``library.draft_new`` is off); in a library update,
    the update of the matched skill's ``previous_run``."""
    skill = cfg.model_copy(
        update={
            "library": None,
            "update": None,
            "run_dir": cfg.resolved_run_dir / SKILLS_DIR / route.skill,
            "skill_dir": skill_dir,
            "mode": "deepen" if skill_dir else "create",
            "name": route.skill,
            "draft": skill_dir is None and cfg.library.draft_new,
            "analyst_app": app,
        }
    )
    return as_update(skill, previous_run) if previous_run else skill


def starting_skill(cfg: DistillConfig, route: SkillRoute) -> Skill:
    """The skill's S0: the existing skill, or a minimal one carrying the routing's description
    (which a draft replaces)."""
    s0 = load_starting_skill(cfg)
    if cfg.skill_dir is None:
        s0 = s0.model_copy(update={"description": route.description, "frontmatter": {**s0.frontmatter, "description": route.description}})
    return s0


def freeze_skill_s0(run: DistillRun) -> None:
    """A library skill's S0 as any run's (``freeze_s0``: drafted for a new skill), then its
    description rewritten from the tasks routed to it (one bounded call; a failed one keeps
    the description, and says so)."""
    freeze_s0(run)
    tasks: list[str] = []
    for batch in parts.iter_batches(run.run_dir / TRAJECTORIES, ["task"], batch_size=1024):
        tasks = list(dict.fromkeys([*tasks, *(t for t in batch["task"].to_pylist() if t and t.strip())]))[:MAX_TASKS]
        if len(tasks) >= MAX_TASKS:
            break
    answer = json.loads(run.handle.describe.remote(run.s0.name, run.s0.description, tasks).result())
    run.progress(f"{answer['note']} ({len(tasks)} task(s))")
    run.summary.analysis_usage = run.summary.analysis_usage + Usage.model_validate(answer["usage"])
    run.s0 = run.s0.model_copy(update={"description": answer["description"], "frontmatter": {**run.s0.frontmatter, "description": answer["description"]}})
    write_skill(run.s0, run.run_dir / "s0")


# A skill's run: its trajectories were split from the pool; the read stage only freezes S0.
SKILL_STAGES: tuple[Stage[DistillRun], ...] = (
    Stage("read", freeze_skill_s0, Checkpoint.READ),
    Stage("analyze", analyze, Checkpoint.ANALYZE),
    Stage("merge", consolidate),
)


def distill_skill(lib: LibraryRun, route: SkillRoute, skill_dir: Path | None, previous_run: Path | None = None) -> RunSummary:
    """One skill's run (the update of ``previous_run`` when given), started or resumed; its summary."""
    t_start = time.perf_counter()
    cfg = skill_config(lib.base.cfg, route, skill_dir, lib.base.app, previous_run)
    run_dir = cfg.resolved_run_dir
    state = start_run(cfg, resume=(run_dir / STATE_FILE).is_file())
    if state.finished:
        return RunSummary.model_validate_json((run_dir / "summary.json").read_text())
    progress = Console(lambda line: lib.base.progress(f"[{route.skill}] {line}"))
    run = DistillRun(cfg, progress, lib.base.plan, lib.base.labels, starting_skill(cfg, route), RunSummary(resumed=parts.num_rows(run_dir / ANALYSIS_DIR)))
    run.app, run.handle = lib.base.app, lib.base.handle
    summary = run_to_end(run, SKILL_STAGES, state, t_start)
    parts.remove_staging(run_dir)
    return summary


def distill_skills(lib: LibraryRun) -> None:
    """Every skill's run, ``library.parallel_skills`` at a time; in a library update, a skill
    matched to one of the previous library's updates that skill's run."""
    routing = lib.routing or read_routing(lib.run_dir)[0]
    lib.routing = routing
    found = existing_skills(lib.base.cfg.library.skills_dir)
    previous = previous_library(lib.base.cfg.update).skill_runs() if lib.base.cfg.update else {}
    with ThreadPoolExecutor(max_workers=lib.base.cfg.library.parallel_skills, thread_name_prefix="skill") as pool:
        futures = {r.skill: pool.submit(distill_skill, lib, r, found.get(r.matched) if r.matched else None, previous.get(r.matched or "")) for r in routing.skills}
        for name, future in futures.items():
            lib.summaries[name] = future.result()


def finish_library(lib: LibraryRun) -> None:
    """``library.json``, the library's manifest (each trajectory with its skill, or unrouted
    and why) and its report; in a library update, the previous skills no group took carried over."""
    from trace2skill.report.library import (
        write_library_report,  # the report's modules load at the run's end
    )

    cfg, run_dir = lib.base.cfg, lib.run_dir
    routing, routed = read_routing(run_dir)
    entries = []
    for r in routing.skills:
        skill_run = run_dir / SKILLS_DIR / r.skill
        summary = lib.summaries.get(r.skill) or _summary_of(skill_run)
        entries.append(library_entry(r, routed.get(r.skill, 0), summary, cfg.out_dir, skill_run, skill_counts(summary, skill_run) if cfg.update else None))
    if cfg.update:
        entries += carry_skills(previous_library(cfg.update), {r.matched for r in routing.skills if r.matched}, cfg.out_dir)
    library = Library.of(routing, entries, run_dir, cfg.update)
    (cfg.out_dir / LIBRARY_JSON).write_text(library.model_dump_json(indent=2))
    in_worker(write_library_manifest)(run_dir, [r.skill for r in routing.skills])
    in_worker(write_library_report)(run_dir, cfg.out_dir / LIBRARY_JSON)


def _summary_of(run_dir: Path) -> RunSummary:
    return RunSummary.model_validate_json((run_dir / "summary.json").read_text())


LIBRARY_STAGES: tuple[Stage[LibraryRun], ...] = (
    Stage("start", start_library),
    Stage("route", read_and_route, Checkpoint.READ),
    Stage("skills", distill_skills, Checkpoint.ANALYZE),
    Stage("library", finish_library),
)


def distill_library(cfg: DistillConfig, progress=print, *, resume: bool = False, quiet_ray: bool = False) -> Library:
    """Route ``cfg.inputs`` to several skills and distill each (``cfg.library`` set); write
    ``OUT/library.json``, a folder per skill and the run outputs; return the library."""
    if cfg.library is None:
        raise ValueError("distill_library needs cfg.library (library mode)")
    if cfg.skill_dir is not None or cfg.draft:
        raise ValueError("a library takes existing skills with --skills LIBRARY_DIR (not --skill), and drafts its new skills itself (not --draft)")
    progress = Console.of(progress)
    run_dir = cfg.resolved_run_dir
    plan, labels = planned_inputs(cfg, progress, resume=resume)
    existing_skills(cfg.library.skills_dir)  # a bad --skills fails before any work
    check_writable(cfg.out_dir, run_dir, need_bytes=2 * sum(Path(f["path"]).stat().st_size for f in plan) + MIN_FREE_BYTES)
    state = start_run(cfg, resume=resume)
    if state.finished:
        progress(f"{run_dir} holds a finished library run; nothing to resume")
        return Library.model_validate_json((cfg.out_dir / LIBRARY_JSON).read_text())
    lib = LibraryRun(DistillRun(cfg, progress, plan, labels, load_starting_skill(cfg.model_copy(update={"library": None})), RunSummary()))
    with system_arrow_pool(), ray_session(cfg.num_cpus, run_dir / RAY_LOG if quiet_ray else None):
        run_stages(LIBRARY_STAGES, lib, run_dir, state, progress)
        mark_done(run_dir, state, Checkpoint.CONSOLIDATE)
    parts.remove_staging(run_dir)
    return Library.model_validate_json((cfg.out_dir / LIBRARY_JSON).read_text())
