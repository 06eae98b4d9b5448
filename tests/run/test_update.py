"""``distill --update`` without Ray: the content hash, the seen / changed / new decision, the
update's options and the refusals of a previous run it cannot update."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from tests.conftest import EXAMPLES, make_trajectory
from trace2skill.analysts.models import AnalysisResult
from trace2skill.run.checkpoint import ANALYSIS_SCHEMA, RUN_FORMAT, STATE_FILE, RunError, RunState, saved_config
from trace2skill.run.options import DistillConfig
from trace2skill.run.plan import Plan
from trace2skill.run.update import PREVIOUS_HASH, PREVIOUS_SOURCE, UpdateCounts, earlier_runs, full_run_calls, seen_table, split_counts, update_config, with_content_hashes
from trace2skill.schema import GraderView, Step

SKILL = EXAMPLES / "skills" / "airline-support"


def test_the_content_hash_is_of_the_run_not_of_where_it_was_read():
    base = make_trajectory("a", False, ["get_user_details", "cancel_reservation"])
    moved = base.model_copy(update={"id": "b", "source_file": "/elsewhere/x.json", "raw_id": "7", "metadata": {"k": 1}})
    renumbered = base.model_copy(update={"steps": [s.model_copy(update={"index": s.index + 10, "tool_call_id": "other"}) for s in base.steps]})
    assert base.content_hash() == moved.content_hash() == renumbered.content_hash()
    assert len(base.content_hash()) == 64 and base.to_row()["content_hash"] == base.content_hash()
    changes = [
        {"task": "another task"},
        {"success": True},
        {"reward": 0.5},
        {"grader": GraderView(source="tau_bench info", verdict="fail")},
        {"steps": [*base.steps, Step(index=99, role="user", content="one more thing")]},
    ]
    assert len({base.content_hash(), *(base.model_copy(update=c).content_hash() for c in changes)}) == len(changes) + 1


def joined(rows: list[tuple[str, str, str | None]]) -> pa.Table:
    """New trajectories joined with the previous hashes: (id, hash, previous hash or None)."""
    ids, hashes, before = zip(*rows)
    return pa.table({"id": list(ids), "source_file": ["f.json"] * len(rows), "content_hash": list(hashes), PREVIOUS_HASH: pa.array(before, pa.string()), PREVIOUS_SOURCE: ["grader"] * len(rows)})


def test_seen_means_the_same_id_and_the_same_hash():
    batch = joined([("t1", "h1", "h1"), ("t2", "h2", "old"), ("t3", "h3", None), ("t4", "h4", "h4")])
    assert split_counts(batch) == {"seen": 2, "changed": 1, "new": 1}
    seen = seen_table(batch, Path("/runs/first"))
    assert seen.schema == ANALYSIS_SCHEMA
    assert seen["trajectory_id"].to_pylist() == ["t1", "t4"]
    assert set(seen["status"].to_pylist()) == {"seen"} and seen["llm_calls"].to_pylist() == [0, 0]
    assert seen["content_hash"].to_pylist() == ["h1", "h4"] and seen["outcome_source"].to_pylist() == ["grader", "grader"]
    assert all("/runs/first" in r for r in seen["reason"].to_pylist())


def test_results_get_their_hash_and_a_changed_one_says_so():
    batch = joined([("t2", "h2", "old"), ("t3", "h3", None)])
    results = [AnalysisResult(trajectory_id=t, status="analyzed") for t in ("t2", "t3")]
    stamped = with_content_hashes(results, batch, "changed since X")
    assert [r.content_hash for r in stamped] == ["h2", "h3"]
    assert [r.notes for r in stamped] == [["changed since X"], []]
    plain = with_content_hashes(results, batch.drop_columns([PREVIOUS_HASH]), None)  # not an update
    assert [r.notes for r in plain] == [[], []]


def finished(tmp_path: Path, *, fmt: int = RUN_FORMAT, stages=("read", "analyze", "consolidate"), **options) -> Path:
    """A finished run's folder as distill leaves it (run.json, summary.json), without its data."""
    out = tmp_path / "first"
    cfg = DistillConfig.model_validate({"inputs": [EXAMPLES / "airline"], "out_dir": out, "skill_dir": SKILL, "backend": {"backend": "fake"}, **options})
    (out / "run").mkdir(parents=True)
    state = RunState(config=saved_config(cfg), stages=list(stages)).model_dump()
    (out / "run" / STATE_FILE).write_text(json.dumps({**state, "format": fmt}))
    summary = {"skill_dir": str(out / "airline-support"), "analyzed": 8, "no_lesson": 2, "failed": 0, "analysis_usage": {"calls": 15}}
    (out / "run" / "summary.json").write_text(json.dumps(summary))
    return out


def test_an_update_keeps_the_previous_options_under_the_flags_given(tmp_path):
    out = finished(tmp_path, success_threshold=0.5, seed=7, limit=3, consolidate={"fan_in": 6})
    cfg = update_config(out, [tmp_path / "more"], tmp_path / "second", {"seed": 9})
    assert cfg.update == out / "run" and cfg.skill_dir == out / "airline-support" and cfg.resolved_mode == "deepen"
    assert (cfg.success_threshold, cfg.seed, cfg.consolidate.fan_in, cfg.backend.backend) == (0.5, 9, 6, "fake")
    assert cfg.limit is None  # the previous inputs' limit is not the update's
    assert cfg.inputs == [tmp_path / "more"] and cfg.out_dir == tmp_path / "second"
    with pytest.raises(RunError, match="another --out"):
        update_config(out, [tmp_path / "more"], out, {})
    with pytest.raises(RunError, match="--skill and --draft"):
        update_config(out, [tmp_path / "more"], tmp_path / "third", {"skill_dir": SKILL})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"fmt": 4}, "before trajectories had content hashes"), ({"stages": ("read",)}, "unfinished run: finish it first")],
    ids=["old format", "unfinished"],
)
def test_an_update_refuses_a_run_it_cannot_build_on(tmp_path, kwargs, message):
    out = finished(tmp_path, **kwargs)
    with pytest.raises(RunError, match=message):
        update_config(out, [tmp_path / "more"], tmp_path / "second", {})
    with pytest.raises(RunError, match="holds no run.json"):
        update_config(tmp_path / "nothing", [tmp_path / "more"], tmp_path / "second", {})


def test_a_full_run_is_estimated_from_the_calls_per_analysed_trajectory(tmp_path):
    previous = finished(tmp_path) / "run"
    counts = UpdateCounts(previous=str(previous), seen=90, changed=2, new=8)
    assert full_run_calls(counts, 20, previous) == 200  # 2 calls per analysed trajectory, here
    assert full_run_calls(counts.model_copy(update={"changed": 0, "new": 0}), 0, previous) == 135  # 15 calls / 10 sent before
    line = counts.model_copy(update={"calls": 20, "full_calls": 200}).line()
    assert "90 seen (no call), 2 changed, 8 new; 20 analysis call(s), a full rerun ~200 (10%)" in line


def test_plan_with_an_update_counts_the_changed_and_new_share_of_the_calls():
    fields = {name: 0 for name in ("files", "quarantined", "sampled", "context_tokens", "analysis_prompt_tokens", "analysis_completion_tokens", "merge_prompt_tokens", "merge_completion_tokens", "shared_prefix_tokens")}
    stats = {"mean": 0, "p50": 0, "p95": 0, "max": 0}
    tree = {"units": 0, "clusters": 1, "fan_in": 8, "levels": 0, "calls": 0}
    plan = Plan(**fields, trajectories=200, formats={}, outcomes={}, tokenizer="x", trajectory_tokens=stats, prompt_tokens=stats, analysis_calls=400,
                lessons_per_trajectory=2, merge_fewest=tree, merge_most=tree)
    updated = plan.with_update(UpdateCounts(previous="p", seen=180, changed=5, new=15))
    assert (updated.update.calls, updated.update.full_calls) == (40, 400)
    assert "update" in updated.table()


def test_earlier_runs_follow_the_chain_of_updates(tmp_path):
    first = finished(tmp_path) / "run"
    second = tmp_path / "second" / "run"
    second.mkdir(parents=True)
    (second / STATE_FILE).write_text(json.dumps({"config": {"update": str(first)}}))
    third = tmp_path / "third" / "run"
    third.mkdir(parents=True)
    (third / STATE_FILE).write_text(json.dumps({"config": {"update": str(second)}}))
    assert earlier_runs(third) == [second, first]
    assert earlier_runs(first) == []
