"""The Analyst deployment on real Serve: a replica that only waits on HTTP runs every request it accepts."""

from __future__ import annotations

import pytest
from ray import serve

from tests.conftest import make_trajectory
from tests.llm.openai_server import ChatServer
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.analyze import AnalysisResult, AnalystConfig
from trace2skill.config import ReplicaConfig
from trace2skill.llm.factory import BackendConfig
from trace2skill.serve.analyst import start_analyst

pytestmark = pytest.mark.ray

SKILL = SkillContext(skill_md="---\nname: s\ndescription: d\n---\n# S\n\n## Workflow\n\n- a\n")


def test_an_http_bound_replica_has_every_accepted_request_in_flight(ray_session):
    # Serve runs plain methods on threads limited to max_ongoing_requests, and the client
    # shares one connection pool among them; the server answers only once 12 requests are
    # in, so anything that serialised them (a pool of num_cpus + 4, a lock) shows as less.
    with ChatServer(gate=12) as server:
        backend = BackendConfig(backend="openai", base_url=server.base_url, model="m")
        app, handle = start_analyst(backend, AnalystConfig(), ReplicaConfig(num_replicas=1, num_cpus=0, max_ongoing_requests=12))
        try:
            trajectories = [make_trajectory(f"t{i}", i % 2 == 0, ["search_direct_flight"]) for i in range(12)]
            pending = [handle.analyze.remote(t.model_dump_json(), SKILL) for t in trajectories]
            results = [AnalysisResult.model_validate_json(r.result(timeout_s=120)) for r in pending]
        finally:
            serve.delete(app)
    assert [r.status for r in results] == ["analyzed"] * 12
    assert server.peak_in_flight == 12
