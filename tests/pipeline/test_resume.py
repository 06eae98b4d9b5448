"""A driver killed with SIGKILL mid-analysis or mid-consolidation: ``--resume`` finishes the
run, re-sends only what was not written, and writes the skill an uninterrupted run writes.
The runs embed their lesson units during the analysis (``embed_pool_min_trajectories`` 1), so
a resumption also meets parts whose units were never streamed."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import psutil
import pytest
import yaml

from tests.conftest import EXAMPLES
from tests.test_pipeline import check_run_invariants
from trace2skill.pipeline.run import distill
from trace2skill.run.checkpoint import load_state, resume_config
from trace2skill.run.options import DistillConfig

pytestmark = pytest.mark.ray

RECIPE = {
    "backend": {"backend": "fake", "latency_s": 0.25},
    # fp32: a vector does not depend on the texts it is batched with (int8's do), and the
    # stream batches units by analysis part, the merge stage otherwise
    "consolidate": {"embedder": "minilm", "embed_precision": "fp32", "embed_pool_min_trajectories": 1},
    "batch_size": 2,
    "analyze_concurrency": 1,
    "replicas": {"max_ongoing_requests": 2},
}
RECORDS = 24  # 20 tau-bench + 4 chat records in examples/airline


def _config(out: Path) -> DistillConfig:
    return DistillConfig.model_validate({**RECIPE, "inputs": [EXAMPLES / "airline"], "out_dir": out, "skill_dir": EXAMPLES / "skills" / "airline-support"})


def _skill_files(skill_dir: Path) -> dict[str, str]:
    return {str(p.relative_to(skill_dir)): p.read_text() for p in sorted(skill_dir.rglob("*")) if p.is_file()}


def _kill_when(out: Path, tmp_path: Path, ready) -> None:
    kill_distill_when([str(EXAMPLES / "airline"), "--skill", str(EXAMPLES / "skills" / "airline-support")], RECIPE, out, tmp_path, ready)


def kill_distill_when(args: list[str], recipe: dict, out: Path, tmp_path: Path, ready, timeout_s: float = 240) -> None:
    """Run ``trace2skill distill ARGS`` with ``recipe`` in its own process group (its own Ray),
    SIGKILL its whole process tree as soon as ``ready(run_dir)`` holds, as losing the machine would."""
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(recipe))
    cmd = [sys.executable, "-c", "from trace2skill.cli import main; main()", "distill", *args, "--out", str(out),
           "--recipe", str(recipe_file), "--num-cpus", "2", "--quiet"]
    env = {**os.environ, "RAY_ADDRESS": "local"}  # never join the test session's Ray
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    try:
        while not ready(out / "run"):
            assert proc.poll() is None, f"the run ended before the kill: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "the run never reached the kill point"
            time.sleep(0.05)
    finally:
        # Ray's worker processes need not share the driver's process group: kill the whole
        # process tree (taken before the kill, as the orphans are re-parented after it), else
        # a surviving worker could write another part after the test counted the parts.
        tree = psutil.Process(proc.pid).children(recursive=True)
        os.killpg(proc.pid, signal.SIGKILL)
        for child in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        psutil.wait_procs(tree, timeout=30)
        proc.wait()


def analysis_rows(run_dir: Path) -> int:
    parts = sorted((run_dir / "analysis").glob("part-*.parquet"))
    return sum(pl.read_parquet(p).height for p in parts)


@pytest.fixture(scope="module")
def uninterrupted(ray_session, tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("uninterrupted")
    lines: list[str] = []
    summary = distill(_config(out), progress=lines.append)
    parts = len(list((out / "run" / "analysis").glob("part-*.parquet")))
    assert f"lesson units of {parts} of {parts} analysis part(s) embedded during the analysis" in lines
    assert not (out / "run" / "streamed_units").exists()  # in units/ now
    return _skill_files(Path(summary.skill_dir))


def test_units_embedded_during_the_analysis_give_the_skill_of_units_embedded_after_it(uninterrupted, tmp_path):
    cfg = _config(tmp_path / "out")
    cfg = cfg.model_copy(update={"consolidate": cfg.consolidate.model_copy(update={"stream_units": False})})
    lines: list[str] = []
    summary = distill(cfg, progress=lines.append)
    assert not any("during the analysis" in line for line in lines)
    assert _skill_files(Path(summary.skill_dir)) == uninterrupted


def test_sigkill_mid_analysis_then_resume(uninterrupted, tmp_path):
    out = tmp_path / "out"
    _kill_when(out, tmp_path, lambda run: (run / "analysis").is_dir() and len(list((run / "analysis").glob("part-*.parquet"))) >= 2)
    written = analysis_rows(out / "run")
    state = load_state(out / "run")
    assert "analyze" not in state.stages and 0 < written < RECORDS

    summary = distill(resume_config(out / "run"), progress=lambda _: None, resume=True)
    assert summary.resumed == written  # what was written is not sent again
    assert summary.analysis_usage.calls >= RECORDS - written - 1  # the rest is (fake answers may retry)
    check_run_invariants(out / "run", Path(summary.skill_dir), RECORDS)
    assert _skill_files(Path(summary.skill_dir)) == uninterrupted
    assert load_state(out / "run").finished


def test_sigkill_mid_consolidation_then_resume(uninterrupted, tmp_path):
    out = tmp_path / "out"
    def consolidating(run: Path) -> bool:
        state = run / "run.json"
        return state.is_file() and "analyze" in json.loads(state.read_text() or "{}").get("stages", [])

    _kill_when(out, tmp_path, consolidating)
    assert not load_state(out / "run").finished

    summary = distill(resume_config(out / "run"), progress=lambda _: None, resume=True)
    assert summary.resumed == summary.read - summary.quarantined  # no trajectory analysed twice
    check_run_invariants(out / "run", Path(summary.skill_dir), RECORDS)
    assert _skill_files(Path(summary.skill_dir)) == uninterrupted


def test_a_finished_run_resumes_to_its_summary(uninterrupted, tmp_path):
    cfg = _config(tmp_path / "out")
    first = distill(cfg, progress=lambda _: None)
    again = distill(resume_config(cfg.resolved_run_dir), progress=lambda _: None, resume=True)
    assert again == first
