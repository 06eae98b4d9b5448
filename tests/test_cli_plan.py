"""``trace2skill plan`` on the command line: the table, --json, and its one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tests.conftest import EXAMPLES


def plan(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trace2skill.cli", "plan", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_plan_prints_the_table_of_examples_airline():
    result = plan(str(EXAMPLES / "airline"), "--backend", "fake", "--skill", str(EXAMPLES / "skills" / "airline-support"))
    assert result.returncode == 0, result.stderr
    rows = dict(line.split("  ", 1) for line in result.stdout.splitlines() if "  " in line and not line.startswith("-"))
    assert rows["trajectories"].strip().startswith("24,")
    assert rows["formats"].strip() == "openai_chat 4, tau_bench 20"
    assert rows["analysis calls"].strip() == "24"
    assert "fake backend's own count" in rows["tokens counted with"]
    assert "give a recipe with a throughput section" in result.stdout


def test_plan_json_with_a_recipe_throughput_and_replicas(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"backend": {"backend": "fake"}, "throughput": {"prefill_tokens_per_s": 2000, "decode_tokens_per_s": 200, "gpus_per_replica": 2}}))
    result = plan(str(EXAMPLES / "airline"), "--recipe", str(recipe), "--replicas", "3", "--json", "--sample", "10")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["trajectories"] == 24 and out["sampled"] == 10 and out["analysis_calls"] == 24
    assert out["analysis_prompt_tokens"] == 24 * out["prompt_tokens"]["mean"]
    cost = out["cost"]
    assert cost["replicas"] == 3 and cost["gpu_hours"] == cost["replica_hours"] * 2
    assert abs(cost["wall_hours"] - cost["replica_hours"] / 3) < 1e-12


def test_plan_errors_are_one_line(tmp_path):
    for args, words in ((["missing.jsonl"], "input not found"), ([str(EXAMPLES / "airline"), "--recipe", "none.yaml"], "recipe not found"),
                        ([str(EXAMPLES / "airline"), "--format", "nope"], "unknown --format 'nope'")):
        result = plan(*args, cwd=tmp_path)
        assert result.returncode == 1 and result.stderr.startswith("error:") and words in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
