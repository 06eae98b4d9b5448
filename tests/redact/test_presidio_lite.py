"""Presidio loads without the model stacks it does not use, and hides nothing afterwards."""

import subprocess
import sys

_PROBE = """
import sys
import trace2skill.redact.personal as personal
loaded = [m for m in ("torch", "transformers") if m in sys.modules]
assert personal.redact_personal_text("write to jane.doe@example.com") == "write to <EMAIL_ADDRESS_1>"
import torch  # importable as before: only hidden while Presidio loaded
print(loaded, torch.__name__)
"""


def test_presidio_loads_without_torch_or_transformers_and_leaves_them_importable() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "[] torch"


def test_a_model_stack_already_loaded_stays() -> None:
    probe = "import sys, torch\nimport trace2skill.redact.presidio_lite\nprint(sys.modules['torch'] is torch)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "True"
