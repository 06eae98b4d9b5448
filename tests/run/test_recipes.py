from pathlib import Path

import pytest

from trace2skill.run.options import DistillConfig
from trace2skill.run.recipes import RecipeError, load_recipe, overlay

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "pipelines").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_recipe_validates(path):
    settings = load_recipe(path)
    cfg = DistillConfig.model_validate({**settings, "inputs": ["x"], "out_dir": "o"})
    assert cfg.backend.backend == settings["backend"]["backend"]


def test_flags_override_recipe_values_key_by_key():
    recipe = load_recipe(ROOT / "pipelines" / "local-cpu.yaml")
    merged = overlay(recipe, {"fan_in": 3, "backend": {"backend": "fake"}})
    cfg = DistillConfig.model_validate({**merged, "inputs": ["x"], "out_dir": "o"})
    assert cfg.fan_in == 3 and cfg.backend.backend == "fake"
    assert cfg.backend.threads == 2  # the rest of the recipe's backend section stays


def test_unknown_option_is_a_clear_error(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("fan_in: 8\nfanin: 3\n")
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
    limits = cfg.analyst.for_backend(cfg.backend.backend).output_limits()
    if long:
        assert limits.edit_chars >= 2000 and limits.lesson_chars >= 600 and limits.analysis
        assert cfg.backend.temperature and cfg.backend.temperature > 0
    else:
        assert (limits.lesson_chars, limits.edit_chars, limits.analysis) == (240, 300, False)
        assert cfg.backend.temperature == 0.0


def test_backend_defaults_apply_when_a_recipe_sets_no_limits():
    from trace2skill.analysts.analyze import AnalystConfig

    assert AnalystConfig().for_backend("embedded").output_limits().edit_chars == 300
    assert AnalystConfig().for_backend("vllm").output_limits().edit_chars == 2000
    assert AnalystConfig(limits={"edit_chars": 800}).for_backend("embedded").output_limits().edit_chars == 800  # the recipe wins
    with pytest.raises(ValueError):
        AnalystConfig(limits={"edit_chars": 100_000})  # over what the output models allow


def test_an_unset_output_cap_fits_the_long_limits():
    from trace2skill.analysts.analyze import LONG_OUTPUT_TOKENS, AnalystConfig

    assert AnalystConfig().for_backend("openai").max_output_tokens == LONG_OUTPUT_TOKENS
    assert AnalystConfig().for_backend("embedded").max_output_tokens == 1024
    assert AnalystConfig(max_output_tokens=2000).for_backend("openai").max_output_tokens == 2000  # the recipe's stays
