"""LLM failures at scale: 20% of the fake engine's calls fail, in all six ways, through the real
pipeline (Ray Data + Serve). Every record ends in the manifest, retries stay bounded, the
run still ends with a valid skill."""

from __future__ import annotations

import re
import time
from pathlib import Path

import polars as pl
import pytest

from tests.reliability.corpus import chat_corpus, write_lines
from trace2skill.analysts.analyze import AnalystConfig
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.llm.config import FakeConfig
from trace2skill.pipeline.run import distill
from trace2skill.run.options import DistillConfig
from trace2skill.skill.validate import validate_skill_dir

pytestmark = pytest.mark.ray

FAILURES = ["truncated", "invalid_json", "schema", "empty", "exception", "timeout"]
RATE = 0.2
RETRIES = 2
_ATTEMPTS = re.compile(r"after (\d+) attempts")


def run_with_failures(tmp_path: Path, n: int) -> tuple[pl.DataFrame, float, dict]:
    lines = write_lines(tmp_path / "data" / "corpus.jsonl", chat_corpus(n, seed=3))
    cfg = DistillConfig(
        inputs=[tmp_path / "data"],
        out_dir=tmp_path / "out",
        name="support-desk",
        backend=FakeConfig(failure_rate=RATE, failures=FAILURES),
        # No outcome judge: the corpus's unknown outcomes stay no_lesson, and llm_calls counts one analyst's attempts.
        analyst=AnalystConfig(retries=RETRIES, judge=False),
        consolidate=ConsolidateConfig(embedder="hashing"),
        batch_size=64,
    )
    start = time.perf_counter()
    summary = distill(cfg, progress=lambda _: None)
    seconds = time.perf_counter() - start
    manifest = pl.read_parquet(tmp_path / "out" / "run" / "manifest.parquet")
    assert lines == n
    assert summary.valid and validate_skill_dir(tmp_path / "out" / "support-desk") == []
    return manifest, seconds, summary.model_dump()


def check_manifest(manifest: pl.DataFrame, n: int) -> dict[str, int]:
    """Every record once, with one status; failures carry the reason; attempts are bounded."""
    assert manifest.height == n and manifest["trajectory_id"].n_unique() == n
    counts = {s: manifest.filter(pl.col("status") == s).height for s in ("analyzed", "no_lesson", "quarantined", "failed")}
    assert sum(counts.values()) == n
    assert counts["quarantined"] == n // 50 and counts["no_lesson"] >= n // 50  # the corpus's unknown outcomes
    assert (manifest.filter(pl.col("status") != "analyzed")["reason"].str.len_chars() > 0).all()
    assert manifest["llm_calls"].max() <= RETRIES + 1
    failed = manifest.filter(pl.col("status") == "failed")
    attempts = [int(m.group(1)) for m in map(_ATTEMPTS.search, failed["reason"]) if m]
    assert len(attempts) == failed.height and set(attempts) == {RETRIES + 1}
    reasons = "\n".join(failed["reason"])
    assert "ConnectionError" in reasons and "TimeoutError" in reasons
    assert "validation error" in reasons or "empty answer" in reasons
    # Injected failures happened, and retries recovered most of them: fewer trajectories fail
    # than calls were made to fail (the invalid answers are retried with the error shown).
    analysable = n - counts["quarantined"] - counts["no_lesson"]
    assert 0.02 * analysable < counts["failed"] < RATE * analysable
    retried = manifest.filter((pl.col("status") == "analyzed") & (pl.col("llm_calls") > 1)).height
    assert retried > 0.02 * analysable
    return counts


def test_twenty_percent_failures_over_six_hundred_trajectories(ray_session, tmp_path: Path) -> None:
    manifest, seconds, summary = run_with_failures(tmp_path, 600)
    counts = check_manifest(manifest, 600)
    assert summary["failed_merges"] <= summary["merge_calls"]
    print(f"\n600 records, {RATE:.0%} injected: {counts}, {summary['failed_merges']}/{summary['merge_calls']} merges failed, {seconds:.1f} s")


@pytest.mark.soak
def test_twenty_percent_failures_over_ten_thousand_trajectories(ray_session, tmp_path: Path) -> None:
    manifest, seconds, _ = run_with_failures(tmp_path, 10_000)
    counts = check_manifest(manifest, 10_000)
    print(f"\n10000 records, {RATE:.0%} injected: {counts}, {seconds:.1f} s")
