"""The known-structure corpus is recovered: topics, tiers, one-offs, contradictions, merge economy."""

from __future__ import annotations

import pytest

from benchmarks.consolidation_corpus import evaluate, make_corpus
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.embed import make_embedder
from trace2skill.consolidate.merge import merge_patches
from trace2skill.consolidate.run import consolidate
from trace2skill.llm.fake import FakeLLM
from trace2skill.skill.folder import minimal_skill, skill_prompt_view

S0 = minimal_skill("airline-agent", "Airline customer support with reservation tools. Use for airline support tasks.")


def run(corpus, embedder: str, llm: FakeLLM | None = None, **settings):
    view, llm = skill_prompt_view(S0), llm or FakeLLM()
    cfg = ConsolidateConfig(embedder=embedder, skill_min_support=5, **settings)
    return consolidate(S0, corpus.lessons, corpus.patches, cfg=cfg, embedder=make_embedder(embedder), merge=lambda ps: merge_patches(ps, view, llm))


@pytest.mark.parametrize("seed", [0, 1])
def test_corpus_structure_is_recovered_with_few_merge_calls(seed):
    corpus = make_corpus(120, seed=seed)
    result = run(corpus, "hashing")
    report = evaluate(corpus, result)
    assert report["purity"] >= 0.98 and report["topics_split"] == {}
    assert report["tiers_as_expected"], report["tiers"]
    assert report["one_offs_in_skill"] == report["one_offs_unaccounted"] == 0 < report["one_offs_in_references"] and report["conflicts_logged"] == 2 and report["minority_in_skill"] == 0
    assert report["merge_calls"] <= 20 < report["patches"] == 120  # the trees, and one review per lone piece bound for references/
    assert report["valid"] and result.final.refused == []
    skill = result.final.skill
    for key, tier in corpus.expected_tier.items():
        if tier == "reference":
            assert f"references/{key}.md" in skill.files
    assert len(skill.body.sections) == 3 + 6 + 1  # S0's three, one per frequent topic, References


def test_corpus_with_flaky_merges_loses_no_lesson():
    corpus = make_corpus(120, seed=0)
    result = run(corpus, "hashing", FakeLLM(failure_rate=0.85))
    assert result.stats.failed_merges >= 1
    rows = result.provenance
    placed = {lid for r in rows if r.kind in ("skill", "reference", "refused") for lid in r.lesson_ids}
    elsewhere = {lid for r in rows if r.kind in ("dropped", "collapsed") for lid in r.lesson_ids}
    assert {l.id for l in corpus.lessons} <= placed | elsewhere  # every lesson accounted for
    assert not result.final.problems


def test_corpus_with_minilm_embeddings():
    corpus = make_corpus(120, seed=0)
    report = evaluate(corpus, run(corpus, "minilm"))
    assert report["purity"] >= 0.98 and report["tiers_as_expected"] and report["one_offs_in_skill"] == report["one_offs_unaccounted"] == 0 < report["one_offs_in_references"]
