"""A Serve analyst replica killed while the analysis runs: the run finishes, Serve brings a new
replica up for the rest of the work, and every record is in the manifest."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import polars as pl
import pytest
import ray

from tests.reliability.corpus import chat_corpus, write_lines
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.llm.config import FakeConfig
from trace2skill.pipeline.run import distill
from trace2skill.run.options import DistillConfig
from trace2skill.serve.analyst import app_name
from trace2skill.serve.config import ReplicaConfig

pytestmark = pytest.mark.ray

N = 300


def _replicas(app: str) -> list[str]:
    """Names of the live replica actors of ``app`` (Serve names them SERVE_REPLICA::<app>#<deployment>#<id>)."""
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith(f"SERVE_REPLICA::{app}#")]


class ReplicaKiller(threading.Thread):
    """Once the analysis has begun, waits until the replica holds requests, then kills it."""

    def __init__(self, app: str):
        super().__init__(daemon=True)
        self.app = app
        self.analyzing = threading.Event()
        self.killed: list[str] = []
        self.in_flight = 0

    def progress(self, line: str) -> None:
        if line.startswith("analyzing"):
            self.analyzing.set()

    def run(self) -> None:
        self.analyzing.wait(timeout=600)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not self.killed:
            for name in _replicas(self.app):
                replica = ray.get_actor(name, namespace="serve")
                # ReplicaActor.get_num_ongoing_requests is what Serve's own router polls.
                ongoing = ray.get(replica.get_num_ongoing_requests.remote(), timeout=30)
                if ongoing >= 2:
                    self.in_flight = ongoing
                    ray.kill(replica, no_restart=True)
                    self.killed.append(name)
                    break
            time.sleep(0.05)


def test_killing_the_analyst_replica_mid_run(ray_session, tmp_path: Path) -> None:
    write_lines(tmp_path / "data" / "corpus.jsonl", chat_corpus(N, seed=4))
    cfg = DistillConfig(
        inputs=[tmp_path / "data"],
        out_dir=tmp_path / "out",
        name="support-desk",
        backend=FakeConfig(latency_s=0.1),
        replicas=ReplicaConfig(num_replicas=1, max_ongoing_requests=8),
        consolidate=ConsolidateConfig(embedder="hashing"),
        batch_size=16,
    )
    killer = ReplicaKiller(app_name(cfg.backend, cfg.analyst, cfg.replicas))
    killer.start()
    summary = distill(cfg, progress=killer.progress)
    killer.join(timeout=5)

    assert len(killer.killed) == 1, "the replica was never caught with requests in flight"
    after = _replicas(killer.app)
    assert after and killer.killed[0] not in after  # Serve replaced it
    manifest = pl.read_parquet(tmp_path / "out" / "run" / "manifest.parquet")
    assert manifest.height == N and manifest["trajectory_id"].n_unique() == N
    failed = manifest.filter(pl.col("status") == "failed")
    # Only what the dead replica held can be lost: at most its in-flight requests plus the
    # requests the two analysis actors had routed to it (a batch each).
    assert failed.height <= cfg.replicas.max_ongoing_requests + 2 * cfg.batch_size
    assert all("analyst call failed" in r for r in failed["reason"])
    assert summary.valid and summary.analyzed >= N - N // 50 - N // 25 - failed.height
    print(f"\nkilled with {killer.in_flight} in flight: {failed.height} failed, {summary.analyzed} analyzed, {summary.wall_seconds} s")
