from __future__ import annotations

import polars as pl
import pytest

from trace2skill.consolidate.provenance import ProvenanceRow, read_provenance, write_provenance
from trace2skill.report.load import EXAMPLE_IDS, PlaceEvidence, cluster_evidence, load_run, place_evidence, topic_clusters
from tests.report.conftest import HOSTILE


def test_load_counts_reasons_and_topics(hand_run, corpus_run):
    corpus, result = corpus_run
    run = load_run(hand_run, top_reasons=1)
    assert run.notes == [] and run.s0 is not None and run.skill is not None
    assert run.summary.read == 38 and run.consolidation["clusters"] == result.stats.clusters
    # one reason per status (top_reasons=1), statuses in report order, the commonest first
    assert [(r.status, r.count) for r in run.reasons] == [("no_lesson", 2), ("quarantined", 1), ("failed", 4)]
    assert run.reasons[2].reason == "invalid JSON after 3 attempts" and run.reasons[2].examples == ["f0", "f1", "f2"]
    assert len(run.refusals) == 1 and run.refusals[0].edit.section == "Nowhere"

    by_label = {c.label: c for c in run.clusters}
    assert by_label["refunds"].tier == "skill" and by_label["compensation"].tier == "reference"
    assert by_label["nowhere"].tier == "refused" and by_label[HOSTILE].tier == "dropped"
    assert [c.support for c in run.clusters] == sorted((c.support for c in run.clusters), reverse=True)
    # every lesson of the corpus is counted in exactly one topic
    counted = sum(c.lessons for c in run.clusters if c.label not in ("nowhere", HOSTILE))
    assert counted == len(corpus.lessons)
    assert by_label["nowhere"].lessons_by_kind == {"unknown": 2}  # lesson ids not in lessons.parquet


def test_all_reasons_by_default(hand_run):
    failed = [r for r in load_run(hand_run).reasons if r.status == "failed"]
    assert [(r.reason, r.count) for r in failed] == [("invalid JSON after 3 attempts", 4), (HOSTILE, 1)]


def test_missing_files_become_notes(hand_run):
    for name in ("provenance.parquet", "lessons.parquet", "refusals.json"):
        (hand_run / name).unlink()
    for path in (hand_run / "s0").rglob("*"):
        if path.is_file():
            path.unlink()
    run = load_run(hand_run)
    assert run.provenance == [] and run.clusters == [] and run.refusals == [] and run.s0 is None
    assert len(run.notes) == 4 and any("s0/" in n for n in run.notes)


def test_not_a_run_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="no summary.json"):
        load_run(tmp_path)


def test_a_cluster_takes_the_best_tier_its_content_reached(tmp_path):
    rows = [
        ProvenanceRow(kind="dropped", cluster_id=1, cluster_label="a", support=1, lesson_ids=["l1"], trajectory_ids=["t1"]),
        ProvenanceRow(kind="reference", cluster_id=1, cluster_label="a", support=3, lesson_ids=["l2", "l3"], trajectory_ids=["t2", "t3", "t4"]),
        ProvenanceRow(kind="skill", cluster_id=1, cluster_label="a", support=3, lesson_ids=["l2", "l3"], trajectory_ids=["t2", "t3", "t4"]),
        ProvenanceRow(kind="scaffold", cluster_id=-1, cluster_label="references"),
        ProvenanceRow(kind="collapsed", cluster_id=2, cluster_label="b", support=1, lesson_ids=["l4"], trajectory_ids=["t5"]),
    ]
    write_provenance(rows, tmp_path / "provenance.parquet")
    pl.DataFrame({"id": ["l1", "l2", "l3"], "kind": ["success", "failure", "failure"]}).write_parquet(tmp_path / "lessons.parquet")
    a, b = topic_clusters(rows, cluster_evidence(tmp_path / "provenance.parquet", tmp_path / "lessons.parquet"))
    assert (a.label, a.tier, a.support, a.lessons_by_kind) == ("a", "skill", 3, {"failure": 2, "success": 1})
    assert (a.trajectories, a.example_ids) == (4, ["t1", "t2", "t3"])  # distinct over its rows; the first few shown
    assert (b.tier, b.support, b.lessons_by_kind, b.trajectories) == ("dropped", 1, {"unknown": 1}, 1)


def test_a_clusters_evidence_counts_its_near_duplicates_once(tmp_path):
    """Folded near-duplicates (collapsed rows, read apart from the rest) count toward their
    cluster; a lesson or trajectory on several rows counts once; no lessons file: unknown."""
    own = ProvenanceRow(kind="skill", cluster_id=0, cluster_label="a", support=2, lesson_ids=["l1"], trajectory_ids=["t1", "t2"])
    folded = [ProvenanceRow(kind="collapsed", cluster_id=0, cluster_label="a", support=1, lesson_ids=[f"l{i}", "l1"], trajectory_ids=[f"t{i}"]) for i in range(2, 6)]
    write_provenance([own, *folded], tmp_path / "provenance.parquet")
    (cluster,) = topic_clusters([own], cluster_evidence(tmp_path / "provenance.parquet", None))
    assert (cluster.lessons_by_kind, cluster.trajectories, cluster.example_ids, cluster.support) == ({"unknown": 5}, 5, ["t1", "t2", "t3"], 2)


def test_kept_rows_are_read_with_a_few_ids_and_each_place_counted_whole(tmp_path):
    """A kept row of a large run lists every id behind its part: the report holds a few of
    them, and counts each place's distinct lessons and trajectories over all of them."""
    big = [f"t{i:05d}" for i in range(5_000)]
    rows = [
        ProvenanceRow(kind="skill", path="SKILL.md", section="Refunds", cluster_id=0, support=5_000, lesson_ids=[f"l-{t}" for t in big], trajectory_ids=big),
        # another topic wrote into the same section (titled loosely): its ids overlap the first's
        ProvenanceRow(kind="skill", path="SKILL.md", section=" refunds ", cluster_id=1, support=2, lesson_ids=["l-x"], trajectory_ids=["t00007", "t99999"]),
        ProvenanceRow(kind="reference", path="references/a.md", section="Intro", cluster_id=2, support=1, lesson_ids=["l-a"], trajectory_ids=["ta"]),
        ProvenanceRow(kind="reference", path="references/a.md", section="", cluster_id=2, support=1, lesson_ids=["l-b"], trajectory_ids=["ta"]),
        ProvenanceRow(kind="dropped", cluster_id=3, support=1, lesson_ids=["l-d"], trajectory_ids=["td"]),
    ]
    write_provenance(rows, tmp_path / "provenance.parquet")
    read = read_provenance(tmp_path / "provenance.parquet", max_ids=EXAMPLE_IDS)
    assert [r.trajectory_ids for r in read] == [r.trajectory_ids[:EXAMPLE_IDS] for r in rows]
    assert [r.model_dump(exclude={"lesson_ids", "trajectory_ids"}) for r in read] == [r.model_dump(exclude={"lesson_ids", "trajectory_ids"}) for r in rows]
    assert read_provenance(tmp_path / "provenance.parquet") == rows
    assert place_evidence(pl.scan_parquet(tmp_path / "provenance.parquet")) == {
        ("SKILL.md", "refunds"): PlaceEvidence(lessons=5_001, trajectories=5_001, example_ids=big[:EXAMPLE_IDS]),
        ("references/a.md", ""): PlaceEvidence(lessons=2, trajectories=1, example_ids=["ta"]),
    }


def test_a_moved_output_folder_still_finds_its_skill(hand_run, tmp_path):
    moved = tmp_path / "elsewhere"
    (hand_run.parent).rename(moved)  # out/ moved whole: summary.json's skill_dir is stale
    run = load_run(moved / "run")
    assert run.skill is not None and run.skill.name == "airline-agent" and run.notes == []
