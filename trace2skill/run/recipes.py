"""Pipeline recipes: YAML files of run options, validated by ``RunOptions``; CLI flags override them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from trace2skill.llm.config import backend_name, retarget
from trace2skill.run.options import RunOptions


class RecipeError(ValueError):
    """A recipe file that cannot be used, with the reason."""


def load_recipe(path: Path) -> dict[str, Any]:
    """The options set in the recipe at ``path`` (validated; unset options stay unset)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"recipe {path} must be a mapping of options")
    try:
        RunOptions.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise RecipeError(f"recipe {path}: {where + ': ' if where else ''}{first['msg']}") from None
    return data


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
