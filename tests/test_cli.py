"""The command line: help everywhere, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trace2skill.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [["--help"], ["distill", "--help"], ["validate", "--help"]])
def test_help(args):
    result = run(*args)
    assert result.returncode == 0 and "Usage" in result.stdout


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["distill", "missing.jsonl", "--out", "o"], 1, "input not found: missing.jsonl"),
        (["distill", str(EXAMPLES / "airline"), "--out", "o", "--bogus"], 2, "No such option"),
        (["distill", str(EXAMPLES / "airline")], 1, "give INPUTS and --out"),
        (["distill", str(EXAMPLES / "airline"), "--out", "o", "--name", "Bad Name"], 1, "kebab-case"),
        (["distill", str(EXAMPLES / "airline"), "--out", "o", "--skill", str(EXAMPLES / "airline")], 1, "SKILL.md"),
        (["distill", str(EXAMPLES / "airline"), "--out", "o", "--mode", "deepen"], 1, "needs a starting skill"),
        (["distill", str(EXAMPLES / "airline"), "--out", "o", "--backend", "nope"], 1, "backend"),
        (["distill", str(EXAMPLES / "airline"), "--out", "o", "--recipe", "none.yaml"], 1, "recipe not found"),
        (["distill", str(EXAMPLES / "airline"), "--out", "o", "--checker", "python c.py {task_file} {proposal_file} {out_dir}"], 1, "set analyst.mode agentic"),
        (["ingest", str(EXAMPLES / "airline"), "--out", "."], 1, "is a folder, not a Parquet dataset; give a new name"),
        (["ingest", str(EXAMPLES / "airline"), "--out", "o.parquet", "--format", "nope"], 1, "unknown --format 'nope'"),
        (["ingest", str(EXAMPLES / "airline"), "--out", "o.parquet", "--labels", "none.jsonl"], 1, "labels file not found"),
        (["inspect", str(EXAMPLES), "--format", "nope"], 1, "unknown --format 'nope'"),
        (["inspect", "missing.jsonl"], 1, "input not found: missing.jsonl"),
    ],
)
def test_user_errors_are_one_line(args, code, words, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "trace2skill.cli", *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and words in lines[0]
    assert "Traceback" not in result.stderr


def test_validate_command(tmp_path):
    ok = run("validate", str(EXAMPLES / "skills" / "airline-support"))
    assert ok.returncode == 0 and "valid" in ok.stdout
    bad = tmp_path / "Bad"
    bad.mkdir()
    (bad / "SKILL.md").write_text("---\nname: other\ndescription: x\n---\n# x\n")
    result = run("validate", str(bad))
    assert result.returncode == 4 and result.stdout.startswith("- ")  # not a valid skill


def test_inspect_counts_per_file():
    result = run("inspect", str(EXAMPLES / "airline"))
    assert result.returncode == 0, result.stderr
    path = str(EXAMPLES / "airline" / "tau_bench_results.json")
    line = next(line for line in result.stdout.splitlines() if "tau_bench" in line)
    assert line.split()[:6] == ["tau_bench", path, "20", "20", "0", "10/10/0"]  # the whole path; records, ok, quarantined, outcomes
    files = json.loads(run("inspect", str(EXAMPLES / "airline"), "--json").stdout)
    tau = next(f for f in files if f["format"] == "tau_bench")
    assert (tau["file"], tau["records"], tau["ok"], tau["quarantined"], tau["success"], tau["failure"], tau["no_outcome"]) == (path, 20, 20, 0, 10, 10, 0)
    lenient = json.loads(run("inspect", path, "--success-threshold", "0", "--json").stdout)  # every reward >= 0 is a success
    assert (lenient[0]["success"], lenient[0]["failure"]) == (20, 0)


def test_ingest_writes_parquet_with_labels(tmp_path):
    import polars as pl

    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"task_id": 0, "trial": 0, "success": false}\n')
    out = tmp_path / "not" / "yet" / "t.parquet"  # a folder that does not exist is created
    result = run("ingest", str(EXAMPLES / "airline" / "tau_bench_results.json"), "--out", str(out), "--labels", str(labels), "--num-cpus", "1")
    assert result.returncode == 0, result.stderr
    assert "20 trajectories" in result.stdout
    assert result.stderr == ""  # Ray's notices (the token warning) are in the log beside the dataset
    assert out.with_name("t.ray.log").read_text()  # what Ray printed (its token notice, when it gives one) went here
    assert not list(out.parent.glob(".*.staging"))  # no empty staging folders left behind
    table = pl.read_parquet(out)
    assert table.height == 20 and table.filter(pl.col("raw_id") == "0:0")["success"].to_list() == [False]
    assert pl.read_parquet(out.with_name("t.quarantine.parquet")).height == 0


@pytest.mark.ray
def test_distill_quiet_json_then_report(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "RAY_ADDRESS": "local"}  # its own Ray, not the test session's
    result = subprocess.run(
        [sys.executable, "-c", "from trace2skill.cli import main; main()", "distill", str(EXAMPLES / "airline"), "--out", str(out),
         "--skill", str(EXAMPLES / "skills" / "airline-support"), "--backend", "fake", "--limit", "6", "--num-cpus", "2", "--quiet", "--json"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("{"), result.stdout[:2000]
    summary = json.loads(result.stdout)
    assert summary["read"] == 6 and summary["valid"]
    assert "[trace2skill]" not in result.stderr  # --quiet: no progress lines
    assert (out / "run" / "report.html").is_file()
    (out / "run" / "report.html").unlink()
    again = run("report", str(out / "run"))
    assert again.returncode == 0 and (out / "run" / "report.html").is_file() and str(out / "run" / "report.md") in again.stdout
