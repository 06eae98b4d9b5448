"""Where every benchmark's result goes: a JSON file beside the table it printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def save_result(result: Any, out: str | Path) -> Path:
    """Write ``result`` as indented JSON to ``out`` (folders made) and say where."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {path}")
    return path
