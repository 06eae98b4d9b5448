"""``distill INPUT... --library NEW_OUT --update PREVIOUS``: a whole library updated from a new
pool (docs/library.md, "Updating a library"). No Ray here.

The previous library's skills are the existing skills the pool's groups are matched to (as
``--skills``), and its routing options the defaults. A group matched to one of them is a
single-skill update of that skill's previous run (``run.update.as_update``: seen, changed,
new); a group no skill fits starts a new skill; a previous skill no group takes is carried
over unchanged (its folder copied, its entry kept with origin ``carried``). Seen is decided
per skill: a trajectory that now routes to another skill than before is new to that skill,
and analysed against its S0.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace2skill.run.checkpoint import STATE_FILE, RunError, load_state, run_folder
from trace2skill.run.library import LIBRARY_JSON, Library, LibrarySkill, relative_path
from trace2skill.run.options import DistillConfig
from trace2skill.run.outputs import analysis_usage
from trace2skill.run.summary import RunSummary
from trace2skill.run.update import NO_PREVIOUS, UpdateCounts, carried_settings, finished_run


@dataclass(frozen=True)
class PreviousLibrary:
    """A finished library: its run folder, its output folder and its ``library.json``."""

    run_dir: Path
    out_dir: Path
    library: Library

    def skill_runs(self) -> dict[str, Path]:
        """Each skill and the run dir that last distilled it (a carried skill's is an earlier library's)."""
        return {s.name: (self.out_dir / s.run_dir).resolve() for s in self.library.skills}


def previous_library(path: Path) -> PreviousLibrary:
    """The finished library ``path`` names (its output or run folder), each skill's run checked
    as ``--update`` checks a run; a clear ``RunError`` for anything else."""
    run_dir = run_folder(path)
    state = load_state(run_dir)
    if state is None:
        raise RunError(f"--update needs a finished library's output or run folder; {path} holds no {STATE_FILE}")
    if state.config.get("library") is None:
        raise RunError(f"{run_dir} is one skill's run, not a library: update it with --out (distill --update {path} INPUT... --out NEW_OUT)")
    out_dir = Path(state.config["out_dir"])
    if not state.finished or not (out_dir / LIBRARY_JSON).is_file():
        raise RunError(f"{run_dir} holds an unfinished library run: finish it first (trace2skill distill --resume {run_dir})")
    previous = PreviousLibrary(run_dir.resolve(), out_dir.resolve(), Library.model_validate_json((out_dir / LIBRARY_JSON).read_text()))
    for run in previous.skill_runs().values():
        finished_run(run)
    return previous


def library_update_settings(previous: Path, flags: dict[str, Any]) -> tuple[PreviousLibrary, dict[str, Any]]:
    """The previous library and its saved options (routing included, less ``NOT_CARRIED``) with
    ``flags`` on top; its skills as the existing skills (``library.skills_dir``)."""
    found = previous_library(previous)
    if (flags.get("library") or {}).get("skills_dir") is not None:
        raise RunError("--update matches the pool to the previous library's skills; --skills does not apply")
    state = load_state(found.run_dir)
    assert state is not None  # previous_library checked it
    settings = carried_settings(state.config, flags)
    settings["library"] = {**(settings.get("library") or {}), "skills_dir": found.out_dir}
    return found, settings


def library_update_config(previous: Path, inputs: list[Path], out_dir: Path, flags: dict[str, Any]) -> DistillConfig:
    """The library update's configuration (``library_update_settings``) with the new ``inputs``
    and ``out_dir``, and the previous library's run folder as ``update``."""
    found, settings = library_update_settings(previous, flags)
    cfg = DistillConfig.model_validate({**settings, "inputs": inputs, "out_dir": out_dir, "update": found.run_dir})
    if {cfg.out_dir.resolve(), cfg.resolved_run_dir.resolve()} & {found.out_dir, found.run_dir}:
        raise RunError(f"--update writes a new library and leaves {previous} intact: give another --library folder")
    return cfg


def skill_counts(summary: RunSummary, run_dir: Path) -> UpdateCounts:
    """A skill's counts in a library update: its own update's, or for a new skill every
    trajectory new and its analysis calls those of a full run."""
    if summary.update is not None:
        return summary.update
    calls = analysis_usage(run_dir).calls
    return UpdateCounts(previous=NO_PREVIOUS, new=summary.read, calls=calls, full_calls=calls)


def carry_skills(previous: PreviousLibrary, taken: set[str], out_dir: Path) -> list[LibrarySkill]:
    """The previous library's skills that no group of the pool took, their folders copied
    unchanged into ``out_dir``; their ``library.json`` entries with origin ``carried``, nothing
    routed, and their run, provenance and report where the run that made them left them."""
    carried = []
    for s in previous.library.skills:
        if s.name in taken:
            continue
        shutil.copytree(previous.out_dir / s.skill_dir, out_dir / s.name, dirs_exist_ok=True)
        moved = {key: relative_path(previous.out_dir / getattr(s, key), out_dir) for key in ("run_dir", "provenance", "report")}
        carried.append(s.model_copy(update={"origin": "carried", "routed": 0, "update": None, "skill_dir": s.name, **moved}))
    return carried

