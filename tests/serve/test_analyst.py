"""The Analyst deployment on real Serve: a replica that only waits on HTTP runs every analysis it holds at once, one engine request each."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest
from ray import serve

from tests.conftest import make_trajectory
from tests.llm.openai_server import ChatServer
from trace2skill.analysts.analyze import AnalystConfig
from trace2skill.analysts.context import SkillContext
from trace2skill.llm.config import EmbeddedConfig, FakeConfig, OpenAIConfig
from trace2skill.serve.analyst import start_analyst, wait_running
from trace2skill.serve.config import ReplicaConfig

pytestmark = pytest.mark.ray

SKILL = SkillContext(skill_md="---\nname: s\ndescription: d\n---\n# S\n\n## Workflow\n\n- a\n")


def test_an_http_bound_replica_has_every_analysis_of_its_batches_in_flight(ray_session):
    # Three batch requests of four trajectories: the replica runs their analyses on one pool
    # of max_ongoing_requests threads, each analysis its own engine request, and the client
    # shares one connection pool among them; the server answers only once 12 requests are
    # in, so anything that serialised them (a pool per request, a lock) shows as less.
    with ChatServer(gate=12) as server:
        backend = OpenAIConfig(base_url=server.base_url, model="m")
        app, handle = start_analyst(backend, AnalystConfig(), ReplicaConfig(num_replicas=1, num_cpus=0, max_ongoing_requests=12))
        try:
            rows = [make_trajectory(f"t{i}", i % 2 == 0, ["search_direct_flight"]).to_row() for i in range(12)]
            pending = [handle.analyze_batch.remote(pa.Table.from_pylist(rows[i : i + 4]), SKILL) for i in range(0, 12, 4)]
            results = [r for response in pending for r in response.result(timeout_s=120)]
        finally:
            serve.delete(app)
    assert [r.trajectory_id for r in results] == [f"t{i}" for i in range(12)]
    assert [r.status for r in results] == ["analyzed"] * 12
    prompts = ["\n".join(m["content"] for m in r["messages"]) for r in server.requests if "messages" in r]
    named = [re.findall(r"Please help with task (t\d+)\.", prompt) for prompt in prompts]
    assert sorted(named) == sorted([f"t{i}"] for i in range(12))  # one engine request per analysis, one trajectory in each
    assert server.peak_in_flight == 12


def test_a_deployment_started_without_waiting_is_waited_for_and_a_failed_one_raises(ray_session, tmp_path):
    # A run deploys its analyst without waiting (its replica starts while the read runs) and
    # waits before the first call; a replica whose constructor raises fails the wait, as
    # serve.run would have, instead of leaving calls queued for a replica that never comes.
    replicas = ReplicaConfig(num_replicas=1, num_cpus=0)
    app, handle = start_analyst(FakeConfig(), AnalystConfig(), replicas, wait=False)
    try:
        wait_running(app)
        assert serve.status().applications[app].status == "RUNNING"
        row = make_trajectory("t0", False, ["search_direct_flight"]).to_row()
        [result] = handle.analyze_batch.remote(pa.Table.from_pylist([row]), SKILL).result(timeout_s=120)
    finally:
        serve.delete(app)
    assert result.trajectory_id == "t0" and result.status == "analyzed"
    broken, _ = start_analyst(EmbeddedConfig(model_path=str(tmp_path / "missing.gguf")), AnalystConfig(), replicas, wait=False)
    try:
        with pytest.raises(RuntimeError, match=r"Deploying application .* failed: .*model file not found"):
            wait_running(broken)
    finally:
        serve.delete(broken)
