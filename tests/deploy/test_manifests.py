"""cluster.yaml and deploy/: valid for the tools that read them, and consistent with the recipes.

Offline, so each file is checked against what ships with our dependencies: the cluster
launcher's JSON schema inside the ray package, Ray Serve's config schema, and the
Kubernetes core schemas of kubernetes-validate for the pod templates and the volume
claim. KubeRay's CRD schemas ship with neither, so the RayJob and RayService fields are
checked against the field names of KubeRay's ray.io/v1 API reference.
"""

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import ray
import yaml
from ray.serve.schema import ServeDeploySchema

from trace2skill.run.options import RunOptions
from trace2skill.run.recipes import load_recipe
from trace2skill.serve.vllm_app import llm_config_kwargs

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
IMAGE_REPO_DIR = "/home/ray/trace2skill/"  # where deploy/Dockerfile puts the checkout
K8S_VERSION = "1.31"  # oldest Kubernetes the manifests are written for
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# Field names of KubeRay's ray.io/v1 API (https://ray-project.github.io/kuberay/reference/api/).
RAYJOB_SPEC = {
    "activeDeadlineSeconds", "backoffLimit", "clusterSelector", "deletionStrategy", "entrypoint",
    "entrypointNumCpus", "entrypointNumGpus", "entrypointResources", "jobId", "managedBy", "metadata",
    "rayClusterSpec", "runtimeEnvYAML", "shutdownAfterJobFinishes", "submissionMode", "submitterConfig",
    "submitterPodTemplate", "suspend", "ttlSecondsAfterFinished",
}
RAYSERVICE_SPEC = {
    "serveConfigV2", "rayClusterConfig", "upgradeStrategy", "serveService", "excludeHeadPodFromServeSvc",
    "rayClusterDeletionDelaySeconds", "serviceUnhealthySecondThreshold", "deploymentUnhealthySecondThreshold",
}
RAYCLUSTER_SPEC = {
    "authOptions", "autoscalerOptions", "enableInTreeAutoscaling", "gcsFaultToleranceOptions", "headGroupSpec",
    "headServiceAnnotations", "managedBy", "rayVersion", "suspend", "upgradeStrategy", "workerGroupSpecs",
}
HEAD_GROUP = {"enableIngress", "headService", "labels", "rayStartParams", "resources", "serviceType", "template"}
WORKER_GROUP = {
    "groupName", "idleTimeoutSeconds", "labels", "maxReplicas", "minReplicas", "numOfHosts", "rayStartParams",
    "replicas", "resources", "scaleStrategy", "suspend", "template",
}
AUTOSCALER_OPTIONS = {
    "env", "envFrom", "idleTimeoutSeconds", "image", "imagePullPolicy", "resources", "securityContext",
    "upscalingMode", "version", "volumeMounts",
}


def read_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def recipe(path: Path) -> RunOptions:
    return RunOptions.model_validate(load_recipe(path))


def cluster_spec(resource: dict) -> dict:
    """The RayClusterSpec inside a RayJob or a RayService."""
    return resource["spec"]["rayClusterSpec" if resource["kind"] == "RayJob" else "rayClusterConfig"]


def unknown(fields: dict, known: set[str]) -> set[str]:
    return set(fields) - known


def ray_image_version(image: str) -> str:
    """The Ray version of a rayproject/ray image tag, e.g. 2.60.0 of rayproject/ray:2.60.0-py311-gpu."""
    match = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)(-.*)?", image)
    assert match, f"not a rayproject/ray image with a version tag: {image}"
    return match.group(1)


@pytest.fixture(scope="module")
def launcher() -> dict:
    return read_yaml(ROOT / "cluster.yaml")


@pytest.fixture(scope="module")
def ray_resources() -> list[dict]:
    """The RayJob and the RayService."""
    return [read_yaml(DEPLOY / "rayjob.yaml"), read_yaml(DEPLOY / "rayservice.yaml")]


@pytest.fixture(scope="module")
def serve_config(ray_resources) -> ServeDeploySchema:
    service = next(r for r in ray_resources if r["kind"] == "RayService")
    return ServeDeploySchema.model_validate(yaml.safe_load(service["spec"]["serveConfigV2"]))


# --- cluster.yaml (Ray cluster launcher) ---------------------------------------------


def test_cluster_yaml_follows_the_launcher_schema_shipped_with_ray(launcher):
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(launcher), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors)


def test_cluster_yaml_head_does_no_work_and_gpu_workers_fit_the_cluster_recipe(launcher):
    types = launcher["available_node_types"]
    head = types[launcher["head_node_type"]]
    assert head["resources"].get("CPU") == 0 and not head["resources"].get("GPU")
    workers = {name: t for name, t in types.items() if name != launcher["head_node_type"]}
    assert workers
    for name, node_type in workers.items():
        assert 0 <= node_type["min_workers"] <= node_type["max_workers"], name
    assert sum(t["max_workers"] for t in workers.values()) <= launcher["max_workers"]

    engine = recipe(ROOT / "pipelines" / "vllm-cluster.yaml").backend.vllm
    gpu_types = [t for t in workers.values() if t["resources"].get("GPU", 0) >= engine.tensor_parallel_size]
    assert gpu_types, "no worker type holds one engine replica (tensor_parallel_size GPUs)"
    max_engines = sum(t["max_workers"] * (t["resources"]["GPU"] // engine.tensor_parallel_size) for t in gpu_types)
    assert max_engines >= engine.max_replicas, f"GPU workers hold {max_engines} engine replicas, the recipe scales to {engine.max_replicas}"
    assert any(t["min_workers"] >= 1 for t in gpu_types) or engine.min_replicas == 0


def test_cluster_yaml_installs_trace2skill_and_documents_the_submit_command(launcher):
    assert any("trace2skill[vllm]" in command for command in launcher["setup_commands"])
    assert ray_image_version(launcher["docker"]["image"]) == ray.__version__
    text = (ROOT / "cluster.yaml").read_text()
    for step in ("ray up cluster.yaml", "ray job submit --address", "--working-dir .", "--recipe pipelines/vllm-cluster.yaml"):
        assert step in text, f"the usage comment lacks {step!r}"
    assert (ROOT / "pipelines" / "vllm-cluster.yaml").is_file()


# --- RayService serveConfigV2 (Ray Serve) ---------------------------------------------


def test_serve_config_routes_the_analysts_to_the_engine_of_the_cluster_recipe(serve_config):
    apps = {app.name: app for app in serve_config.applications}
    engine = recipe(ROOT / "pipelines" / "vllm-cluster.yaml").backend.vllm
    llm = apps["trace2skill-llm"]
    assert llm.import_path == "ray.serve.llm:build_openai_app"
    assert llm.route_prefix == engine.route_prefix
    assert llm.args == {"llm_configs": [llm_config_kwargs(engine)]}
    assert serve_config.proxy_location == "EveryNode"  # analysts call 127.0.0.1 on their own node
    assert serve_config.http_options.port == engine.http_port

    jobs = recipe(DEPLOY / "rayservice-recipe.yaml")
    assert jobs.backend.base_url == engine.base_url() and jobs.backend.model == engine.served_name


def test_analyst_app_imports_builds_and_is_named_as_jobs_look_it_up(serve_config):
    # Serve's own build path: import the builder, convert args to its pydantic model, call it.
    from ray._common.utils import import_attr
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
    from ray.serve._private.build_app import build_app as build_deployments

    from trace2skill.serve.app import AnalystAppArgs

    (app,) = [a for a in serve_config.applications if a.import_path == "trace2skill.serve.app:build_app"]
    assert app.route_prefix is None
    built = call_user_app_builder_with_args_if_necessary(import_attr(app.import_path), app.args)
    (deployment,) = build_deployments(built, name=app.name).deployments
    args = AnalystAppArgs.model_validate(app.args)
    assert deployment.name == "Analyst"
    assert deployment.ray_actor_options["num_cpus"] == args.replicas.num_cpus
    assert deployment.max_ongoing_requests == args.replicas.max_ongoing_requests
    assert deployment._deployment_config.autoscaling_config.max_replicas == args.replicas.autoscaling["max_replicas"]

    # A distill job with the service's recipe uses this application by name.
    jobs = recipe(DEPLOY / "rayservice-recipe.yaml")
    assert (jobs.backend, jobs.analyst, jobs.replicas) == (args.backend, args.analyst, args.replicas)
    assert app.name == jobs.analyst_app


def test_analyst_app_refuses_a_vllm_backend_it_cannot_deploy():
    from trace2skill.serve.app import AnalystAppArgs, build_app

    cluster = load_recipe(ROOT / "pipelines" / "vllm-cluster.yaml")
    with pytest.raises(ValueError, match="build_openai_app"):
        build_app(AnalystAppArgs.model_validate({k: cluster[k] for k in ("backend", "analyst", "replicas")}))


# --- deploy/ (Kubernetes) -------------------------------------------------------------


def validate_core(resource: dict) -> None:
    """Strict schema check of a core Kubernetes resource; the error names the offending path."""
    try:
        kubernetes_validate.validate(resource, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{resource['kind']} {'.'.join(map(str, exc.path))}: {exc.message}")


def pod_templates(resource: dict) -> dict[str, dict]:
    spec = cluster_spec(resource)
    templates = {"head": spec["headGroupSpec"]["template"]}
    templates |= {group["groupName"]: group["template"] for group in spec["workerGroupSpecs"]}
    return templates


def test_storage_claim_is_a_valid_shared_volume():
    claim = read_yaml(DEPLOY / "storage.yaml")
    validate_core(claim)
    assert claim["kind"] == "PersistentVolumeClaim" and claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_ray_resources_use_kuberay_v1_fields(ray_resources):
    required = {"RayJob": {"entrypoint", "rayClusterSpec"}, "RayService": {"serveConfigV2", "rayClusterConfig"}}
    known = {"RayJob": RAYJOB_SPEC, "RayService": RAYSERVICE_SPEC}
    for resource in ray_resources:
        kind = resource["kind"]
        assert resource["apiVersion"] == "ray.io/v1"
        assert set(resource) == {"apiVersion", "kind", "metadata", "spec"}
        assert DNS_1123.match(resource["metadata"]["name"])
        assert required[kind] <= set(resource["spec"]), kind
        assert not unknown(resource["spec"], known[kind]), kind
        spec = cluster_spec(resource)
        assert not unknown(spec, RAYCLUSTER_SPEC), kind
        assert not unknown(spec.get("autoscalerOptions", {}), AUTOSCALER_OPTIONS), kind
        assert not unknown(spec["headGroupSpec"], HEAD_GROUP) and "template" in spec["headGroupSpec"], kind
        for group in spec["workerGroupSpecs"]:
            assert not unknown(group, WORKER_GROUP), (kind, group["groupName"])
            assert DNS_1123.match(group["groupName"])
            assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"], (kind, group["groupName"])
        for params in [spec["headGroupSpec"]["rayStartParams"]] + [g["rayStartParams"] for g in spec["workerGroupSpecs"]]:
            assert all(isinstance(v, str) for v in params.values()), f"{kind}: rayStartParams values must be strings"


def test_pod_templates_are_valid_kubernetes_pod_templates(ray_resources):
    claim = read_yaml(DEPLOY / "storage.yaml")["metadata"]["name"]
    for resource in ray_resources:
        for group, template in pod_templates(resource).items():
            where = f"{resource['kind']} {group}"
            validate_core({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": group}, "template": template})
            claims = {v["persistentVolumeClaim"]["claimName"] for v in template["spec"]["volumes"] if "persistentVolumeClaim" in v}
            assert claims == {claim}, f"{where}: inputs and outputs live on the shared claim"
            (container,) = template["spec"]["containers"]  # the Ray container is the first and only one
            assert any(m["mountPath"] == "/data" for m in container["volumeMounts"]), where


def test_clusters_put_no_work_on_the_head_and_fit_the_engines(ray_resources):
    engine = recipe(ROOT / "pipelines" / "vllm-cluster.yaml").backend.vllm
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
    for resource in ray_resources:
        spec = cluster_spec(resource)
        kind = resource["kind"]
        assert spec["rayVersion"] == ray_image_version(base) == ray.__version__, kind
        assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0", kind
        head_limits = spec["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert "nvidia.com/gpu" not in head_limits, kind
        engines = 0
        for group in spec["workerGroupSpecs"]:
            gpus = int(group["template"]["spec"]["containers"][0]["resources"]["limits"].get("nvidia.com/gpu", 0))
            engines += group["maxReplicas"] * (gpus // engine.tensor_parallel_size)
            if gpus:
                declared = json.loads(json.loads(group["rayStartParams"]["resources"]))
                assert declared.get(f"accelerator_type:{engine.accelerator_type}") == 1, kind
        assert engines >= engine.max_replicas, f"{kind}: room for {engines} engine replicas, the recipe scales to {engine.max_replicas}"


def test_rayjob_entrypoint_runs_distill_with_a_shipped_recipe(ray_resources):
    job = next(r for r in ray_resources if r["kind"] == "RayJob")
    words = job["spec"]["entrypoint"].split()
    assert words[:2] == ["trace2skill", "distill"] and "--out" in words
    path = words[words.index("--recipe") + 1]
    assert path.startswith(IMAGE_REPO_DIR), "the recipe is read from the checkout inside the image"
    assert recipe(ROOT / path.removeprefix(IMAGE_REPO_DIR)).backend.backend == "vllm"


@pytest.mark.gpu
def test_llm_app_args_build_ray_serve_llm_configs(serve_config):
    pytest.importorskip("vllm")
    from ray.serve.llm import LLMConfig

    (llm,) = [a for a in serve_config.applications if a.name == "trace2skill-llm"]
    for config in llm.args["llm_configs"]:
        LLMConfig(**config)
