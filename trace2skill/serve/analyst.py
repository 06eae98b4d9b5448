"""The ``Analyst`` Ray Serve deployment: hosts one LLM backend and runs analyst and merge calls next to it."""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import ray
from pydantic import TypeAdapter
from ray import serve
from ray.serve import Application, RunTarget
from ray.serve.handle import DeploymentHandle

from trace2skill.analysts.analyze import AnalystConfig
from trace2skill.analysts.batch import analyze_rows
from trace2skill.analysts.check import (
    Checker,
    CheckerConfig,
    CheckVerdict,
    check_in_scratch,
)
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.draft import draft_skill
from trace2skill.analysts.models import AnalysisResult, engine_schema
from trace2skill.consolidate.anchors import restate
from trace2skill.consolidate.fix import fix_patch
from trace2skill.consolidate.merge import merge_patches
from trace2skill.consolidate.models import MergeResult, Proposal, merge_schema_for
from trace2skill.consolidate.restate_instance import restate_instance
from trace2skill.library.describe import describe_skill
from trace2skill.llm.base import LLMError
from trace2skill.llm.config import EngineConfig, SamplingConfig, VllmConfig, for_replica
from trace2skill.llm.factory import make_llm
from trace2skill.llm.served_context import with_served_context
from trace2skill.safety.model_review import ask_model
from trace2skill.schema import Edit, Patch
from trace2skill.serve.config import ReplicaConfig
from trace2skill.skill.anchors import Restatement

CHECK_SCHEDULING_S = 300.0  # how long a check may wait for a CPU before it counts as failed
STATUS_POLL_S = 0.1  # between looks at a deploying application's status (serve.run waits 1 s between them)


def ray_checker(config: CheckerConfig) -> Checker | None:
    """The agentic analyst's checker (``analyst.checker.command``) as a Ray task per check:
    off the replica's CPUs, on any node, in a scratch folder of its own; None without a command."""
    if not config.command:
        return None
    command, timeout_s = config.command, config.timeout_s
    task = ray.remote(num_cpus=1, max_retries=0)(check_in_scratch)

    def check(task_object: dict, proposal: str) -> CheckVerdict:
        # The task's own timeout kills the checker; the margin covers scheduling the task.
        ref = task.remote(command, task_object, proposal, timeout_s)
        try:
            return ray.get(ref, timeout=timeout_s + CHECK_SCHEDULING_S)
        except ray.exceptions.GetTimeoutError:
            ray.cancel(ref)  # not force: the task's interruption kills the checker's process group
            return CheckVerdict(passed=False, detail=f"checker error: no verdict within {timeout_s + CHECK_SCHEDULING_S:g} s (not scheduled in time)")

    return check


@serve.deployment
class Analyst:
    """One loaded model per replica; the prompt logic runs here so token counting stays local."""

    def __init__(self, backend: dict, analyst: dict, max_ongoing_requests: int = 8):
        # openai/vllm: the context window the server reports for the model, else the recipe's
        engine = with_served_context(TypeAdapter(EngineConfig).validate_python(backend))
        self.llm = make_llm(engine)
        # The answers' room (limits) follows the backend unless the recipe sets it; the context window is the engine's.
        self.config = AnalystConfig.model_validate(analyst).for_backend(engine)
        # Analyses of all the batches this replica holds, at most max_ongoing_requests at once:
        # the same bound as a request per trajectory had (an embedded engine's lock still
        # serializes its calls).
        self.pool = ThreadPoolExecutor(max_workers=max_ongoing_requests, thread_name_prefix="analysis")
        self.checker = ray_checker(self.config.checker)

    def analyze_batch(self, rows: pa.Table, skill: SkillContext) -> list[AnalysisResult]:
        """The analyses of a batch of ``trajectories.parquet`` rows (with their ``pairing``
        column, if any), run concurrently, one engine request each, in row order; a row whose
        analysis raises is that row's ``failed`` result (``analysts.batch``)."""
        return analyze_rows(rows.to_pylist(), skill, self.llm, self.config, self.pool, self.checker)

    def draft(self, name: str, tasks: list[str]) -> str:
        skill, usage, note = draft_skill(name, tasks, self.llm, max_tokens=self.config.max_output_tokens)
        return json.dumps({"skill": skill.model_dump(), "usage": usage.model_dump(), "note": note})

    def describe(self, name: str, current: str, tasks: list[str]) -> str:
        """A library skill's description rewritten from the tasks routed to it (``library.describe``)."""
        description, usage, note = describe_skill(current, name, tasks, self.llm, max_tokens=self.config.max_output_tokens)
        return json.dumps({"description": description, "usage": usage.model_dump(), "note": note})

    def merge(self, patches_json: list[str], skill_view: str) -> str:
        patches = [Proposal.model_validate_json(p) for p in patches_json]
        # The answer's room follows the inputs, bounded by what the context leaves after the prompt.
        schema = merge_schema_for(self._merge_schema(skill_view), patches)
        outcome = merge_patches(patches, skill_view, self.llm, retries=self.config.retries, schema=schema, context_tokens=self.config.context_tokens)
        return outcome.model_dump_json()

    def _merge_schema(self, skill_view: str) -> dict:
        # The run's room per backend, and edits of existing SKILL.md sections narrowed to the
        # titles of the skill being merged into (a small model otherwise invents sections).
        return engine_schema(MergeResult, self.config.output_limits(), skill_view)

    def restate(self, restatement_json: str) -> str:
        restated, usage = restate(Restatement.model_validate_json(restatement_json), self.llm, retries=self.config.retries)
        return json.dumps({"text": restated, "usage": usage.model_dump()})

    def restate_instance(self, edit_json: str, values: list[str]) -> str:
        """The instance-detail guard's restatement of one edit (``consolidate.restate_instance``):
        ``{"edit", "usage"}``, the edit null when the bounded call gave no valid answer."""
        restated, usage = restate_instance(Edit.model_validate_json(edit_json), values, self.llm, max_tokens=self.config.max_output_tokens, retries=self.config.retries)
        return json.dumps({"edit": restated.model_dump() if restated else None, "usage": usage.model_dump()})

    def model_verdict(self, s0_text: str, edit_json: str) -> str:
        """The safety model reviewer's verdict on one edit (``safety.model_review.ask_model``):
        ``{"verdict", "usage", "error"}``, the verdict null and the reason in ``error`` when
        the bounded retry gave none."""
        try:
            verdict, usage = ask_model(self.llm, s0_text, Edit.model_validate_json(edit_json))
        except LLMError as exc:
            return json.dumps({"verdict": None, "usage": exc.usage.model_dump(), "error": str(exc)})
        return json.dumps({"verdict": verdict.model_dump(), "usage": usage.model_dump(), "error": ""})

    def fix(self, patch_json: str, problems: list[str], skill_view: str) -> str:
        patch = Patch.model_validate_json(patch_json)
        outcome = fix_patch(patch, problems, skill_view, self.llm, retries=self.config.retries, schema=self._merge_schema(skill_view), context_tokens=self.config.context_tokens)
        return outcome.model_dump_json()


def app_name(backend: SamplingConfig, analyst: AnalystConfig, replicas: ReplicaConfig) -> str:
    """One Serve application per configuration, so runs with equal settings share it."""
    key = json.dumps([backend.model_dump(), analyst.model_dump(), replicas.model_dump()], sort_keys=True)
    return "trace2skill-analyst-" + hashlib.sha256(key.encode()).hexdigest()[:10]


def analyst_app(backend: SamplingConfig, analyst: AnalystConfig, replicas: ReplicaConfig) -> Application:
    """The ``Analyst`` deployment with its replica options, bound to ``backend`` (as replicas reach it)."""
    # The embedded engine computes on the replica's own CPU; remote engines only wait on HTTP.
    num_cpus = replicas.num_cpus if replicas.num_cpus is not None else (1.0 if backend.backend == "embedded" else 0.0)
    options: dict[str, Any] = {
        "max_ongoing_requests": replicas.max_ongoing_requests,
        "ray_actor_options": {"num_cpus": num_cpus, "num_gpus": replicas.num_gpus, "resources": replicas.resources},
    }
    if replicas.autoscaling:
        options["autoscaling_config"] = replicas.autoscaling
    else:
        options["num_replicas"] = replicas.num_replicas
    return Analyst.options(**options).bind(for_replica(backend).model_dump(), analyst.model_dump(), replicas.max_ongoing_requests)


def start_analyst(backend: SamplingConfig, analyst: AnalystConfig, replicas: ReplicaConfig, *, existing: str | None = None, wait: bool = True) -> tuple[str, DeploymentHandle]:
    """The analyst app's name and a handle to it, deploying it (HTTP proxy off) if it is not
    running. With ``existing``, use that running application (e.g. a RayService's) instead.
    With ``wait`` False, the handle comes back once the deployment is created, while its
    replicas still start (the caller does other work meanwhile); ``wait_running`` waits for them."""
    serve.start(proxy_location="Disabled")
    if existing is not None:
        status = serve.status().applications.get(existing)
        if status is None or status.status != "RUNNING":
            raise ValueError(f"analyst_app {existing!r} is not a running Serve application on this cluster")
        return existing, serve.get_app_handle(existing)
    name = app_name(backend, analyst, replicas)
    if isinstance(backend, VllmConfig):
        from trace2skill.serve.vllm_app import deploy_vllm

        deploy_vllm(backend.vllm)
    if name in serve.status().applications and serve.status().applications[name].status == "RUNNING":
        return name, serve.get_app_handle(name)
    app = analyst_app(backend, analyst, replicas)
    if wait:
        return name, serve.run(app, name=name, route_prefix=None)
    return name, serve.run_many([RunTarget(app, name=name, route_prefix=None)], wait_for_applications_running=False)[0]


def wait_running(name: str) -> None:
    """Return once the Serve application ``name`` is running; raise, as ``serve.run`` does,
    if its deployment failed (a replica's constructor raised: its error is in the message)
    or it does not exist."""
    while True:
        status = serve.status().applications.get(name)
        if status is None:
            raise RuntimeError(f"Waiting for application {name} to be RUNNING, but application doesn't exist.")
        if status.status == "RUNNING":
            return
        if status.status == "DEPLOY_FAILED":  # a deployment's message ends with its replica's error, the line a user needs
            errors = [d.message.strip().splitlines()[-1] for d in status.deployments.values() if d.message.strip()]
            raise RuntimeError(f"Deploying application {name} failed: {'; '.join(errors) or status.message}")
        time.sleep(STATUS_POLL_S)
