"""AnalyzeBatch with a stand-in handle (no cluster needed): one request per batch, resent when
its replica is lost; the results written as one part, only counts returned."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from ray.exceptions import RayActorError

from tests.conftest import make_trajectory
from trace2skill.analysts.batch import PAIRING
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.contrast import choose_sibling
from trace2skill.analysts.models import AnalysisResult
from trace2skill.pipeline.analyze import REPLICA_TRIES, AnalyzeBatch
from trace2skill.run.checkpoint import ANALYSIS_DIR
from trace2skill.schema import Usage


class _Response:
    def __init__(self, outcome):
        self.outcome = outcome

    def result(self):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class _Handle:
    """Answers each ``analyze_batch.remote`` with the next outcome of a script (a callable
    gets the batch sent); records the batches."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.batches: list[pa.Table] = []
        self.analyze_batch = self

    def remote(self, batch, skill):
        self.batches.append(batch)
        outcome = self.outcomes.pop(0)
        return _Response(outcome(batch) if callable(outcome) else outcome)


def _actor(handle, run_dir: Path, rows_per_request=None) -> AnalyzeBatch:
    actor = AnalyzeBatch.__new__(AnalyzeBatch)  # skip __init__: it looks the Serve app up
    actor.handle, actor.skill, actor.run_dir, actor.verifier, actor.rows_per_request, actor.changed = handle, SkillContext(skill_md=""), run_dir, None, rows_per_request, None
    return actor


def _batch(*ids: str, pairing: str | None = None) -> pa.Table:
    rows = [{**make_trajectory(i, i.startswith("ok"), ["book"]).to_row(), PAIRING: pairing} for i in ids]
    return pa.Table.from_pylist(rows)


def _answers(batch: pa.Table) -> list[AnalysisResult]:
    return [AnalysisResult(trajectory_id=i, status="no_lesson", reason="fine", usage=Usage(prompt_tokens=7, calls=1)) for i in batch["id"].to_pylist()]


def _written(run_dir: Path) -> list[AnalysisResult]:
    return [AnalysisResult.model_validate_json(r) for r in pq.read_table(run_dir / ANALYSIS_DIR)["result"].to_pylist()]


def test_a_batch_is_one_request_written_as_a_part_and_only_counts_and_the_part_return(tmp_path):
    handle = _Handle([_answers])
    returned = _actor(handle, tmp_path)(_batch("ok1", "bad2", "ok3"))
    assert len(handle.batches) == 1
    (part,) = (tmp_path / ANALYSIS_DIR).glob("part-*.parquet")
    assert returned == {
        "trajectory_id": ["ok1", "bad2", "ok3"], "part": [str(part)] * 3, "status": ["no_lesson"] * 3, "prompt_tokens": [7] * 3, "completion_tokens": [0] * 3,
    }  # fmt: skip
    written = pq.read_table(tmp_path / ANALYSIS_DIR)
    assert written["trajectory_id"].to_pylist() == ["ok1", "bad2", "ok3"] and written["prompt_tokens"].to_pylist() == [7] * 3
    assert [r.status for r in _written(tmp_path)] == ["no_lesson"] * 3
    assert written["content_hash"].to_pylist() == [make_trajectory(i, i.startswith("ok"), ["book"]).content_hash() for i in ("ok1", "bad2", "ok3")]


def test_rows_per_request_splits_a_batch_into_requests_all_in_flight(tmp_path):
    handle = _Handle([_answers] * 3)
    out = _actor(handle, tmp_path, rows_per_request=2)(_batch("ok1", "ok2", "ok3", "ok4", "ok5"))
    assert [b["id"].to_pylist() for b in handle.batches] == [["ok1", "ok2"], ["ok3", "ok4"], ["ok5"]]
    assert out["trajectory_id"] == ["ok1", "ok2", "ok3", "ok4", "ok5"]


def test_a_batch_lost_with_its_replica_is_sent_again(tmp_path):
    pairing = choose_sibling([make_trajectory("s1", True, ["book"]).to_row()], "k").model_dump_json()
    handle = _Handle([RayActorError(), _answers])
    out = _actor(handle, tmp_path)(_batch("bad1", "bad2", pairing=pairing))
    assert out["status"] == ["no_lesson"] * 2
    assert len(handle.batches) == 2 and handle.batches[1][PAIRING].to_pylist() == [pairing] * 2  # the resend carries the siblings


def test_resends_are_bounded_and_end_failed_with_the_reason(tmp_path):
    pairing = choose_sibling([make_trajectory("s1", True, ["book"]).to_row()], "k").model_dump_json()
    handle = _Handle([RayActorError()] * REPLICA_TRIES)
    _actor(handle, tmp_path)(_batch("bad1", "bad2", pairing=pairing))
    results = _written(tmp_path)
    assert [r.status for r in results] == ["failed", "failed"] and len(handle.batches) == REPLICA_TRIES
    assert all("RayActorError" in r.reason and r.sibling_id == "s1" for r in results)  # a failed call still records the sibling


def test_an_error_of_the_request_itself_is_not_resent(tmp_path):
    handle = _Handle([ValueError("bad answer")])
    _actor(handle, tmp_path)(_batch("ok1", "ok2"))
    results = _written(tmp_path)
    assert [r.status for r in results] == ["failed", "failed"] and len(handle.batches) == 1
    assert all(r.reason == "analyst call failed: ValueError: bad answer" for r in results)
