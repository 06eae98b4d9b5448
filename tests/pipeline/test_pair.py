"""The pairing stage on real Ray Data, and a distill run that uses it (fake backend)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import ray

from tests.conftest import make_trajectory
from trace2skill.analysts.contrast import MAX_CANDIDATES, Pairing, choose_sibling, counted_steps
from trace2skill.llm.config import FakeConfig
from trace2skill.pipeline.run import distill
from trace2skill.pipeline.pair import PAIRING, rank_candidates, task_pairings, task_runs, with_pairings
from trace2skill.run.options import DistillConfig
from trace2skill.schema import TRAJECTORY_SCHEMA, Step

pytestmark = pytest.mark.ray


def rows():
    made = [
        make_trajectory("a-fail", False, ["x", "y"]).model_copy(update={"task_key": "task_id:a"}),
        make_trajectory("a-long", True, ["x", "y", "z"]).model_copy(update={"task_key": "task_id:a"}),
        make_trajectory("a-short", True, ["x"]).model_copy(update={"task_key": "task_id:a"}),
        make_trajectory("b-fail", False, ["x"]).model_copy(update={"task_key": "task_id:b"}),
        make_trajectory("c-fail", False, ["x"]).model_copy(update={"task": "same text"}),
        make_trajectory("c-ok", True, ["x"]).model_copy(update={"task": "same  text"}),
        make_trajectory("unknown", None, ["x"]),
        # the shortest success of task d cannot be shown (no step to show): the next one is its sibling
        make_trajectory("d-fail", False, ["x"]).model_copy(update={"task_key": "task_id:d"}),
        make_trajectory("d-empty", True, []).model_copy(update={"task_key": "task_id:d", "steps": [Step(index=0, role="system", content="s")]}),
        make_trajectory("d-ok", True, ["x", "y"]).model_copy(update={"task_key": "task_id:d"}),
    ]
    return [t.to_row() for t in made]


def _table():
    return pa.Table.from_pylist(rows(), schema=TRAJECTORY_SCHEMA)


def test_compact_runs_count_steps_as_the_contrast_rule_does():
    table = _table()
    expected = {r["id"]: counted_steps(r["steps"]) for r in rows() if r["success"] is not None}
    assert table["counted_steps"].to_pylist() == [counted_steps(r["steps"]) for r in rows()]  # stored at read time
    compact = task_runs(table.drop_columns(["steps"]))  # what the compact pass reads: the count, not the steps
    assert set(compact.column_names) == {"pair_key", "pair_bucket", "id", "success", "length"}  # no steps: the shuffle moves bytes, not runs
    assert dict(zip(compact["id"].to_pylist(), compact["length"].to_pylist())) == expected  # the unknown-outcome run has no key


def test_candidates_are_the_shortest_successes_of_a_task_with_a_failure():
    compact = task_runs(_table())
    task_a = compact.filter(pc.equal(compact["pair_key"], "task_id:a"))
    assert rank_candidates(task_a).to_pylist() == [{"pair_key": "task_id:a", "candidates": ["a-short", "a-long"]}]
    assert rank_candidates(task_a.filter(pc.equal(task_a["success"], True))).num_rows == 0  # no failure: nothing to pair
    many = pa.table({"pair_key": ["k"] * 9, "id": [f"r{i}" for i in range(9)], "success": [False] + [True] * 8, "length": list(range(9, 0, -1))})
    assert rank_candidates(many)["candidates"].to_pylist() == [[f"r{i}" for i in range(8, 8 - MAX_CANDIDATES, -1)]]
    in_files = rank_candidates(many.append_column("path", pa.array([f"f{i}" for i in range(9)])))  # the files go with their runs
    assert in_files["files"].to_pylist() == [[f"f{i}" for i in range(8, 8 - MAX_CANDIDATES, -1)]]


def test_stage_and_plain_rule_rank_siblings_alike():
    # ties on length (broken by id, in code-point order), and more successes than are tried
    made = [make_trajectory("f", False, ["x"])] + [make_trajectory(tid, True, ["x"] * n) for tid, n in [("s-b", 2), ("s-A", 2), ("s-é", 1), ("s-e", 1), ("s-z", 3), ("s-a", 2)]]
    table = pa.Table.from_pylist([t.model_copy(update={"task_key": "k"}).to_row() for t in made], schema=TRAJECTORY_SCHEMA)
    staged = rank_candidates(task_runs(table))["candidates"].to_pylist()[0]
    assert staged == ["s-e", "s-é", "s-A", "s-a"]
    plain = []
    for _ in staged:  # the plain rule's choice, each time its previous choice is taken away
        plain.append(choose_sibling([r for r in table.to_pylist()[1:] if r["id"] not in plain], "k").sibling.id)
    assert plain == staged


def test_one_call_ranks_a_whole_bucket_of_tasks():
    compact = task_runs(_table(), buckets=3)
    assert set(compact["pair_bucket"].to_pylist()) <= {0, 1, 2}
    assert compact.group_by("pair_key").aggregate([("pair_bucket", "count_distinct")])["pair_bucket_count_distinct"].to_pylist() == [1] * 4  # tasks a, b, c, d: each in one bucket
    ranked = {r["pair_key"]: r["candidates"] for r in rank_candidates(compact).to_pylist()}
    c_key = compact.filter(pc.equal(compact["id"], "c-ok"))["pair_key"][0].as_py()
    # b has no success, and nothing is ranked for a task without a failure
    assert ranked == {"task_id:a": ["a-short", "a-long"], c_key: ["c-ok"], "task_id:d": ["d-empty", "d-ok"]}
    per_task = {}
    for key in ranked:  # the same as ranking each task alone
        per_task.update((r["pair_key"], r["candidates"]) for r in rank_candidates(compact.filter(pc.equal(compact["pair_key"], key))).to_pylist())
    assert per_task == ranked


def _write_parts(folder, table, rows_per_part=3):
    """``table`` as a dataset of part files, as the read stage writes it."""
    folder.mkdir()
    for start in range(0, table.num_rows, rows_per_part):
        pq.write_table(table.slice(start, rows_per_part), folder / f"part-{start:05d}.parquet")
    return folder


def test_pairing_stage_groups_by_task_key(ray_session, tmp_path, monkeypatch):
    trajectories = _write_parts(tmp_path / "trajectories", _table())
    # Both passes read the part files by path in plain tasks: read_parquet's listing and
    # footer tasks cost ~20 more worker processes at 1M, or ~0.6 GB on the driver (docs/performance.md).
    with monkeypatch.context() as patch:
        patch.setattr(ray.data, "read_parquet", lambda *a, **k: pytest.fail("the pairing read the parts with read_parquet"))
        pairings = task_pairings(trajectories, len(rows()))
    paired = with_pairings(ray.data.read_parquet(str(trajectories)), pairings)
    out = {r["id"]: r[PAIRING] for r in paired.take_all()}
    assert set(out) == {r["id"] for r in rows()}  # nothing lost, nothing doubled
    assert Pairing.model_validate_json(out["a-fail"]).sibling.id == "a-short"
    assert Pairing.model_validate_json(out["b-fail"]).sibling is None
    assert Pairing.model_validate_json(out["c-fail"]).sibling.id == "c-ok"  # identical task text
    assert out["a-short"] is None and out["unknown"] is None
    d = Pairing.model_validate_json(out["d-fail"])
    assert d.sibling.id == "d-ok" and len(d.skipped) == 1 and "d-empty" in d.skipped[0]


def tau_bench_file(path, tasks=3, trials=3, expected=False):
    runs = []
    for task in range(tasks):
        for trial in range(trials):
            tools = ["get_user_details", "get_reservation_details", "cancel_reservation"][: 1 + (trial + task) % 3]
            traj = [{"role": "system", "content": "Airline policy."}, {"role": "user", "content": f"Cancel my booking {task}."}]
            for n, tool in enumerate(tools):
                traj.append({"role": "assistant", "content": None, "tool_calls": [{"id": f"c{n}", "type": "function", "function": {"name": tool, "arguments": "{}"}}]})
                traj.append({"role": "tool", "tool_call_id": f"c{n}", "name": tool, "content": "{}"})
            traj.append({"role": "assistant", "content": "Done."})
            reward = 1.0 if trial == 2 - task else 0.0  # task 0: trial 2 succeeds ... task 2: trial 0
            info = {"instruction": f"Cancel booking {task}"} | ({"actions": [{"name": "cancel_reservation", "kwargs": {"reservation_id": f"R{task}"}}]} if expected else {})
            runs.append({"task_id": task, "trial": trial, "reward": reward if task < 2 else 0.0, "info": {"task": info}, "traj": traj})
    path.write_text(json.dumps(runs))


def test_distill_pairs_failures_and_runs_the_agentic_analyst(ray_session, tmp_path):
    data = tmp_path / "results.json"
    tau_bench_file(data)
    runner = tmp_path / "runner.py"  # passes a re-run when the skill holds the fake's failure lesson
    runner.write_text("import json, pathlib, sys\nprint(json.dumps({'success': 'check every policy condition' in (pathlib.Path(sys.argv[1]) / 'SKILL.md').read_text()}))\n")
    cfg = DistillConfig(
        inputs=[data],
        out_dir=tmp_path / "out",
        backend=FakeConfig(),
        analyst={"mode": "agentic", "max_turns": 6},
        verifier={"command": f"{sys.executable} {runner} {{skill_dir}} {{task_file}} {{out_dir}} {{trial}}"},
    )
    distill(cfg, progress=lambda _: None)
    run = tmp_path / "out" / "run"
    manifest = pl.read_parquet(run / "manifest.parquet")
    trajectories = pl.read_parquet(run / "trajectories.parquet")
    assert trajectories["task_key"].to_list() == [f"task_id:{t}" for t in range(3) for _ in range(3)]
    failures = manifest.join(trajectories.select(pl.col("id").alias("trajectory_id"), "success", "task_key"), on="trajectory_id").filter(~pl.col("success"))
    paired = failures.filter(pl.col("task_key") != "task_id:2")  # task 2 never succeeded
    assert (paired["sibling_id"] != "").all() and (failures.filter(pl.col("task_key") == "task_id:2")["sibling_id"] == "").all()
    assert (failures["turns"] > 0).all() and (failures["turns"] <= 6).all()
    assert (manifest.filter(pl.col("turns") > 0)["llm_calls"] == manifest.filter(pl.col("turns") > 0)["turns"]).all()
    analysed = failures.filter(pl.col("status") == "analyzed")
    assert analysed.height and (analysed["verified"] == "passed").all()
    assert (manifest.join(trajectories.select(pl.col("id").alias("trajectory_id"), "success"), on="trajectory_id").filter(pl.col("success"))["verified"] == "unchecked").all()
    lessons = pl.read_parquet(run / "lessons.parquet")
    contrasted = lessons.filter(pl.col("contrast_with").is_not_null())
    assert contrasted.height and set(contrasted["contrast_with"]) <= set(trajectories.filter(pl.col("success"))["id"])


def test_the_check_tool_runs_the_users_checker_as_ray_tasks(ray_session, tmp_path):
    data = tmp_path / "results.json"
    tau_bench_file(data, expected=True)
    checker = Path(__file__).resolve().parents[2] / "examples" / "checkers" / "tau_actions.py"
    cfg = DistillConfig(
        inputs=[data],
        out_dir=tmp_path / "out",
        backend=FakeConfig(),
        analyst={"mode": "agentic", "checker": {"command": f"{sys.executable} {checker} {{task_file}} {{proposal_file}} {{out_dir}}"}},
    )
    distill(cfg, progress=lambda _: None)
    run = tmp_path / "out" / "run"
    outcomes = pl.read_parquet(run / "trajectories.parquet").select(pl.col("id").alias("trajectory_id"), "success")
    lessons = pl.read_parquet(run / "lessons.parquet").join(outcomes, on="trajectory_id")
    failed = lessons.filter(~pl.col("success"))
    assert failed.height and set(failed["verified"]) == {"passed"}  # the fake checks the grader's expected actions
    assert set(lessons.filter(pl.col("success"))["verified"]) <= {"unchecked"}
