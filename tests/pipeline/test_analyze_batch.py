"""AnalyzeBatch's handling of a lost replica, with a stand-in handle (no cluster needed)."""

from __future__ import annotations

from ray.exceptions import RayActorError

from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.analyze import AnalysisResult
from trace2skill.analysts.contrast import choose_sibling
from trace2skill.pipeline.analyze import REPLICA_TRIES, AnalyzeBatch
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


def _batch(handle) -> AnalyzeBatch:
    actor = AnalyzeBatch.__new__(AnalyzeBatch)  # skip __init__: it looks the Serve app up
    actor.handle, actor.skill, actor.skip = handle, SkillContext(skill_md=""), set()
    return actor


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
