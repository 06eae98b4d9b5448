"""SIGKILL mid-analysis and ``--resume`` over a synthetic corpus: what was written is not sent
again and every trajectory is in the manifest exactly once. CI runs 3,000 trajectories; the
100,000 variant is ``soak``-marked (``pytest -m soak``; about half an hour on 2 cores)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from benchmarks.corpus import write_corpus
from tests.pipeline.test_resume import analysis_rows, kill_distill_when
from trace2skill.pipeline.run import distill
from trace2skill.run.checkpoint import load_state, resume_config
from trace2skill.run.options import DistillConfig

pytestmark = pytest.mark.ray

# The corpus is synthetic (benchmarks/corpus.py): no person in it, so no personal-data pass (docs/privacy.md).
RECIPE = {"backend": {"backend": "fake"}, "consolidate": {"embedder": "hashing"}, "redact": {"personal_data": False}}


@pytest.mark.parametrize("n", [3_000, pytest.param(100_000, marks=pytest.mark.soak)])
def test_sigkill_mid_analysis_then_resume_at_scale(ray_session, tmp_path, n):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, n, shard_size=5_000)
    out = tmp_path / "out"
    batch = DistillConfig.model_validate({**RECIPE, "inputs": [corpus], "out_dir": out}).analysis_batch_size(n)

    def a_third_analysed(run: Path) -> bool:  # counts part files, not rows: cheap to poll
        return (run / "analysis").is_dir() and len(list((run / "analysis").glob("part-*.parquet"))) * batch >= n // 3

    kill_distill_when([str(corpus), "--name", "scale-skill"], RECIPE, out, tmp_path, a_third_analysed, timeout_s=60 + n / 20)
    written = analysis_rows(out / "run")
    assert "analyze" not in load_state(out / "run").stages and 0 < written < n

    summary = distill(resume_config(out / "run"), progress=lambda _: None, resume=True)
    assert summary.resumed == written  # what was written is not sent again
    manifest = pl.read_parquet(out / "run" / "manifest.parquet", columns=["trajectory_id", "status"])
    assert manifest.height == n and manifest["trajectory_id"].n_unique() == n
    assert set(manifest["status"]) <= {"analyzed", "no_lesson", "failed"}
    analysed = pl.concat([pl.read_parquet(p, columns=["trajectory_id"]) for p in sorted((out / "run" / "analysis").glob("part-*.parquet"))])
    assert analysed.height == n and analysed["trajectory_id"].n_unique() == n  # each analysed once, across both runs
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in (out / "run" / "trajectories.parquet").glob("*.parquet")) == n
    assert load_state(out / "run").finished
