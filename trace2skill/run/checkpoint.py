"""The run dir as a checkpoint: what a run was started with, which stages are done, and the
analysis results written so far, so ``--resume`` picks up where a killed run stopped.

``run.json`` holds the run's format version, its configuration and the completed stages;
``analysis/part-*.parquet`` holds analysis results, one part per analysed batch, written by
the Ray Data worker that analysed it (``trace2skill.parts``: a temporary name, then a
rename, so a killed worker leaves whole parts or none). Nothing here knows about Ray.
"""

from __future__ import annotations

import json
import os
import shutil
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, Field

from trace2skill import __version__, parts
from trace2skill.analysts.models import AnalysisResult
from trace2skill.run.options import DistillConfig
from trace2skill.schema import MANIFEST_SCHEMA, ManifestRow, to_table

# Bump when the run dir's layout or the meaning of its files changes.
RUN_FORMAT = 5  # 2: trajectories/quarantine are folders of parts; analysis parts carry the manifest columns; 3: one config per engine; 4: outcome_source in the manifest columns; 5: content_hash in the trajectories and manifest columns
STATE_FILE = "run.json"
ANALYSIS_DIR = "analysis"
STREAMED_UNITS_DIR = "streamed_units"  # under the run dir: each analysis part's lesson units, embedded as the part was written
# The columns of an analysis part: the manifest columns (summed and counted without parsing
# JSON) and ``result``, the whole AnalysisResult as JSON (lessons, patch; consolidation reads it).
ANALYSIS_SCHEMA = MANIFEST_SCHEMA.append(pa.field("result", pa.string()))
# Options that change what a run produces; the others (CPUs, concurrency, batch size,
# replicas, where the run dir is) may differ between a run and its resumption.
RESULT_OPTIONS = frozenset(
    {"skill_dir", "mode", "name", "draft", "limit", "success_threshold", "labels", "input_format", "backend", "analyst", "consolidate", "inputs", "out_dir", "holdout", "holdout_ids", "seed", "max_prompt_tokens", "library", "update"}
)


class Checkpoint(StrEnum):
    """The stages ``run.json`` records as done; a resumption skips them."""

    READ = "read"  # trajectories/, quarantine/, the held-out split and the frozen s0/
    ANALYZE = "analyze"  # every trajectory sent has its result in analysis/
    CONSOLIDATE = "consolidate"  # the skill, the outputs, summary.json and the report: the run is finished


class RunError(Exception):
    """A run dir that cannot be used as asked (another version, other options, unwritable)."""


class RunState(BaseModel):
    """The contents of ``run.json``."""

    format: int = RUN_FORMAT
    version: str = __version__
    config: dict[str, Any]  # the DistillConfig, as saved_config gives it
    stages: list[str] = Field(default_factory=list)

    @property
    def finished(self) -> bool:
        return all(s in self.stages for s in Checkpoint)


def saved_config(cfg: DistillConfig) -> dict[str, Any]:
    """``cfg`` as ``run.json`` keeps it: JSON, with absolute paths so a run can be resumed
    from any working directory."""
    absolute = {"inputs": [p.resolve() for p in cfg.inputs], "out_dir": cfg.out_dir.resolve(), "run_dir": cfg.resolved_run_dir.resolve()}
    for key in ("skill_dir", "labels", "holdout_ids", "update"):
        if getattr(cfg, key) is not None:
            absolute[key] = getattr(cfg, key).resolve()
    if cfg.library is not None and cfg.library.skills_dir is not None:
        absolute["library"] = cfg.library.model_copy(update={"skills_dir": cfg.library.skills_dir.resolve()})
    return json.loads(cfg.model_copy(update=absolute).model_dump_json())


def run_folder(path: Path) -> Path:
    """The run folder ``path`` names: itself, or for a distill's output folder its ``run/``."""
    inside = path / "run"
    return inside if not (path / STATE_FILE).is_file() and (inside / STATE_FILE).is_file() else path


def resume_config(run_dir: Path, **overrides: Any) -> DistillConfig:
    """The configuration of the run saved in ``run_dir``, with ``overrides`` of the options
    that may change on resumption (``num_cpus``, ``analyze_concurrency``, ...)."""
    state = load_state(run_dir)
    if state is None:
        raise RunError(f"nothing to resume: {run_dir} holds no {STATE_FILE}")
    if set(overrides) & RESULT_OPTIONS:
        raise RunError(f"a resumed run keeps its options; cannot change {', '.join(sorted(set(overrides) & RESULT_OPTIONS))}")
    return DistillConfig.model_validate({**state.config, **overrides})


def load_state(run_dir: Path) -> RunState | None:
    """``run.json`` of ``run_dir``, or None where there is none. Raises ``RunError`` for a
    run dir written by another format version."""
    path = run_dir / STATE_FILE
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    if raw.get("format") != RUN_FORMAT:
        raise RunError(
            f"{run_dir} was written by trace2skill {raw.get('version', '?')} (run format {raw.get('format')}); "
            f"this is {__version__} (run format {RUN_FORMAT}): use another --run-dir"
        )
    return RunState.model_validate(raw)


def resumable(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds an unfinished run this version can continue."""
    try:
        state = load_state(run_dir)
    except RunError:
        return False
    return state is not None and not state.finished


def clear_run(run_dir: Path) -> None:
    """Remove an earlier run's folder (``--force``), finished or not, of any format: only a
    folder with a ``run.json`` is a run's, so a ``--run-dir`` naming anything else is left alone."""
    if (run_dir / STATE_FILE).is_file():
        shutil.rmtree(run_dir)


def save_state(run_dir: Path, state: RunState) -> None:
    """Write ``run.json`` atomically."""
    tmp = run_dir / f".{STATE_FILE}.tmp"
    tmp.write_text(state.model_dump_json(indent=2))
    os.replace(tmp, run_dir / STATE_FILE)


def start_run(cfg: DistillConfig, *, resume: bool) -> RunState:
    """The state a run starts from: the saved one when resuming (after checking it matches
    ``cfg``), else a new one. A fresh start clears an earlier finished run's checkpoint; it
    refuses to overwrite an unfinished run, which only ``resume`` continues."""
    run_dir = cfg.resolved_run_dir
    state = load_state(run_dir)
    config = saved_config(cfg)
    if resume:
        if state is None:
            raise RunError(f"nothing to resume: {run_dir} holds no {STATE_FILE}")
        differ = sorted(k for k in RESULT_OPTIONS if state.config.get(k) != config.get(k))
        if differ:
            raise RunError(f"{run_dir} was started with other options ({', '.join(differ)}); resume it with the same ones")
        return state
    if state is not None and not state.finished:
        raise RunError(f"{run_dir} holds an unfinished run: resume it (--resume {run_dir}) or choose another --run-dir")
    parts.reset(run_dir / ANALYSIS_DIR)
    shutil.rmtree(run_dir / STREAMED_UNITS_DIR, ignore_errors=True)  # named after analysis parts: an earlier run's would pass for this one's
    state = RunState(config=config)
    save_state(run_dir, state)
    return state


def mark_done(run_dir: Path, state: RunState, stage: Checkpoint | str) -> None:
    """Record ``stage`` as complete."""
    if stage not in state.stages:
        state.stages.append(str(stage))
    save_state(run_dir, state)


def check_writable(*dirs: Path, need_bytes: int = 0) -> None:
    """Fail before any work if a folder cannot be created or written, or its disk has less
    than ``need_bytes`` free."""
    for folder in dirs:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".trace2skill-write-probe"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise RunError(f"cannot write to {folder}: {exc.strerror or exc}") from None
        free = shutil.disk_usage(folder).free
        if free < need_bytes:
            raise RunError(f"only {free / 1e6:.0f} MB free on the disk of {folder}; this run needs about {need_bytes / 1e6:.0f} MB")


def manifest_row(result: AnalysisResult) -> ManifestRow:
    """The manifest row of one trajectory's analysis result (notes join the reason)."""
    return ManifestRow(
        trajectory_id=result.trajectory_id,
        source_file=result.source_file,
        status=result.status,
        reason="; ".join(filter(None, [result.reason, *result.notes])),
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        llm_calls=result.usage.calls,
        sibling_id=result.sibling_id,
        turns=result.turns,
        tool_errors=result.tool_errors,
        verified=result.verified,
        outcome_source=result.outcome_source,
        content_hash=result.content_hash,
    )


def analysis_table(results: list[AnalysisResult]) -> pa.Table:
    """``results`` as one analysis part: each trajectory's manifest columns and its whole result (JSON)."""
    table = to_table([manifest_row(r) for r in results], MANIFEST_SCHEMA)
    return table.append_column(ANALYSIS_SCHEMA.field("result"), pa.array([r.model_dump_json() for r in results], pa.string()))


def write_analysis_part(run_dir: Path, results: list[AnalysisResult]) -> Path | None:
    """Append ``results`` to ``RUN_DIR/analysis`` as one whole part (none for no results). The
    part is named after its trajectory ids, so a batch analysed twice (a lost worker's batch,
    retried) leaves one copy."""
    if not results:
        return None
    return parts.write_part(analysis_table(results), run_dir / ANALYSIS_DIR, parts.content_part_name(r.trajectory_id for r in results))
