"""What a Ray worker imports with the function it runs: its stage, not the whole run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

WORKER_MODULES = ["trace2skill.pipeline.read", "trace2skill.pipeline.pair", "trace2skill.pipeline.analyze", "trace2skill.pipeline.consolidate", "trace2skill.pipeline.units", "trace2skill.run.outputs"]


@pytest.mark.parametrize("module", WORKER_MODULES)
def test_a_stage_worker_imports_its_stage_not_the_whole_run(module):
    """A Ray worker imports the module of the function it runs. Through the package's
    ``__init__`` each one imported ``pipeline.run`` (the report, the evaluation: polars,
    matplotlib, scipy.stats): ~180 MB more in every worker process (docs/performance.md)."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout))
    assert not loaded & {"trace2skill.pipeline.run", "trace2skill.report", "trace2skill.evaluate.stats", "polars", "matplotlib"}

