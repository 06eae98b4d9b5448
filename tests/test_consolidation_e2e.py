"""Consolidation through real Ray Data (embed, shard collapse, groupby + map_groups) and a
real Serve analyst deployment answering merges with the fake backend, some of them invalid."""

from __future__ import annotations

import pytest

from benchmarks.consolidation_corpus import evaluate, make_corpus
from trace2skill.analysts.analyze import AnalystConfig
from trace2skill.analysts.models import AnalysisResult
from trace2skill.consolidate.provenance import explain, read_provenance, write_provenance
from trace2skill.llm.config import FakeConfig
from trace2skill.pipeline.consolidate import finish_topics, reduce_topics
from trace2skill.run.checkpoint import ANALYSIS_DIR, write_analysis_part
from trace2skill.run.options import DistillConfig
from trace2skill.serve.analyst import start_analyst
from trace2skill.serve.config import ReplicaConfig
from trace2skill.skill.folder import minimal_skill, skill_prompt_view, write_skill
from trace2skill.skill.validate import validate_skill_dir

pytestmark = pytest.mark.ray


@pytest.mark.parametrize("per_shard", [10_000, 25], ids=["one-shard", "five-shards"])
def test_consolidation_through_ray_data_and_serve(ray_session, tmp_path, per_shard):
    corpus = make_corpus(120, seed=0)
    s0 = minimal_skill("airline-agent", "Airline customer support with reservation tools. Use for airline support tasks.")
    cfg = DistillConfig(
        inputs=[],
        out_dir=tmp_path,
        consolidate={
            "fan_in": 4,
            "embedder": "hashing", "embed_batch_size": 32, "embed_num_cpus": 0, "skill_min_support": 5, "cluster_sample_size": 100,
            "collapse_shard_trajectories": per_shard,
        },
    )  # fmt: skip
    # 85% of merge answers are invalid: with 2 retries about 6 in 10 merge calls fail for good.
    app, _ = start_analyst(FakeConfig(failure_rate=0.85), AnalystConfig(), ReplicaConfig())
    results = []
    for patch in corpus.patches:
        (tid,) = patch.trajectory_ids
        results.append(AnalysisResult(trajectory_id=tid, status="analyzed", lessons=[l for l in corpus.lessons if l.trajectory_id == tid], patch=patch))
    for i in range(0, len(results), 40):  # the analysis results as the actors write them: several parts
        write_analysis_part(tmp_path / "run", results[i : i + 40])
    topics = reduce_topics(tmp_path / "run" / ANALYSIS_DIR, cfg, app, skill_prompt_view(s0), progress=lambda _: None)
    result = finish_topics(s0, topics, cfg, app, skill_prompt_view(s0))

    report = evaluate(corpus, result)
    assert report["purity"] >= 0.98 and report["topics_split"] == {} and report["tiers_as_expected"]
    assert report["one_offs_in_skill"] == report["one_offs_unaccounted"] == 0 < report["one_offs_in_references"] and report["minority_in_skill"] == 0
    assert result.stats.failed_merges >= 1 and result.stats.forced_merges >= 1  # merges failed ...
    assert len(result.folded) == len(corpus.patches) // per_shard + 1 + len(result.clusters)  # a file of folded units per shard and per topic cluster
    assert all(c.collapsed == [] for c in result.clusters)  # what the reduce folded stayed in its file, not on the driver
    assert [p.name for p in topics.clusters] == [f"cluster={c.cluster_id}.json" for c in result.clusters]  # each cluster's result, written by the reduce
    write_provenance(result.provenance, tmp_path / "run" / "provenance.parquet", folded=result.folded, labels={c.cluster_id: c.label for c in result.clusters})
    rows = read_provenance(tmp_path / "run" / "provenance.parquet")
    assert sum(r.kind == "collapsed" for r in rows) == result.stats.collapsed > 0
    assert sum(c.units_in for c in result.clusters) == result.stats.units  # every unit counted in its cluster, shards or not
    accounted = {lid for r in rows if r.kind in ("skill", "reference", "refused", "dropped", "collapsed") for lid in r.lesson_ids}
    assert {l.id for l in corpus.lessons} <= accounted  # ... and no lesson was lost
    conflicts = [r for r in rows if r.kind == "conflict"]
    assert conflicts and all("contradicting" in r.reason or "more contradictions" in r.reason for r in conflicts)

    skill_dir = write_skill(result.final.skill, tmp_path / "airline-agent")
    assert validate_skill_dir(skill_dir) == [] and not result.final.problems
    assert "support" in explain(skill_dir, tmp_path / "run", "refund")
