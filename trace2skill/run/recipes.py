"""Pipeline recipes: YAML files of run options, validated by ``RunOptions``; CLI flags override them.
The recipes that ship with trace2skill (``trace2skill/recipes/*.yaml``) are named by their stem:
``--recipe demo``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from trace2skill.llm.config import ENGINE_CONFIGS, backend_name, retarget
from trace2skill.run.options import RunOptions
from trace2skill.run.suggest import did_you_mean


# Required options a CLI flag also sets, for the message that says one is missing.
FLAGS = {"base_url": "--base-url", "model": "--model"}


class RecipeError(ValueError):
    """A recipe file that cannot be used, with the reason."""


def packaged_recipes() -> dict[str, Path]:
    """The recipes installed with trace2skill, by name (the file's stem)."""
    folder = Path(str(resources.files("trace2skill") / "recipes"))
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def recipe_summary(path: Path) -> str:
    """What a recipe is for: the first sentence of its leading comment."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("# "):  # the comment ends (or its indented usage example begins)
            break
        words.append(line[2:].strip())
    return " ".join(words).split(". ")[0].removesuffix(".")


def recipe_path(recipe: str | Path) -> Path:
    """The file ``recipe`` names: a path to a YAML file, or the name of a packaged recipe."""
    path = Path(recipe)
    if path.is_file():
        return path
    known = packaged_recipes()
    if str(recipe) in known:
        return known[str(recipe)]
    hint = did_you_mean(path.stem, known) if path.suffix in ("", ".yaml", ".yml") else ""
    raise RecipeError(f"recipe not found: {recipe} (neither a file nor one of {', '.join(known)}{hint}; see `trace2skill recipes`)")


def load_recipe(recipe: str | Path) -> dict[str, Any]:
    """The options set in the recipe ``recipe`` (a file or a packaged recipe's name), validated;
    unset options stay unset."""
    path = recipe_path(recipe)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"recipe {path} must be a mapping of options")
    try:
        RunOptions.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(f"recipe {path}: {option_error(exc)}") from None
    return data


def option_error(exc: ValidationError) -> str:
    """The first error of validating run options, as one line: where, what, and for a key no
    section has, the closest key it does have."""
    first = exc.errors()[0]
    loc = tuple(map(str, first["loc"]))
    where = ".".join(loc)
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown option{did_you_mean(loc[-1], _keys(loc[:-1]))}"
    if first["type"] == "missing" and loc[-1] in FLAGS:
        return f"{where} is required: give {FLAGS[loc[-1]]} or set it in the recipe's {'.'.join(loc[:1])} section"
    return f"{where + ': ' if where else ''}{first['msg']}"


def _keys(section: tuple[str, ...]) -> list[str]:
    """The option keys of the section at ``section`` (``backend.openai`` is the openai engine's)."""
    model: type[BaseModel] | None = RunOptions
    for name in section:
        if model is None and name in ENGINE_CONFIGS:  # the backend section's engine
            model = ENGINE_CONFIGS[name]
            continue
        field = model.model_fields.get(name) if model else None
        annotation = field.annotation if field else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return list(model.model_fields) if model else []


def overlay(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` on top; nested mappings merge key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


def with_flags(recipe: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """``recipe`` with the options set by CLI ``flags`` on top. A flag that names another engine
    than the recipe's keeps the recipe's backend fields that engine has (context window,
    sampling) and drops the others' (an openai recipe's base_url under ``--backend fake``)."""
    name = flags.get("backend", {}).get("backend")
    section = recipe.get("backend")
    if name and isinstance(section, dict) and backend_name(section) != name:
        recipe = {**recipe, "backend": retarget(section, name)}
    return overlay(recipe, flags)
