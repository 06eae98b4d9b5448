"""Pipeline recipes: YAML files of run options, validated by ``RunOptions``; CLI flags override them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

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
        raise RecipeError(f"recipe {path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
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
