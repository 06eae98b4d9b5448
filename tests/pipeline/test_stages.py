"""The loop that runs a run's table of stages: checkpoint, clock, progress and trims."""

from __future__ import annotations

import time

from trace2skill.pipeline import stages
from trace2skill.pipeline.stages import Stage, run_stages
from trace2skill.run.checkpoint import Checkpoint, RunState, load_state


def test_done_stages_are_skipped_and_the_others_timed_trimmed_and_marked(tmp_path, monkeypatch):
    trims, ran, said = [], [], []
    monkeypatch.setattr(stages, "trim", lambda: trims.append(len(ran)))

    def step(name: str, parts: dict[str, float] | None = None):
        def run(context: list[str]) -> dict[str, float] | None:
            context.append(name)
            time.sleep(0.05)
            return parts

        return run

    table = (
        Stage("start", step("start")),
        Stage("read", step("read"), Checkpoint.READ),
        Stage("analyze", step("analyze"), Checkpoint.ANALYZE),
        Stage("merge", step("merge", {"apply": 0.02})),
    )
    state = RunState(config={}, stages=["read"])  # a resumption after the read
    seconds = run_stages(table, ran, tmp_path, state, said.append)

    assert ran == ["start", "analyze", "merge"]
    assert said == ["read: done before the resumption"]
    assert list(seconds) == ["start", "analyze", "merge", "apply"]
    assert seconds["apply"] == 0.02 and 0.02 <= seconds["merge"] < 0.05 + 0.5  # the part timed inside is not counted twice
    assert trims == [1, 2, 3]  # after each stage that ran
    assert load_state(tmp_path).stages == ["read", "analyze"]  # marked once it returned; "merge" has no checkpoint
