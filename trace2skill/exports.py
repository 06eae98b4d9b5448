"""A package's names imported from its modules when first asked for, not when it is imported.

A Ray worker imports the module of the function it runs, and with it the packages above it:
a package ``__init__`` that imported its modules up front brought the whole run into every
worker (the report, the evaluation: polars, matplotlib, scipy.stats; ~180 MB a process,
docs/performance.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each of ``names`` (name -> the module that
    defines it) is imported from its module on first use."""

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
