"""A distill on a simulated multi-node Ray cluster; run by test_multinode.py in its own process.

One machine plays a cluster: a head with CPUs and no GPUs, and worker nodes that carry a
``fake_gpu`` resource standing in for their GPUs. The analyst replicas ask for that
resource, as they would ask for GPUs or an accelerator type on a real cluster, so Ray
can only place them on the workers. The script runs the distill, then writes the facts
the test checks (nodes, where each analyst replica ran, the run summary) as JSON.

Its own process because the rest of the suite shares one local Ray session
(tests/conftest.py) and a driver holds one Ray connection at a time.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster
from ray.util.state import list_actors

from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.llm.config import FakeConfig
from trace2skill.pipeline.library import distill_library
from trace2skill.pipeline.run import distill
from trace2skill.run.options import DistillConfig, LibraryConfig
from trace2skill.serve.analyst import app_name
from trace2skill.serve.config import ReplicaConfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# A pool of three families for the library run: airline (tau-bench and chat), coding (OpenHands), data questions (tool-use chat).
LIBRARY_POOL = [EXAMPLES / "airline", ROOT / "tests" / "ingest" / "data" / "openhands_output.jsonl", EXAMPLES / "library" / "sql_tool_chat.jsonl"]
GPU_WORKERS = 2


def run_config(out_dir: Path) -> DistillConfig:
    """Fake analysts slow enough (and capped at 2 requests each) that one replica falls
    behind, with an autoscaler quick enough to add the second within the run."""
    return DistillConfig(
        inputs=[EXAMPLES / "airline"],
        out_dir=out_dir,
        skill_dir=EXAMPLES / "skills" / "airline-support",
        backend=FakeConfig(latency_s=0.5),
        replicas=ReplicaConfig(
            resources={"fake_gpu": 1},
            max_ongoing_requests=2,
            autoscaling={
                "min_replicas": 1,
                "max_replicas": GPU_WORKERS,
                "target_ongoing_requests": 1,
                "metrics_interval_s": 0.5,
                "look_back_period_s": 2,
                "upscale_delay_s": 0.5,
            },
        ),
        consolidate=ConsolidateConfig(embedder="hashing", fan_in=4),  # no model to load: this test is about placement
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="Distill output folder.")
    parser.add_argument("--facts", type=Path, required=True, help="JSON file the facts are written to.")
    args = parser.parse_args()

    t0 = time.perf_counter()  # progress lines carry the seconds since start: where a slow run spends them
    # The dashboard serves the state API (list_actors) that tells where each replica ran.
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": True})
    workers = [cluster.add_node(num_cpus=1, resources={"fake_gpu": 1}) for _ in range(GPU_WORKERS)]
    cluster.wait_for_nodes()
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        print(f"{time.perf_counter() - t0:6.1f}s cluster up", file=sys.stderr)
        cfg = run_config(args.out)
        summary = distill(cfg, progress=lambda msg: print(f"{time.perf_counter() - t0:6.1f}s {msg}", file=sys.stderr))
        app = app_name(cfg.backend, cfg.analyst, cfg.replicas)
        # Dead replicas stay in the state API's actor table, so a scaled-down one still counts.
        replicas = [
            {"node_id": a.node_id, "state": a.state}
            for a in list_actors(filters=[("class_name", "=", f"ServeReplica:{app}:Analyst")], limit=1000, raise_on_missing_output=False)
        ]
        library_cfg = cfg.model_copy(update={"inputs": LIBRARY_POOL, "out_dir": args.out.with_name("library"), "skill_dir": None, "library": LibraryConfig(group_by="format")})
        library = distill_library(library_cfg, progress=lambda msg: print(f"{time.perf_counter() - t0:6.1f}s library {msg}", file=sys.stderr))
        facts = {
            "library": library.model_dump(mode="json"),
            "library_run_dir": str(library_cfg.resolved_run_dir),
            "head_node_id": cluster.head_node.node_id,
            "gpu_node_ids": [w.node_id for w in workers],
            "replicas": replicas,
            "summary": summary.model_dump(mode="json"),
            "run_dir": str(cfg.resolved_run_dir),
        }
        args.facts.write_text(json.dumps(facts, indent=2))
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
