"""A run that cannot finish fails before any work: unwritable output, full disk, a run dir
of another version, an unfinished run in the way. None of these needs Ray."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from trace2skill.pipeline.run import distill
from trace2skill.run.checkpoint import RunError, load_state
from trace2skill.run.options import DistillConfig


def _cfg(out: Path) -> DistillConfig:
    return DistillConfig(inputs=[EXAMPLES / "airline"], out_dir=out, backend={"backend": "fake"})


def _no_ray(*_a, **_k):
    raise AssertionError("work started")


@pytest.fixture(autouse=True)
def no_work(monkeypatch):
    monkeypatch.setattr("trace2skill.pipeline.run.ray_session", _no_ray)


def test_unwritable_output_fails_before_work(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match="cannot write to"):
        distill(_cfg(tmp_path / "file" / "out"), progress=lambda _: None)


def test_full_disk_fails_before_work(tmp_path, monkeypatch):
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=10_000))
    with pytest.raises(RunError, match="MB free"):
        distill(_cfg(tmp_path / "out"), progress=lambda _: None)
    assert load_state(tmp_path / "out" / "run") is None


def test_run_dir_of_another_version_is_refused(tmp_path):
    run = tmp_path / "out" / "run"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"format": 0, "version": "0.0.1", "config": {}, "stages": ["read"]}))
    with pytest.raises(RunError, match="0.0.1 .*another --run-dir"):
        distill(_cfg(tmp_path / "out"), progress=lambda _: None, resume=True)
    with pytest.raises(RunError, match="another --run-dir"):
        distill(_cfg(tmp_path / "out"), progress=lambda _: None)


def test_cli_resume_errors_are_one_line(tmp_path):
    cli = [sys.executable, "-c", "from trace2skill.cli import main; main()", "distill"]
    nothing = subprocess.run([*cli, "--resume", str(tmp_path)], capture_output=True, text=True)
    assert nothing.returncode == 1 and nothing.stderr.strip() == f"error: nothing to resume: {tmp_path} holds no run.json"
    mixed = subprocess.run([*cli, str(EXAMPLES / "airline"), "--resume", str(tmp_path)], capture_output=True, text=True)
    assert mixed.returncode == 1 and "give it alone" in mixed.stderr and "Traceback" not in mixed.stderr
    neither = subprocess.run(cli, capture_output=True, text=True)
    assert neither.returncode == 1 and "give INPUTS and --out" in neither.stderr
