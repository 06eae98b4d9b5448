"""What a user sees during and after ``trace2skill distill``: only trace2skill's lines on
stderr (Ray's in RUN_DIR/ray.log unless --verbose), progress with the time left, and the
closing note on stdout. Each test runs the CLI in its own process with its own Ray."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.ray

RAY_LEVELS = re.compile(r"\b(WARNING|ERROR|INFO)\b|^\[\d{4}-\d\d-\d\d [\d:,]+ [EWI] \d+ \d+\]")


def distill(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    recipe = tmp_path / "recipe.yaml"  # no embedding model to load: the console is under test, not clustering
    recipe.write_text("backend: {backend: fake}\nconsolidate: {embedder: hashing}\n")
    out = tmp_path / "out"
    args = [str(EXAMPLES / "demo"), "--skill", str(EXAMPLES / "skills" / "airline-support"), "--out", str(out), "--recipe", str(recipe), "--num-cpus", "2", *extra]
    env = {**os.environ, "RAY_ADDRESS": "local"}  # its own Ray, not the test session's
    result = subprocess.run([sys.executable, "-m", "trace2skill.cli", "distill", *args], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, out / "run"


def test_only_our_lines_on_stderr_and_the_result_up_front(tmp_path):
    result, run_dir = distill(tmp_path, "--limit", "4")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("[trace2skill] ") for line in lines), result.stderr
    assert not any(RAY_LEVELS.search(line) for line in lines), result.stderr
    left = [line for line in lines if re.search(r"analyze \d+/4 \(\d+%\), .*, \d\d:\d\d left", line)]
    assert left and "analyze 4/4 (100%)" in left[-1], result.stderr
    ray_log = (run_dir / "ray.log").read_text()
    assert "Progress bars disabled" in ray_log  # Ray still said it: in the log, not on the console
    out = result.stdout
    assert "valid skill" in out and "wall time" in out  # the summary table
    assert "What changed in airline-support/:" in out and "Excerpt of the diff" in out
    assert f"Full report (diff with evidence, topics, what was left out and why): {run_dir / 'report.html'}" in out
    assert "270M" not in out  # the weak-model note is for the embedded default model only


def test_verbose_shows_rays_own_messages(tmp_path):
    result, run_dir = distill(tmp_path, "--limit", "2", "--verbose")
    assert "Progress bars disabled" in result.stderr
    assert "[trace2skill] analyze 2/2 (100%)" in result.stderr
    assert not (run_dir / "ray.log").exists()
