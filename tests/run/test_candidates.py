"""Best of N: ``distill --candidates N`` writes N candidate skills that differ by seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from trace2skill.run.candidates import CANDIDATE_TEMPERATURE, candidate_configs
from trace2skill.run.options import DistillConfig


def _cfg(tmp_path: Path, **update) -> DistillConfig:
    return DistillConfig.model_validate({"inputs": [EXAMPLES / "airline"], "out_dir": tmp_path / "out", **update})


def test_candidates_sample_with_their_own_seed_and_folders(tmp_path):
    configs = candidate_configs(_cfg(tmp_path), 3)
    assert [c.backend.seed for c in configs] == [1, 2, 3]
    assert {c.backend.temperature for c in configs} == {CANDIDATE_TEMPERATURE}  # greedy would give three equal skills
    assert [c.resolved_run_dir for c in configs] == [tmp_path / "out" / f"candidate-{i}" / "run" for i in (1, 2, 3)]
    assert len({c.out_dir for c in configs}) == 3


def test_a_recipes_temperature_and_run_dir_are_kept(tmp_path):
    cfg = _cfg(tmp_path, backend={"temperature": 0.3, "seed": 10}, run_dir=tmp_path / "runs")
    configs = candidate_configs(cfg, 2)
    assert [(c.backend.temperature, c.backend.seed) for c in configs] == [(0.3, 11), (0.3, 12)]
    assert [c.resolved_run_dir for c in configs] == [tmp_path / "runs" / "candidate-1", tmp_path / "runs" / "candidate-2"]
    with pytest.raises(ValueError):
        candidate_configs(cfg, 0)


@pytest.mark.ray
def test_distill_writes_each_candidate_and_says_how_to_rank_them(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-c", "from trace2skill.cli import main; main()", "distill", str(EXAMPLES / "airline"), "--out", str(out),
         "--skill", str(EXAMPLES / "skills" / "airline-support"), "--backend", "fake", "--limit", "4", "--num-cpus", "2", "--quiet", "--candidates", "2"],
        capture_output=True, text=True, env={**os.environ, "RAY_ADDRESS": "local"}, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for i in (1, 2):
        assert (out / f"candidate-{i}" / "airline-support" / "SKILL.md").is_file()
        assert json.loads((out / f"candidate-{i}" / "run" / "summary.json").read_text())["read"] == 4
    assert "trace2skill evaluate" in result.stdout and f"--candidate {out / 'candidate-2' / 'airline-support'}" in result.stdout
