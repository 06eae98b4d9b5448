"""The quickstart notebook runs top to bottom on the real embedded model.

The notebook runs in its own kernel process, which starts and stops its own local Ray
(``distill`` and ``ingest`` do when none is running there); the executed copy stays in
memory, the committed file keeps no outputs.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import ROOT

NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"


def test_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.embedded
def test_quickstart_notebook_runs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # Executed from notebooks/, as a user opening it in Jupyter would; any cell error raises.
    # The distill cell takes a few minutes on 2 free cores; the timeout allows a busy machine.
    NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert re.search(r"^trajectories read +3$", text, re.MULTILINE)  # distill's summary table: limit=3 honoured
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 6  # the report's charts and the evaluation's
    assert re.search(r"^candidate-2 .* PROMOTED ", text, re.MULTILINE)  # the gate promoted the helpful skill
    assert "name: airline-support" in text  # the skill's SKILL.md was printed
    # The library section: the mixed pool read whole, each of its three families a valid skill of its own.
    assert re.search(r"^read 36, quarantined 0, unrouted 0; k=3 ", text, re.MULTILINE)
    assert len(re.findall(r"^\S+ +created +\d+ .* yes$", text, re.MULTILINE)) == 3
