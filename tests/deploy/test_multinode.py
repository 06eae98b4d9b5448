"""A distill on a simulated multi-node cluster: analysts autoscale onto the "GPU" workers only.

The cluster runs in a child process (multinode_run.py) with its own Ray temp dir: the
suite's shared local session stays untouched, and a concurrent ``ray.init()`` on this
machine cannot find the simulated cluster through /tmp/ray/ray_current_cluster.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest

pytestmark = pytest.mark.ray

SCRIPT = Path(__file__).with_name("multinode_run.py")


@pytest.fixture(scope="module")
def facts() -> dict:
    """Run the script once and return what it observed."""
    # A short path: Ray's unix sockets live under the temp dir and their paths are capped at 107 bytes.
    with tempfile.TemporaryDirectory(prefix="t2s-") as tmp:
        # No auto-connect: a Serve router's metrics thread that outlives ray.shutdown() would
        # otherwise connect the script to the cluster again, and the cluster then refuses to stop.
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"RAY_TMPDIR": tmp, "RAY_ENABLE_AUTO_CONNECT": "0"}
        facts_file = Path(tmp) / "facts.json"
        proc = subprocess.run(
            [sys.executable, str(SCRIPT), "--out", str(Path(tmp) / "out"), "--facts", str(facts_file)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"multinode_run.py failed:\n{proc.stderr[-4000:]}"
        result = json.loads(facts_file.read_text())
        run_dir = Path(result["run_dir"])
        result["manifest"] = pl.read_parquet(run_dir / "manifest.parquet").to_dicts()
        result["library_manifest"] = pl.read_parquet(Path(result["library_run_dir"]) / "manifest.parquet").to_dicts()
        result["trajectory_ids"] = pl.read_parquet(run_dir / "trajectories.parquet")["id"].to_list()
        result["quarantined_ids"] = pl.read_parquet(run_dir / "quarantine.parquet")["trajectory_id"].to_list()
        return result


def test_analyst_replicas_ran_only_on_gpu_workers_and_scaled_out(facts):
    replica_nodes = [r["node_id"] for r in facts["replicas"]]
    assert replica_nodes, "no analyst replica was found in the actor table"
    assert set(replica_nodes) <= set(facts["gpu_node_ids"]), "a replica ran on a node without the fake_gpu resource"
    assert facts["head_node_id"] not in replica_nodes
    # max_replicas 2, one fake_gpu per worker: the scaled-out replica must sit on the other worker.
    assert set(replica_nodes) == set(facts["gpu_node_ids"]), "the analyst never scaled out to the second GPU worker"


def test_manifest_accounts_for_every_trajectory(facts):
    manifest = facts["manifest"]
    ids = [row["trajectory_id"] for row in manifest]
    assert len(ids) == len(set(ids)) == facts["summary"]["read"] == 24
    assert set(ids) == set(facts["trajectory_ids"]) | set(facts["quarantined_ids"])
    assert {row["status"] for row in manifest} <= {"analyzed", "no_lesson", "quarantined", "failed"}
    assert all(row["reason"] for row in manifest if row["status"] != "analyzed")
    assert facts["summary"]["failed"] == 0 and facts["summary"]["valid"]


def test_library_distill_on_the_cluster(facts):
    """A library run on the same cluster: one skill per format group, every trajectory of the
    pool in the library's manifest once, with its skill."""
    library = facts["library"]
    manifest = pl.DataFrame(facts["library_manifest"])
    assert {s["group"] for s in library["skills"]} == {"tau_bench", "openai_chat", "openhands"}
    assert manifest["trajectory_id"].n_unique() == manifest.height == library["read"] + library["quarantined"]
    routed = manifest.filter(pl.col("status") != "quarantined")
    assert set(routed["skill"]) == {s["name"] for s in library["skills"]}
    assert all(s["valid"] for s in library["skills"])
