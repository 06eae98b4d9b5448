import subprocess
import sys

import polars as pl
import pyarrow.parquet as pq

from benchmarks.consolidation_corpus import make_corpus
from trace2skill.consolidate.provenance import explain, explain_json, write_provenance
from trace2skill.schema import LESSON_SCHEMA, TRAJECTORY_SCHEMA, Trajectory, to_table
from trace2skill.skill.folder import write_skill
from tests.consolidate.test_corpus import run


def test_provenance_parquet_and_explain(tmp_path):
    corpus = make_corpus(60, seed=3, supports={"refunds": 12, "identity": 9, "compensation": 3}, one_offs=3)
    result = run(corpus, "hashing", max_reference_files=2)  # room for compensation and one rare lesson
    run_dir, skill_dir = tmp_path / "run", write_skill(result.final.skill, tmp_path / "airline-agent")
    run_dir.mkdir()
    write_provenance(result.provenance, run_dir / "provenance.parquet")

    table = pl.read_parquet(run_dir / "provenance.parquet")
    assert set(table["kind"]) >= {"skill", "reference", "scaffold", "dropped", "collapsed", "conflict"}
    refunds = table.filter((pl.col("kind") == "skill") & (pl.col("cluster_label") == "refunds"))
    assert refunds["support"].to_list() == [15]  # 12 + 3 contradicting trajectories, all evidence on record
    assert set(refunds["trajectory_ids"][0]) == {l.trajectory_id for l in corpus.lessons if corpus.truth[l.id] == "refunds"}
    dropped = table.filter(pl.col("kind") == "dropped")
    referenced = table.filter(pl.col("kind") == "reference")
    one_offs = {lid for lid, key in corpus.truth.items() if key.startswith("one-off")}
    budget_drops = {lid for ids, why in zip(dropped["lesson_ids"], dropped["reason"]) if why.startswith("reference budget full") for lid in ids}
    assert one_offs <= budget_drops | {lid for ids in referenced["lesson_ids"] for lid in ids}  # kept, or dropped with the reason
    assert len(one_offs & budget_drops) == 3 and all(dropped["reason"])

    text = explain(skill_dir, run_dir)
    assert "SKILL.md § Workflow\n  no trajectory evidence recorded" in text
    assert "references/compensation.md\n  + # Compensation" in text
    assert "conflicts resolved (1)" in text and f"content dropped ({dropped.height})" in text
    only = explain(skill_dir, run_dir, "refund")
    assert only.startswith("SKILL.md § Refund") and "support 15" in only and "Workflow" not in only
    assert "matches 'nothing-like-this'" in explain(skill_dir, run_dir, "nothing-like-this")

    cli = subprocess.run(
        [sys.executable, "-m", "trace2skill.cli", "explain", str(skill_dir), str(run_dir), "--section", "compensation"], capture_output=True, text=True, timeout=120
    )
    assert cli.returncode == 0 and "references/compensation.md" in cli.stdout
    missing = subprocess.run([sys.executable, "-m", "trace2skill.cli", "explain", str(skill_dir), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "no provenance.parquet" in missing.stderr


def test_explain_shows_lesson_text_task_and_source_file(tmp_path):
    corpus = make_corpus(30, seed=5, supports={"refunds": 8, "identity": 5}, one_offs=0)
    result = run(corpus, "hashing")
    run_dir, skill_dir = tmp_path / "run", write_skill(result.final.skill, tmp_path / "airline-agent")
    run_dir.mkdir()
    write_provenance(result.provenance, run_dir / "provenance.parquet")
    cited = [l.model_copy(update={"metadata": {"failure_causes": [{"steps": [4]}]}}) for l in corpus.lessons]
    pq.write_table(to_table(cited, LESSON_SCHEMA), run_dir / "lessons.parquet")
    ids = sorted({l.trajectory_id for l in corpus.lessons})
    trajectories = [Trajectory(id=t, source_format="test", source_file=f"batch/{t}.json", task_key=f"task-of-{t}") for t in ids]
    pq.write_table(to_table(trajectories, TRAJECTORY_SCHEMA), run_dir / "trajectories.parquet")

    text = explain(skill_dir, run_dir, "refund", max_lessons=2)
    first = next(r for r in result.provenance if r.kind == "skill" and "refund" in r.section.casefold())
    by_id = {l.id: l for l in corpus.lessons}
    for lesson_id in first.lesson_ids[:2]:
        lesson = by_id[lesson_id]
        assert f"lesson {lesson_id}: {lesson.title}: " in text
        assert f"from trajectory {lesson.trajectory_id}, task task-of-{lesson.trajectory_id}, file batch/{lesson.trajectory_id}.json, step 4" in text
    assert first.lesson_ids[2] not in text  # max_lessons per piece of evidence

    data = explain_json(skill_dir, run_dir, "refund", max_lessons=2)
    (evidence,) = [e for place in data["places"] for e in place["evidence"] if e["lesson_ids"] == first.lesson_ids]
    assert evidence["trajectory_ids"] == first.trajectory_ids  # every id, not the first few
    assert [(l["lesson_id"], l["task_key"], l["step"]) for l in evidence["lessons"]] == [
        (i, f"task-of-{by_id[i].trajectory_id}", 4) for i in first.lesson_ids[:2]
    ]
    assert all("refund" in f"{p['path']} {p['section']}".casefold() for p in data["places"])

    (run_dir / "trajectories.parquet").unlink()  # lessons still shown, their task unknown
    assert f"from trajectory {by_id[first.lesson_ids[0]].trajectory_id}, task -, file -, step 4" in explain(skill_dir, run_dir, "refund")
