"""Every benchmark runs end to end at a tiny size, so none of them rots.

Each one runs as its users run it (``python benchmarks/NAME.py``), in a subprocess
with its own local Ray instance where it needs one, and must write its JSON result.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BENCH = ROOT / "benchmarks"


def run_bench(name: str, *args: str, timeout: int = 600) -> str:
    out = subprocess.run([sys.executable, str(BENCH / name), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_corpus_shapes_and_formats(tmp_path: Path):
    sys.path.insert(0, str(BENCH))
    from corpus import write_corpus

    from trace2skill.ingest import detect_format, read_file
    from trace2skill.schema import Trajectory

    for fmt, suffix in (("openai_chat", ".jsonl"), ("tau_bench", ".json")):
        folder = tmp_path / fmt
        meta = write_corpus(folder, 60, fmt, shard_size=25, workers=1)
        files = sorted(folder.glob(f"part-*{suffix}"))
        assert meta["files"] == len(files) == 3
        assert all(detect_format(f) == fmt for f in files)
        records = [r for f in files for r in read_file(f)]
        assert len(records) == 60 and all(isinstance(r, Trajectory) for r in records)
        assert {r.success for r in records} == {True, False}
        assert meta["steps"]["max"] >= meta["steps"]["p50"] >= 1
    again = write_corpus(tmp_path / "openai_chat", 60, "openai_chat", shard_size=25, workers=1)
    assert again == json.loads((tmp_path / "openai_chat.corpus.json").read_text())  # reused, not rewritten
    compact = write_corpus(tmp_path / "compact", 60, "openai_chat", shard_size=25, shape="compact", workers=1)
    assert compact["spec"]["shape"] == "compact" and "shape" not in meta["spec"]  # a standard corpus keeps its old spec (reused)
    assert compact["mb"] < meta["mb"] / 4 and compact["steps"]["max"] <= 20  # the same records, short: 1M fits a disk
    assert {r.success for f in sorted((tmp_path / "compact").glob("part-*")) for r in read_file(f)} == {True, False}


def test_real_shaped_corpus_replicates_runs_with_fresh_ids(tmp_path: Path):
    sys.path.insert(0, str(BENCH))
    from real_corpus import write_real_corpus

    from trace2skill.ingest import detect_format, read_file

    meta = write_real_corpus(tmp_path / "real", 50, shard_size=20, distinct=10)
    files = sorted((tmp_path / "real").glob("part-*.jsonl"))
    assert meta["files"] == len(files) == 3 and all(detect_format(f) == "openai_chat" for f in files)
    records = [r for f in files for r in read_file(f)]
    assert len({r.id for r in records}) == 50  # every replica under its own id
    assert len({tuple(s.content for s in r.steps) for r in records}) == 10  # 10 distinct runs, 5 times each
    assert 8 < meta["mb"] * 1e3 / 50 < 40  # KB a run: the size of real tau-bench / SWE-agent runs
    assert write_real_corpus(tmp_path / "real", 50, shard_size=20, distinct=10) == meta  # reused


def test_embedder_speed_benchmark(tmp_path: Path):
    out = tmp_path / "speed.json"
    stdout = run_bench("embedder_speed.py", "--units", "12", "--rounds", "1", "--threads", "1", "--out", str(out))
    rows = json.loads(out.read_text())["rows"]
    assert {r["embedder"] for r in rows} == {"torch-fp32", "onnx-int8"} and all(r["units_per_s"] > 0 for r in rows)
    assert "| onnx-int8 | 1 |" in stdout


def test_ingest_benchmark(tmp_path: Path):
    out = tmp_path / "ingest.json"
    run_bench("ingest.py", "--n", "40", "--repeats", "1", "--redact-sample", "10", "--out", str(out))
    assert json.loads(out.read_text())["results"][0]["stages"]["normalize"]["records"] == 40


@pytest.mark.ray
def test_pipeline_benchmark(tmp_path: Path):
    out = tmp_path / "pipeline.json"
    stdout = run_bench("pipeline.py", "--n", "30", "--workdir", str(tmp_path), "--out", str(out))
    result = json.loads(out.read_text())["results"][0]
    assert result["n"] == 30 and sum(result["statuses"].values()) == 30
    assert result["memory"]["peak_pss_mb"] > 0 and "raylet+gcs" in result["memory"]["peak_by_role_pss_mb"]
    assert result["stage_seconds"]["analyze"] > 0 and "| 30 |" in stdout
    assert set(result["stage_peak_pss_mb"]) >= {"read", "analyze", "merge"}
    assert 0 < result["stage_peak_driver_mb"]["analyze"] <= result["stage_peak_pss_mb"]["analyze"]
    assert result["stage_cpu_s"]["analyze"] > 0 and result["stage_cpu_ms_per_traj"]["analyze"] > 0


@pytest.mark.ray
def test_update_benchmark(tmp_path: Path):
    out = tmp_path / "update.json"
    stdout = run_bench("update.py", "--n", "30", "--workdir", str(tmp_path), "--out", str(out))
    result = json.loads(out.read_text())["results"]
    assert (result["update"]["seen"], result["update"]["changed"], result["update"]["new"]) == (30, 0, 3)
    assert result["update"]["calls"] < result["full"]["calls"] and "update's analysis calls" in stdout


def test_analysis_profile_benchmark():
    stdout = run_bench("analysis_profile.py", "--n", "12", "--top", "200")
    assert "12 analyses in" in stdout and "analyze_batch" in stdout


@pytest.mark.ray
def test_pipeline_benchmark_read_stage(tmp_path: Path):
    out = tmp_path / "read.json"
    run_bench("pipeline.py", "--stages", "read", "--n", "30", "--workdir", str(tmp_path), "--out", str(out))
    result = json.loads(out.read_text())["results"][0]
    assert result["counts"] == {"ok": 30, "quarantined": 0} and result["memory"]["peak_pss_mb"] > 0


@pytest.mark.ray
def test_speedup_benchmark(tmp_path: Path):
    out = tmp_path / "speedup.json"
    run_bench("speedup.py", "--n", "12", "--latency-s", "0.001", "--latency-per-token-s", "0", "--workdir", str(tmp_path), "--out", str(out))
    result = json.loads(out.read_text())
    assert result["sequential"]["analysis_calls"] == result["pipeline"]["analysis_calls"] > 0
    assert result["speedup_wall"] > 0


@pytest.mark.ray
@pytest.mark.embedded
def test_embedded_benchmark(tmp_path: Path):
    out = tmp_path / "embedded.json"
    run_bench("embedded.py", "--limit", "1", "--workdir", str(tmp_path), "--out", str(out))
    result = json.loads(out.read_text())
    assert result["ceiling"]["completion_tokens"] > 0 and result["pipeline"]["analysis_completion_tokens"] > 0


@pytest.mark.ray
def test_openai_replica_benchmark(tmp_path: Path):
    out = tmp_path / "openai_replica.json"
    stdout = run_bench("openai_replica.py", "--latency-s", "0.05", "--ongoing", "2", "--repeats", "1", "--out", str(out))
    point = json.loads(out.read_text())["points"][0]
    assert point["requests"] == 32 and point["peak_in_flight"] == 2 and point["analyses_per_s"] > 0
    assert "| 2 | 32 |" in stdout


@pytest.mark.ray
@pytest.mark.embedded
def test_tau_bench_run_benchmark(tmp_path: Path):
    out = tmp_path / "tau.json"
    run_bench("tau_bench_run.py", "--n", "3", "--backend", "fake", "--out-dir", str(tmp_path), "--out", str(out))
    result = json.loads(out.read_text())
    assert len(result["tokens"]) == 3 and sum(result["run"]["statuses"].values()) == 3
    row = result["tokens"][0]
    assert row["fitted_trajectory"] < row["whole_with_policy"] < row["record_json"]


def test_evaluate_benchmark(tmp_path: Path):
    out = tmp_path / "evaluate.json"
    stdout = run_bench("evaluate.py", "--runs", "6", "--concurrency", "1", "--runner", "shell", "--out", str(out))
    result = json.loads(out.read_text())
    assert [r["mode"] for r in result["rows"]] == ["loop", "ray c1"] and "ms/run" in stdout


@pytest.mark.embedded
def test_analyst_prompt_benchmark(tmp_path: Path):
    out = tmp_path / "analyst_prompt.json"
    run_bench("analyst_prompt.py", "--out", str(out))
    result = json.loads(out.read_text())
    embedded, openai = result["backends"]["embedded"], result["backends"]["openai"]
    assert embedded["tokens"]["grader"] > 0 and embedded["tokens"]["references"] > 0
    assert embedded["fit"]["grader_shown"] and openai["tokens"]["total"] > embedded["tokens"]["total"]  # the longer room line


def test_contrast_benchmark(tmp_path: Path):
    out = tmp_path / "contrast.json"
    run_bench("contrast.py", "--tasks", "4", "--trials", "3", "--latency-s", "0", "--latency-per-token-s", "0", "--out", str(out))
    result = json.loads(out.read_text())
    assert result["runs"] == 12 and 0 <= result["failures_with_sibling"] <= result["failures"]
    single, agentic = result["modes"]
    assert single["turns"]["max"] == 1 and 1 <= agentic["turns"]["max"] <= 8


def test_library_routing_benchmark(tmp_path: Path):
    out = tmp_path / "routing.json"
    stdout = run_bench("library_routing.py", "--sizes", "400:40", "--out", str(out))
    (row,) = json.loads(out.read_text())["rows"]
    assert row["records"] == 400 and row["skills"] == 4 and row["purity"] >= 0.9
    assert "| 400 | 40 |" in stdout
