"""The analyst as a Ray Serve application built from a config file (``serve run``, KubeRay RayService).

A distill run deploys its analyst itself (``serve.analyst.start_analyst``). A long-lived
cluster can instead declare it in a Serve config (a RayService's ``serveConfigV2``)::

    applications:
      - name: trace2skill-analyst
        import_path: trace2skill.serve.app:build_app
        route_prefix: null                       # reached through handles, never over HTTP
        args: {backend: {...}, analyst: {...}, replicas: {...}}

A distill job on that cluster whose recipe says ``analyst_app: trace2skill-analyst``
sends its calls there instead of deploying its own analysts.
"""

# No ``from __future__ import annotations`` here: Serve converts the builder's args to
# its pydantic model only when the parameter's annotation is the class itself, not a string.

from pydantic import BaseModel, ConfigDict, Field
from ray.serve import Application

from trace2skill.analysts.analyze import AnalystConfig
from trace2skill.llm.config import EngineConfig
from trace2skill.serve.analyst import analyst_app
from trace2skill.serve.config import ReplicaConfig


class AnalystAppArgs(BaseModel):
    """The ``args`` of the application: the ``backend``, ``analyst`` and ``replicas`` sections of a recipe."""

    model_config = ConfigDict(extra="forbid")

    backend: EngineConfig = Field(description="The engine the replicas call (not vllm: see build_app).")
    analyst: AnalystConfig = Field(default_factory=AnalystConfig, description="Prompt budget and retries.")
    replicas: ReplicaConfig = Field(default_factory=ReplicaConfig, description="Replica count or autoscaling, and what each reserves.")


def build_app(args: AnalystAppArgs) -> Application:
    """Serve application builder: the ``Analyst`` deployment bound to the given sections.

    The vllm backend is refused: ``start_analyst`` deploys its engine with ``serve.run``,
    which a builder cannot do. Declare the engine as its own application
    (``ray.serve.llm:build_openai_app``) and give the analysts an ``openai`` backend
    pointing at its route, as ``deploy/rayservice.yaml`` does.
    """
    if args.backend.backend == "vllm":
        raise ValueError(
            "build_app cannot deploy a vLLM engine: serve it as its own application "
            "(ray.serve.llm:build_openai_app) and use an openai backend at its route"
        )
    return analyst_app(args.backend, args.analyst, args.replicas)
