"""Real-shaped failed runs with a grader's view, for the prompt tests (fake backend and HTTP)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from trace2skill.analysts.context import SkillContext
from trace2skill.ingest import read_file, read_labels
from trace2skill.schema import Trajectory
from trace2skill.skill.folder import load_skill
from tests.conftest import EXAMPLES, ROOT

AIRLINE = SkillContext.of(load_skill(EXAMPLES / "skills" / "airline-support"))
FAILING_TEST = "tests/test_dates.py::test_parse_iso_week"


def failed_tau_bench_run() -> Trajectory:
    """Item 5 of the bundled tau-bench results: a failure with one expected action."""
    runs = [t for t in read_file(EXAMPLES / "airline" / "tau_bench_results.json") if isinstance(t, Trajectory)]
    return next(t for t in runs if t.raw_id.startswith("5") and t.success is False)


def failed_swe_bench_run(tmp_path: Path) -> Trajectory:
    """A SWE-agent run joined with the SWE-bench harness report that graded it unresolved."""
    traj_file = tmp_path / "dates__dates-7.traj"
    shutil.copy(ROOT / "tests" / "ingest" / "data" / "swe_agent_text.traj", traj_file)
    report = {
        "dates__dates-7": {
            "patch_successfully_applied": True,
            "resolved": False,
            "tests_status": {
                "FAIL_TO_PASS": {"success": [], "failure": [FAILING_TEST]},
                "PASS_TO_PASS": {"success": ["tests/test_dates.py::test_parse_plain"], "failure": []},
            },
        }
    }
    labels = tmp_path / "report.json"
    labels.write_text(json.dumps(report), encoding="utf-8")
    (traj,) = read_file(traj_file, labels=read_labels(labels))
    return traj
