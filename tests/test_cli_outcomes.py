"""The CLI on unlabeled runs and sidecar folders: the same warnings in every command, and a run
with no outcome at all stops before Ray starts, naming --labels."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "ingest" / "data"
MINI = ROOT / "tests" / "ingest" / "sidecars" / "mini_swe_agent"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trace2skill.cli", *args], capture_output=True, text=True, timeout=300)


def test_distill_with_no_outcome_and_no_judge_stops_before_ray_naming_labels(tmp_path: Path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(DATA / "claude_code" / "7d3c1a52-4a8e-4f51-9d0e-1b2c3d4e5f60.jsonl", inputs)
    shutil.copy(DATA / "openhands_events.json", inputs)
    proc = run("distill", str(inputs), "--out", str(tmp_path / "out"), "--backend", "embedded")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: none of the first 2 trajectory(ies) has an outcome"), proc.stderr
    assert "--labels FILE" in proc.stderr and "session_id" in proc.stderr
    assert not (tmp_path / "out" / "run" / "ray.log").exists()  # stopped before Ray started


@pytest.mark.parametrize("command", [["inspect"], ["plan", "--backend", "fake"]])
def test_every_command_skips_unknown_files_with_the_same_warning_and_reads_sidecars(command):
    proc = run(*command, str(MINI))
    assert proc.returncode == 0, proc.stderr
    assert f"warning: skipped {MINI / 'preds.json'}: not a recognised trajectory file" in proc.stderr
    assert "2 label(s) read from 2 sidecar file(s)" in proc.stderr
    if command[0] == "plan":
        assert "outcome sources           2 label\n" in proc.stdout


def test_plan_says_how_the_unknown_outcomes_would_be_inferred(tmp_path: Path):
    shutil.copy(DATA / "openhands_events.json", tmp_path)
    shutil.copy(DATA / "mini_v2.traj.json", tmp_path)
    judged = run("plan", str(tmp_path), "--backend", "fake")
    assert "outcome sources           1 signal, 1 unknown; the outcome judge infers the unknown ones" in judged.stdout, judged.stdout
    embedded = run("plan", str(tmp_path), "--backend", "embedded")
    assert "1 signal, 1 unknown; no outcome judge on this backend: the unknown ones yield nothing" in embedded.stdout


def test_ingest_reads_the_sidecars_and_exclude_drops_a_file(tmp_path: Path):
    proc = run("ingest", str(MINI), "--out", str(tmp_path / "t.parquet"), "--exclude", "preds.json", "--num-cpus", "1")
    assert proc.returncode == 0, proc.stderr
    assert "warning: skipped" not in proc.stderr and "2 label(s) read from 2 sidecar file(s)" in proc.stderr
    assert "2 trajectories" in proc.stdout


def test_inspect_joins_a_labels_file_even_a_swebench_report_json(tmp_path: Path):
    report = MINI / "sympy__sympy-20590" / "sympy__sympy-20590.report.json"
    unlabeled = ["inspect", str(MINI), "--exclude", "*.report.json", "--exclude", "preds.json", "--json"]  # no sidecar joins by itself

    def outcomes(proc: subprocess.CompletedProcess) -> dict[str, tuple[int, int, int]]:
        assert proc.returncode == 0, proc.stderr
        return {Path(f["file"]).name: (f["success"], f["failure"], f["no_outcome"]) for f in json.loads(proc.stdout)}

    assert outcomes(run(*unlabeled)) == {"django__django-10999.traj.json": (0, 0, 1), "sympy__sympy-20590.traj.json": (0, 0, 1)}
    assert outcomes(run(*unlabeled, "--labels", str(report))) == {"django__django-10999.traj.json": (0, 0, 1), "sympy__sympy-20590.traj.json": (0, 1, 0)}
    missing = run("inspect", str(MINI), "--labels", str(tmp_path / "none.jsonl"))
    assert missing.returncode == 1 and missing.stderr.strip() == f"error: labels file not found: {tmp_path / 'none.jsonl'}"
