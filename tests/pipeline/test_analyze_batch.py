"""AnalyzeBatch with a stand-in handle (no cluster needed): what it writes and returns, and a lost replica."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from ray.exceptions import RayActorError

from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.analyze import AnalysisResult
from trace2skill.analysts.contrast import choose_sibling
from trace2skill.checkpoint import ANALYSIS_DIR
from trace2skill.llm.base import Usage
from trace2skill.pipeline.analyze import REPLICA_TRIES, AnalyzeBatch
from trace2skill.schema import TRAJECTORY_SCHEMA, to_table
from tests.conftest import make_trajectory


class _Response:
    def __init__(self, outcome):
        self.outcome = outcome

    def result(self):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class _Handle:
    """Answers each ``analyze.remote`` with the next outcome of a script."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.sent = 0
        self.pairings = []
        self.analyze = self

    def remote(self, payload, skill, pairing=None):
        self.sent += 1
        self.pairings.append(pairing)
        return _Response(self.outcomes.pop(0))


def _batch(handle, run_dir: Path = Path("unused")) -> AnalyzeBatch:
    actor = AnalyzeBatch.__new__(AnalyzeBatch)  # skip __init__: it looks the Serve app up
    actor.handle, actor.skill, actor.run_dir, actor.verifier = handle, SkillContext(skill_md=""), run_dir, None
    return actor


def test_a_batch_writes_its_results_as_a_part_and_returns_only_counts(tmp_path):
    trajs = [make_trajectory(f"t{i}", True, ["book"]) for i in range(3)]
    answers = [AnalysisResult(trajectory_id=t.id, status="no_lesson", usage=Usage(prompt_tokens=7, calls=1)).model_dump_json() for t in trajs]
    returned = _batch(_Handle(answers), tmp_path)(to_table(trajs, TRAJECTORY_SCHEMA))
    assert returned == {"trajectory_id": ["t0", "t1", "t2"], "status": ["no_lesson"] * 3, "prompt_tokens": [7] * 3, "completion_tokens": [0] * 3}
    written = pq.read_table(tmp_path / ANALYSIS_DIR)
    assert written["trajectory_id"].to_pylist() == ["t0", "t1", "t2"] and written["prompt_tokens"].to_pylist() == [7] * 3
    assert [AnalysisResult.model_validate_json(r).status for r in written["result"].to_pylist()] == ["no_lesson"] * 3


def test_a_request_lost_with_its_replica_is_sent_again():
    traj = make_trajectory("t1", True, ["book"])
    ok = AnalysisResult(trajectory_id="t1", status="no_lesson", reason="fine").model_dump_json()
    handle = _Handle([RayActorError(), ok])
    result = _batch(handle)._result_of(handle.remote("", "", "{pairing}"), traj, "{pairing}")
    assert result.status == "no_lesson" and handle.sent == 2
    assert handle.pairings == ["{pairing}", "{pairing}"]  # the resend carries the failure's sibling


def test_resends_are_bounded_and_end_failed_with_the_reason():
    traj = make_trajectory("t1", True, ["book"])
    handle = _Handle([RayActorError()] * REPLICA_TRIES)
    pairing = choose_sibling([make_trajectory("s1", True, ["book"]).to_row()], "k").model_dump_json()
    result = _batch(handle)._result_of(handle.remote("", ""), traj, pairing)
    assert result.status == "failed" and "RayActorError" in result.reason and handle.sent == REPLICA_TRIES
    assert result.sibling_id == "s1"  # a failed call still records the sibling it was paired with


def test_an_error_of_the_analysis_itself_is_not_resent():
    traj = make_trajectory("t1", True, ["book"])
    handle = _Handle([ValueError("bad answer")])
    result = _batch(handle)._result_of(handle.remote("", ""), traj)
    assert result.status == "failed" and "bad answer" in result.reason and handle.sent == 1
