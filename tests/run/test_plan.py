"""``trace2skill plan``'s arithmetic and its streaming scan, without Ray."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import EXAMPLES
from trace2skill.analysts.analyze import build_messages, shared_prefix
from trace2skill.analysts.context import SkillContext
from trace2skill.run.options import RunOptions, ThroughputConfig
from trace2skill.run.plan import MergeTree, Plan, TokenStats, cost, make_plan, merge_tree, scan_inputs
from trace2skill.run.tokens import chars_estimate, prompt_tokens
from trace2skill.skill.folder import load_skill


def test_merge_tree_follows_the_fan_in_formula():
    assert merge_tree(48, 1, 8) == MergeTree(units=48, clusters=1, fan_in=8, calls=7, levels=2)  # ceil(47/7); 48 -> 6 -> 1
    assert merge_tree(100, 4, 5).calls == 4 * 6  # 25 units per cluster: ceil(24/4) each
    assert merge_tree(10, 64, 8) == MergeTree(units=10, clusters=10, fan_in=8, calls=0, levels=0)  # one unit per cluster
    assert merge_tree(0, 64, 8).calls == 0


@given(st.integers(0, 10**6), st.integers(1, 200), st.integers(2, 32))
def test_merge_calls_per_cluster_round_up(units, clusters, fan_in):
    spread, one = merge_tree(units, clusters, fan_in), merge_tree(units, 1, fan_in)
    assert one.calls == math.ceil(max(units - 1, 0) / (fan_in - 1))
    assert spread.clusters == min(units, clusters) and spread.levels <= one.levels
    exact = (units - spread.clusters) / (fan_in - 1)  # every cluster's (U_c - 1)/(B - 1), summed
    assert exact <= spread.calls < exact + max(spread.clusters, 1)


def _plan(calls: int, prompt: int, prefix: int, merges: int) -> Plan:
    tree = MergeTree(units=0, clusters=1, fan_in=8, calls=merges, levels=1)
    return Plan(
        files=1, trajectories=calls, quarantined=0, formats={}, outcomes={}, sampled=1, tokenizer="t", trajectory_tokens=TokenStats(),
        prompt_tokens=TokenStats(mean=prompt), shared_prefix_tokens=prefix, context_tokens=8192, analysis_calls=calls,
        analysis_prompt_tokens=0, analysis_completion_tokens=0, lessons_per_trajectory=2, merge_fewest=tree, merge_most=tree,
        merge_prompt_tokens=0, merge_completion_tokens=0,
    )


def test_cost_reproduces_the_performance_page():
    """docs/performance.md: P 6,000 (1,500 cached), C 700, 20,000 / 2,500 tok/s -> 0.505 s a call, 140 GPU-hours for 1M."""
    tp = ThroughputConfig(prefill_tokens_per_s=20_000, decode_tokens_per_s=2_500, prefix_caching=True, completion_tokens=700, merge_completion_tokens=900)
    c = cost(_plan(1_000_000, 6_000, 1_500, 0), tp, replicas=32, gpus_per_replica=1, merge_prompt=3_900)
    assert c.analysis_seconds_per_call == pytest.approx(0.505)
    assert c.merge_seconds_per_call == pytest.approx(0.555)
    assert c.gpu_hours == pytest.approx(140.28, abs=0.01)
    assert c.wall_hours == pytest.approx(4.38, abs=0.01)
    without_cache = cost(_plan(1_000_000, 6_000, 1_500, 0), tp.model_copy(update={"prefix_caching": False}), replicas=32, gpus_per_replica=2, merge_prompt=3_900)
    assert without_cache.analysis_seconds_per_call == pytest.approx(0.58)
    assert without_cache.gpu_hours == pytest.approx(2 * without_cache.replica_hours)


def test_scan_counts_every_record_and_keeps_a_seeded_sample():
    scan = scan_inputs([EXAMPLES / "airline"], sample_size=5, seed=3)
    assert (scan.files, scan.trajectories, scan.quarantined) == (2, 24, 0)
    assert scan.formats == {"tau_bench": 20, "openai_chat": 4}
    assert sum(scan.outcomes.values()) == 24
    assert len(scan.sample) == 5 and len({t.id for t in scan.sample}) == 5
    assert [t.id for t in scan_inputs([EXAMPLES / "airline"], sample_size=5, seed=3).sample] == [t.id for t in scan.sample]
    assert [t.id for t in scan_inputs([EXAMPLES / "airline"], sample_size=5, seed=4).sample] != [t.id for t in scan.sample]


def test_plan_counts_what_the_analysts_would_send():
    cfg = RunOptions.model_validate({"backend": {"backend": "fake"}, "throughput": {"prefill_tokens_per_s": 1000, "decode_tokens_per_s": 100}})
    skill = SkillContext.of(load_skill(EXAMPLES / "skills" / "airline-support"))
    scan = scan_inputs([EXAMPLES / "airline"], sample_size=100)
    plan = make_plan(scan, cfg, skill, chars_estimate, "chars", replicas=4)
    analyst = cfg.analyst.for_backend(cfg.backend)
    sent = [prompt_tokens(t, skill, analyst, chars_estimate) for t in scan.sample]
    assert plan.analysis_calls == 24 and plan.analysis_prompt_tokens == 24 * round(sum(sent) / len(sent))
    assert plan.prompt_tokens.max == max(sent) <= analyst.context_tokens
    # The cached share: each call's analyst's shared prefix (the bytes its prompt starts with), over the prompt tokens.
    counting = SimpleNamespace(count_tokens=chars_estimate)
    prefixes = {name: shared_prefix(name, skill, counting, analyst) for name in ("error_analyst", "success_analyst")}
    kinds = ["success_analyst" if t.success else "error_analyst" for t in scan.sample]
    assert all(build_messages(k, skill, t, counting, analyst)[0][0].content.startswith(prefixes[k]) for k, t in zip(kinds, scan.sample))
    assert plan.prefix_tokens == {k: chars_estimate(p) for k, p in prefixes.items()}
    assert plan.shared_prefix_tokens == round(sum(plan.prefix_tokens[k] for k in kinds) / len(kinds)) < plan.prompt_tokens.mean
    assert plan.cached_share == pytest.approx(plan.shared_prefix_tokens / plan.prompt_tokens.mean, abs=1e-3) and plan.cached_share > 0.3
    assert f"{plan.cached_share:.0%} of prompt tokens" in plan.table() and '"cached_share"' in plan.model_dump_json()
    assert plan.merge_most.units == 48 and plan.merge_most.calls == 7 and plan.merge_fewest.calls == 0  # 48 units: one each in 48 clusters
    assert plan.cost is not None and plan.cost.replicas == 4
    assert plan.cost.wall_hours == pytest.approx(plan.cost.replica_hours / 4)
    assert "analysis calls" in plan.table() and "wall time" in plan.table()


def test_the_budget_preview_is_the_sample_distill_draws(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trace2skill.run.budget import apply_budget
    from trace2skill.run.tokens import analyst_config
    from trace2skill.schema import TRAJECTORY_SCHEMA

    cfg = RunOptions.model_validate({"backend": {"backend": "fake"}, "max_prompt_tokens": 20_000, "seed": 5})
    skill = SkillContext.of(load_skill(EXAMPLES / "skills" / "airline-support"))
    scan = scan_inputs([EXAMPLES / "airline"], sample_size=32, per_trajectory=True)  # all 24: the same calibration as distill's
    preview = make_plan(scan, cfg, skill, chars_estimate, "chars").budget
    path = tmp_path / "trajectories.parquet"
    pq.write_table(pa.Table.from_pylist([t.to_row() for t in scan_inputs([EXAMPLES / "airline"], sample_size=32).sample], schema=TRAJECTORY_SCHEMA), path)
    drawn = apply_budget(tmp_path, path, limit=20_000, seed=5, skill=skill, config=analyst_config(cfg), count=chars_estimate, tokenizer="chars")
    assert preview == drawn and 0 < preview.selected < 24
