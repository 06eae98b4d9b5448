"""Fixtures of the evaluate tests: skills and tasks for the scripted toy runner."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "evaluate"
TOY_RUNNER = EXAMPLE / "toy_runner.py"
RUNNER = f"{sys.executable} {TOY_RUNNER} {{skill_dir}} {{task_file}} {{out_dir}} {{trial}}"
RULE = "always confirm the booking reference before changing a reservation"


def write_skill(root: Path, name: str, body: str) -> Path:
    """A skill folder ``root/name`` whose SKILL.md has ``body`` under one section."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: Airline support. Use for bookings.\n---\n\n# Airline support\n\n## Rules\n\n{body}\n")
    return folder


def write_tasks(path: Path, tasks: list[dict]) -> Path:
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return path


def toy_tasks(n_rule: int = 12, n_easy: int = 4) -> list[dict]:
    """``n_rule`` tasks that need the rule, ``n_easy`` that succeed anyway."""
    tasks = [{"id": f"rule-{i}", "question": f"Change flight {i}.", "rule": RULE} for i in range(n_rule)]
    tasks += [{"id": f"easy-{i}", "question": f"What time is flight {i}?", "easy": True} for i in range(n_easy)]
    return tasks


@pytest.fixture
def skills() -> dict[str, Path]:
    """The example's skills: baseline (no rule), helpful (the rule), cosmetic (baseline reworded, no rule)."""
    return {name: EXAMPLE / "skills" / name for name in ("baseline", "helpful", "cosmetic")}
