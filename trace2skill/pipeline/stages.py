"""A run as a table of stages, and the one loop that runs them.

Each stage is a name and a function of the run's shared context. The loop skips a stage the
run dir's checkpoint records as done (a resumption), says so, records the seconds each
stage took under its name, hands the memory the stage freed back to the system, and marks
the stage done in ``run.json`` once it has returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from trace2skill.pipeline.tuning import trim
from trace2skill.run.checkpoint import Checkpoint, RunState, mark_done

C = TypeVar("C")


@dataclass(frozen=True)
class Stage(Generic[C]):
    """One step of a run. ``run`` may return the seconds of named parts of it that it timed
    itself (a part run in a worker); they are recorded beside the stage, not in it."""

    name: str  # its key in the run's stage seconds
    run: Callable[[C], Mapping[str, float] | None]
    checkpoint: Checkpoint | None = None  # recorded done after it; a resumption skips it


def run_stages(stages: Sequence[Stage[C]], context: C, run_dir: Path, state: RunState, progress: Callable[[str], None]) -> dict[str, float]:
    """Run ``stages`` in order on ``context``, skipping those ``state`` records as done; the
    seconds each stage (and each part it timed) took, by name."""
    seconds: dict[str, float] = {}
    last = time.perf_counter()
    for stage in stages:
        if stage.checkpoint is not None and stage.checkpoint in state.stages:
            progress(f"{stage.name}: done before the resumption")
            continue
        parts = stage.run(context) or {}
        trim()  # what the stage freed goes back to the system, not to the next stage's peak
        now = time.perf_counter()
        seconds[stage.name] = round(now - last - sum(parts.values()), 2)
        seconds.update((name, round(s, 2)) for name, s in parts.items())
        last = now
        if stage.checkpoint is not None:
            mark_done(run_dir, state, stage.checkpoint)
    return seconds
