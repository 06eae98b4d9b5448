"""The layout's rules (docs/architecture.md), checked over the package's source.

Each room (a subpackage, or a foundation module at the package root) may import only the
rooms listed for it: the graph is acyclic by construction, every room imports only what
sits below it, and a Ray worker that imports a stage imports nothing above that stage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "trace2skill"
FOUNDATION = {"__init__", "schema", "prompting", "parts", "command"}  # the version, the data models, prompt files, part files, user command templates
# What each room may import, besides itself and the foundation modules below it.
ALLOWED: dict[str, set[str]] = {
    "schema": set(),
    "prompting": set(),
    "parts": {"schema"},
    "command": set(),
    "llm": set(),
    "redact": set(),
    "skill": set(),
    "ingest": {"redact"},
    "safety": {"skill", "llm"},
    "analysts": {"llm", "skill"},
    "consolidate": {"llm", "skill", "safety", "analysts"},
    "serve": {"llm", "skill", "safety", "analysts", "consolidate", "library"},
    "run": {"llm", "redact", "skill", "ingest", "safety", "analysts", "consolidate", "serve.config", "library"},
    "report": {"llm", "skill", "ingest", "safety", "analysts", "consolidate", "run", "library"},
    "evaluate": {"llm", "redact", "skill", "ingest", "safety", "analysts", "report", "run"},
    "library": {"llm", "skill", "analysts", "consolidate"},
    "pipeline": {"llm", "redact", "skill", "ingest", "safety", "analysts", "consolidate", "serve", "run", "report", "evaluate", "library"},
    "cli": {"llm", "redact", "skill", "ingest", "safety", "analysts", "consolidate", "serve", "run", "report", "evaluate", "pipeline", "library"},
    "__init__": set(),
}
RAY_ROOMS = {"pipeline", "serve"}
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _room(path: Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, at its top or inside a function, with the line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _target(name: str) -> str | None:
    """The room an imported name lives in (``serve.config`` for the one module of ``serve``
    that other rooms may hold), or None for a name outside the package."""
    parts = name.split(".")
    if parts[0] != "trace2skill" or len(parts) < 2:
        return None
    if parts[1:3] == ["serve", "config"]:
        return "serve.config"
    return "__init__" if parts[1] == "__version__" else parts[1]


def _allowed(room: str) -> set[str]:
    rooms = {room} | ALLOWED[room] | (set() if room in FOUNDATION else FOUNDATION)
    return rooms | ({"serve.config"} if "serve" in rooms else set())


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_the_rooms_below_it(path: Path) -> None:
    room = _room(path)
    bad = [f"line {line}: {name}" for line, name in _imports(path) if _target(name) not in {None} | _allowed(room)]
    assert not bad, f"{room} may import {sorted(_allowed(room))} only"


def test_the_allowed_rooms_form_no_cycle() -> None:
    graph = {room: {t.split(".")[0] for t in _allowed(room)} - {room} for room in ALLOWED}
    done: set[str] = set()

    def visit(room: str, path: tuple[str, ...]) -> None:
        assert room not in path, f"cycle: {' -> '.join((*path, room))}"
        if room in done:
            return
        for target in graph.get(room, ()):
            visit(target, (*path, room))
        done.add(room)

    for room in graph:
        visit(room, ())


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_pipeline_and_serve_import_ray(path: Path) -> None:
    rays = [line for line, name in _imports(path) if name == "ray" or name.startswith("ray.")]
    assert not rays or _room(path) in RAY_ROOMS, f"imports ray at line(s) {rays}"
    if path.relative_to(PACKAGE).as_posix() == "serve/config.py":
        assert not rays, "serve/config.py is imported by the run options: it must not bring Ray"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_the_size_limit_or_resolves_names_lazily(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assert len(path.read_text().splitlines()) <= MAX_LINES
    assert not [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.Assign)) and _defines_getattr(n)], "module-level __getattr__"
    if _room(path) != "cli":  # the CLI defers its imports so that `--help` answers at once
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"], "a type-only import hides a loop"


def _defines_getattr(node: ast.stmt) -> bool:
    if isinstance(node, ast.FunctionDef):
        return node.name == "__getattr__"
    return any(isinstance(t, ast.Name) and t.id == "__getattr__" for t in node.targets)
