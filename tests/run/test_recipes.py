from pathlib import Path

import pytest

from trace2skill.llm.config import EmbeddedConfig, FakeConfig, VllmConfig
from trace2skill.run.options import DistillConfig, RunOptions
from trace2skill.run.recipes import RecipeError, load_recipe, with_flags

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "pipelines").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_recipe_validates(path):
    settings = load_recipe(path)
    cfg = DistillConfig.model_validate({**settings, "inputs": ["x"], "out_dir": "o"})
    assert cfg.backend.backend == settings["backend"]["backend"]


def test_flags_override_recipe_values_key_by_key():
    recipe = load_recipe(ROOT / "pipelines" / "local-cpu.yaml")
    merged = with_flags(recipe, {"consolidate": {"fan_in": 3}, "backend": {"temperature": 0.5}})
    cfg = DistillConfig.model_validate({**merged, "inputs": ["x"], "out_dir": "o"})
    assert cfg.consolidate.fan_in == 3 and cfg.backend.temperature == 0.5
    assert cfg.backend.threads == 2  # the rest of the recipe's backend section stays


def test_a_flag_naming_another_engine_keeps_the_fields_it_shares():
    recipe = load_recipe(ROOT / "pipelines" / "openai.yaml")
    cfg = RunOptions.model_validate(with_flags(recipe, {"backend": {"backend": "fake"}}))
    assert isinstance(cfg.backend, FakeConfig)
    assert (cfg.backend.context_tokens, cfg.backend.temperature) == (32768, 0.7)  # base_url, model, ... belong to openai


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("analyst:\n  context_tokens: 4096\n", "backend.context_tokens"),
        ("fan_in: 4\n", "consolidate.fan_in"),
        ("verifier:\n  unverified: drop\n", "analyst.checker.failed"),
    ],
)
def test_a_moved_option_names_its_new_place(tmp_path, text, where):
    old = tmp_path / "r.yaml"
    old.write_text(text)
    with pytest.raises(RecipeError, match=f"moved: set {where}"):
        load_recipe(old)


def test_unknown_option_is_a_clear_error(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("seed: 8\nfanin: 3\n")
    with pytest.raises(RecipeError, match="fanin"):
        load_recipe(bad)
    bad.write_text("- a list\n")
    with pytest.raises(RecipeError, match="mapping"):
        load_recipe(bad)


@pytest.mark.parametrize(
    ("name", "long"),
    [("local-cpu.yaml", False), ("openai.yaml", True), ("vllm-1gpu.yaml", True), ("vllm-cluster.yaml", True)],
)
def test_recipes_give_each_backend_its_room_and_sampling(name, long):
    cfg = DistillConfig.model_validate({**load_recipe(ROOT / "pipelines" / name), "inputs": ["x"], "out_dir": "o"})
    limits = cfg.analyst.for_backend(cfg.backend).output_limits()
    if long:
        assert limits.edit_chars >= 2000 and limits.lesson_chars >= 600 and limits.analysis
        assert cfg.backend.temperature and cfg.backend.temperature > 0
    else:
        assert (limits.lesson_chars, limits.edit_chars, limits.analysis) == (240, 300, False)
        assert cfg.backend.temperature == 0.0


def test_backend_defaults_apply_when_a_recipe_sets_no_limits():
    from trace2skill.analysts.analyze import AnalystConfig

    assert AnalystConfig().for_backend(EmbeddedConfig()).output_limits().edit_chars == 300
    assert AnalystConfig().for_backend(VllmConfig(vllm={"model_source": "m"})).output_limits().edit_chars == 2000
    assert AnalystConfig(limits={"edit_chars": 800}).for_backend(EmbeddedConfig()).output_limits().edit_chars == 800  # the recipe wins
    with pytest.raises(ValueError):
        AnalystConfig(limits={"edit_chars": 100_000})  # over what the output models allow


def test_an_unset_output_cap_fits_the_long_limits():
    from trace2skill.analysts.analyze import LONG_OUTPUT_TOKENS, AnalystConfig

    assert AnalystConfig().for_backend(FakeConfig()).max_output_tokens == LONG_OUTPUT_TOKENS
    assert AnalystConfig().for_backend(EmbeddedConfig()).max_output_tokens == 1024
    assert AnalystConfig(max_output_tokens=2000).for_backend(FakeConfig()).max_output_tokens == 2000  # the recipe's stays
