"""The whole method on the real embedded model (llama.cpp + Gemma 3 270M), through Ray Data and Serve.

It checks the run's invariants, not the quality of the text: the default model is a
small base model.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import EXAMPLES
from tests.test_pipeline import check_run_invariants
from trace2skill.llm.config import EmbeddedConfig
from trace2skill.pipeline.run import distill
from trace2skill.run.options import DistillConfig

pytestmark = [pytest.mark.ray, pytest.mark.embedded]


def _free_serve() -> None:
    """Delete the Serve applications earlier tests left running: an embedded replica reserves
    a CPU, and two of them would leave the pairing and read tasks none on 2 CPUs (a hang)."""
    from ray import serve

    for name in list(serve.status().applications):
        serve.delete(name)


def test_two_trajectories_with_the_embedded_model(ray_session, tmp_path):
    records = json.loads((EXAMPLES / "airline" / "tau_bench_results.json").read_text())
    pick = [next(r for r in records if r["reward"] == 1.0), next(r for r in records if r["reward"] == 0.0)]
    data = tmp_path / "two.json"
    data.write_text(json.dumps(pick))
    _free_serve()
    cfg = DistillConfig(
        inputs=[data],
        out_dir=tmp_path / "out",
        skill_dir=EXAMPLES / "skills" / "airline-support",
        mode="deepen",
        backend=EmbeddedConfig(context_tokens=4096, threads=2),
        consolidate={"fan_in": 2},
    )
    summary = distill(cfg, progress=print)
    check_run_invariants(tmp_path / "out" / "run", tmp_path / "out" / "airline-support", expected_records=2)
    assert summary.read == 2
    assert summary.analysis_usage.calls >= 2  # the model really ran on both
    assert summary.analysis_usage.completion_tokens > 0
    print(summary.table())


def test_agentic_analyst_with_a_sibling_on_the_embedded_model(ray_session, tmp_path):
    """Two bundled runs made trials of one task (a success and a failure): the failure is
    paired with the success and analysed by the agentic loop on the real model."""
    import polars as pl

    records = json.loads((EXAMPLES / "airline" / "tau_bench_results.json").read_text())
    success = next(r for r in records if r["reward"] == 1.0)
    failure = {**next(r for r in records if r["reward"] == 0.0), "task_id": success["task_id"], "trial": 1}
    data = tmp_path / "trials.json"
    data.write_text(json.dumps([success, failure]))
    _free_serve()  # the previous test's embedded replica holds one of the session's two CPUs
    cfg = DistillConfig(
        inputs=[data],
        out_dir=tmp_path / "out",
        skill_dir=EXAMPLES / "skills" / "airline-support",
        mode="deepen",
        # 8,192 as in the demo recipe: the analyst's instructions (every edit op with an example)
        # and S0 no longer leave an outline and an answer room in 4,096.
        backend=EmbeddedConfig(context_tokens=8192, threads=2),
        analyst={"mode": "agentic", "max_turns": 3},
        consolidate={"fan_in": 2},
    )
    distill(cfg, progress=print)
    check_run_invariants(tmp_path / "out" / "run", tmp_path / "out" / "airline-support", expected_records=2)
    manifest = pl.read_parquet(tmp_path / "out" / "run" / "manifest.parquet")
    trajectories = pl.read_parquet(tmp_path / "out" / "run" / "trajectories.parquet")
    ok_id = trajectories.filter(pl.col("success"))["id"][0]
    row = manifest.join(trajectories.select(pl.col("id").alias("trajectory_id"), "success"), on="trajectory_id").filter(~pl.col("success")).row(0, named=True)
    print(row)
    assert row["sibling_id"] == ok_id
    assert 1 <= row["turns"] <= 3 and row["llm_calls"] == row["turns"] and row["completion_tokens"] > 0
    assert row["status"] in ("analyzed", "no_lesson") or "no finish within 3 turns" in row["reason"]
