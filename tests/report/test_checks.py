import pyarrow.parquet as pq

from trace2skill.report.checks import analysis_checks, checks_section
from trace2skill.schema import MANIFEST_SCHEMA, TRAJECTORY_SCHEMA, ManifestRow, to_table
from tests.conftest import make_trajectory


def write_run(run_dir, rows):
    trajs = [make_trajectory(tid, success, ["a"]) for tid, success, _ in rows]
    pq.write_table(to_table(trajs, TRAJECTORY_SCHEMA), run_dir / "trajectories.parquet")
    pq.write_table(to_table([ManifestRow(trajectory_id=tid, status="analyzed", **m) for tid, _, m in rows], MANIFEST_SCHEMA), run_dir / "manifest.parquet")


def test_coverage_turns_and_verified_share_over_failures(tmp_path):
    write_run(
        tmp_path,
        [
            ("f1", False, {"sibling_id": "s1", "turns": 3, "tool_errors": 1, "verified": "passed"}),
            ("f2", False, {"sibling_id": "", "turns": 5, "verified": "failed"}),
            ("f3", False, {"sibling_id": "s1", "turns": 0, "verified": "unchecked"}),
            ("s1", True, {"turns": 0}),
        ],
    )
    c = analysis_checks(tmp_path)
    assert c["failures"] == 3 and c["with_sibling"] == 2 and c["agentic"] == 2
    assert c["turns_mean"] == 4 and c["turns_max"] == 5 and c["tool_errors"] == 1
    assert (c["passed"], c["failed"], c["unchecked"]) == (1, 1, 1)
    table = checks_section(tmp_path)[0].blocks[1]
    assert ["failures with a successful sibling (contrastive coverage)", "2 of 3 (67%)"] in table.rows
    assert ["checked diagnoses whose fix passed (check tool or verifier)", "1 of 2 (50%)"] in table.rows
    assert ["diagnoses no checker judged (unchecked)", "1 of 3 (33%)"] in table.rows


def test_no_section_without_failures_or_columns(tmp_path):
    write_run(tmp_path, [("s1", True, {})])
    assert checks_section(tmp_path) == []
    assert checks_section(tmp_path / "nowhere") == []
