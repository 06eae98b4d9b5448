"""What a Ray worker imports with the function it runs: its stage, not the whole run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

WORKER_MODULES = ["trace2skill.pipeline.read", "trace2skill.pipeline.pair", "trace2skill.pipeline.analyze", "trace2skill.pipeline.consolidate", "trace2skill.outputs"]


@pytest.mark.parametrize("module", WORKER_MODULES)
def test_a_stage_worker_imports_its_stage_not_the_whole_run(module):
    """A Ray worker imports the module of the function it runs. Through the package's
    ``__init__`` each one imported ``pipeline.run`` (the report, the evaluation: polars,
    matplotlib, scipy.stats): ~180 MB more in every worker process (docs/performance.md)."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout))
    assert not loaded & {"trace2skill.pipeline.run", "trace2skill.report", "trace2skill.evaluate.stats", "polars", "matplotlib"}


def test_the_packages_still_give_their_names():
    import trace2skill.evaluate as evaluate
    import trace2skill.pipeline as pipeline
    from trace2skill.evaluate import plan, runner, summary
    from trace2skill.pipeline import run

    assert (pipeline.distill, pipeline.ingest, pipeline.ray_session) == (run.distill, run.ingest, run.ray_session)
    given = {name: getattr(evaluate, name) for name in evaluate.__all__}
    assert given == {name: getattr(module, name) for module in (plan, runner, summary) for name in evaluate.__all__ if hasattr(module, name)}
    for package in (pipeline, evaluate):
        with pytest.raises(AttributeError):
            package.no_such_thing  # noqa: B018
