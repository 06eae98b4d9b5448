"""The vllm backend's configuration path, without a GPU; the deployment itself needs one."""

from pathlib import Path

import pytest

from pydantic import ValidationError

from trace2skill.llm.config import VllmConfig, VllmEngine
from trace2skill.llm.factory import make_llm
from trace2skill.run.options import DistillConfig
from trace2skill.run.recipes import load_recipe
from trace2skill.serve.vllm_app import llm_config_kwargs

ROOT = Path(__file__).resolve().parent.parent


def recipe_backend(name: str) -> VllmConfig:
    settings = load_recipe(ROOT / "pipelines" / name)
    return DistillConfig.model_validate({**settings, "inputs": ["x"], "out_dir": "o"}).backend


def test_cluster_recipe_builds_llm_config_with_autoscaling_and_prefix_caching():
    kwargs = llm_config_kwargs(recipe_backend("vllm-cluster.yaml").vllm)
    assert kwargs["model_loading_config"] == {"model_id": "Qwen/Qwen2.5-32B-Instruct", "model_source": "Qwen/Qwen2.5-32B-Instruct"}
    assert kwargs["engine_kwargs"]["enable_prefix_caching"] is True
    assert kwargs["engine_kwargs"]["tensor_parallel_size"] == 2
    assert kwargs["deployment_config"]["autoscaling_config"] == {"min_replicas": 1, "max_replicas": 8, "target_ongoing_requests": 64}
    assert kwargs["accelerator_type"] == "H100"


def test_replicas_reach_vllm_through_the_openai_client():
    backend = recipe_backend("vllm-1gpu.yaml")
    replica = backend.for_replica()
    assert replica.backend == "openai"
    assert replica.base_url == "http://127.0.0.1:8000/trace2skill-llm/v1"
    assert replica.model == "Qwen/Qwen2.5-7B-Instruct"
    assert make_llm(replica).model == "Qwen/Qwen2.5-7B-Instruct"


def test_vllm_backend_without_its_section_is_a_clear_error():
    with pytest.raises(ValidationError, match="vllm\n  Field required"):
        VllmConfig()
    with pytest.raises(ValueError, match="deployed by the pipeline"):
        make_llm(VllmConfig(vllm=VllmEngine(model_source="m")))


@pytest.mark.gpu
def test_deploy_on_a_gpu(ray_session):
    pytest.importorskip("vllm", reason="needs trace2skill[vllm] on a GPU machine")
    from trace2skill.serve.vllm_app import deploy_vllm

    url = deploy_vllm(VllmEngine(model_source="Qwen/Qwen2.5-0.5B-Instruct", engine_kwargs={"max_model_len": 4096}))
    assert url.endswith("/v1")
