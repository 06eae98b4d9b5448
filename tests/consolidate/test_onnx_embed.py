"""The default embedder on a CPU: MiniLM as an int8 ONNX model, measured against the PyTorch fp32 model."""

from pathlib import Path

import numpy as np
import pytest

from trace2skill.consolidate import embed
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.embed import MiniLMEmbedder, OnnxMiniLMEmbedder, make_embedder
from trace2skill.consolidate.onnx_model import cache_dir, onnx_model

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = [
    "Ask for the user id and look it up before touching any booking.",
    "Confirm the exact details and price and wait for an explicit yes before a write action.",
    "Basic economy flights cannot be modified; offer a cancellation instead.",
    "Run the failing test before editing the source to see the actual error.",
    "Never edit the tests; fix the code under test.",
    "Check the reservation belongs to the user before cancelling it.",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh cache for this module: the export runs here once, then is reused."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TRACE2SKILL_CACHE", str(tmp_path_factory.mktemp("t2s-cache")))
    yield cache_dir()
    mp.undo()


@pytest.fixture(scope="module")
def loaded(cache):
    return OnnxMiniLMEmbedder(batch_size=4, threads=1)


@pytest.fixture
def onnx(loaded):
    """The module's embedder (the model loads once) with nothing remembered from other tests."""
    loaded.seen.clear()
    return loaded


@pytest.fixture(scope="module")
def torch_fp32():
    return MiniLMEmbedder(device="cpu")


def test_minilm_on_a_cpu_is_the_onnx_embedder_with_minilms_thresholds(cache):
    embedder = make_embedder("minilm", threads=1)
    assert isinstance(embedder, OnnxMiniLMEmbedder)
    assert isinstance(make_embedder("minilm", device="torch-cpu"), MiniLMEmbedder)
    assert (embedder.dedup_threshold, embedder.cluster_distance_threshold) == (MiniLMEmbedder.dedup_threshold, MiniLMEmbedder.cluster_distance_threshold)


def test_the_export_is_cached_once_under_a_key_of_model_and_versions(onnx, cache):
    exported = list(cache.glob("*.onnx"))
    assert [p.name for p in exported] == [onnx_model().name]
    assert not [p for p in cache.iterdir() if p.is_dir()]  # the temporary export folder is gone
    mtime = exported[0].stat().st_mtime_ns
    OnnxMiniLMEmbedder(threads=1)
    assert exported[0].stat().st_mtime_ns == mtime  # a second embedder reads it, no new export


def test_rows_are_384_wide_float32_unit_norm(onnx):
    x = onnx.embed(SENTENCES)
    assert x.shape == (len(SENTENCES), 384) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert onnx.embed([]).shape == (0, 384)


def test_identical_texts_are_embedded_once_and_get_the_same_row(onnx, monkeypatch):
    seen: list[list[str]] = []
    pooled = onnx._pooled
    monkeypatch.setattr(onnx, "_pooled", lambda texts: seen.append(texts) or pooled(texts))
    texts = [SENTENCES[0], SENTENCES[1], SENTENCES[0], SENTENCES[0], SENTENCES[1]]
    x = onnx.embed(texts)
    assert sorted(t for batch in seen for t in batch) == sorted(SENTENCES[:2])
    np.testing.assert_array_equal(x[0], x[2])
    np.testing.assert_array_equal(x[1], x[4])


def test_texts_met_in_an_earlier_call_are_not_embedded_again_and_the_oldest_are_forgotten(onnx, monkeypatch):
    monkeypatch.setattr(embed, "SEEN_TEXTS", 2)
    first = onnx.embed(SENTENCES[:3])
    assert list(onnx.seen) == sorted(SENTENCES[:3], key=len)[1:]  # embedded shortest first; the first one is forgotten
    embedded: list[list[str]] = []
    pooled = onnx._pooled
    monkeypatch.setattr(onnx, "_pooled", lambda texts: embedded.append(texts) or pooled(texts))
    again = onnx.embed(SENTENCES[:3])
    assert embedded == [[sorted(SENTENCES[:3], key=len)[0]]]  # only the forgotten text is embedded again
    assert (first * again).sum(axis=1).min() > 0.98


def test_batching_and_padding_hardly_move_a_texts_row(onnx):
    alone = np.stack([onnx.embed([s])[0] for s in SENTENCES])
    onnx.seen.clear()  # else the batch would be the rows embedded alone
    together = onnx.embed(SENTENCES)  # batches of 4 of mixed lengths, padded
    # padding is masked out; what moves a row a little is that int8 activations take their scale from the whole batch
    assert (alone * together).sum(axis=1).min() > 0.98


def test_agrees_with_the_pytorch_fp32_model(onnx, torch_fp32):
    x, ref = onnx.embed(SENTENCES), torch_fp32.embed(SENTENCES)
    assert (x * ref).sum(axis=1).min() > 0.98  # int8 weights: the same vector within a few hundredths
    # the neighbourhoods agree: each sentence's nearest other sentence is the same
    def nearest(m):
        sims = m @ m.T - 2 * np.eye(len(m))
        return sims.argmax(axis=1)

    assert (nearest(x) == nearest(ref)).all()


def test_long_texts_are_truncated_like_sentence_transformers(onnx, torch_fp32):
    long = " ".join(SENTENCES * 20)  # far past 256 tokens
    assert float(onnx.embed([long])[0] @ torch_fp32.embed([long])[0]) > 0.98


def test_the_config_carries_device_threads_and_gpu_share():
    c = ConsolidateConfig(embed_device="cuda", embed_num_gpus=0.25, embed_threads=2, embed_precision="fp32")
    assert (c.embed_device, c.embed_num_gpus, c.embed_threads, c.embed_precision) == ("cuda", 0.25, 2, "fp32")
    with pytest.raises(ValueError, match="embed_num_gpus"):  # Ray would hide the GPU from the actor
        ConsolidateConfig(embed_device="cuda:0")
    with pytest.raises(ValueError):
        ConsolidateConfig(embed_threads=0)
    assert ConsolidateConfig(embedder="hashing", embed_device="cuda").embed_num_gpus == 0  # no model: nothing to place


def test_the_vllm_recipes_keep_minilm_on_the_cpu_cores():
    from trace2skill.run.recipes import load_recipe

    for name in ("vllm-1gpu.yaml", "vllm-cluster.yaml"):
        c = ConsolidateConfig(**load_recipe(ROOT / "pipelines" / name)["consolidate"])
        assert c.embed_device == "cpu" and c.embed_num_gpus == 0 and isinstance(make_embedder("minilm", device=c.embed_device, threads=1), OnnxMiniLMEmbedder)


def test_fp32_onnx_matches_pytorch(cache, torch_fp32):
    x = OnnxMiniLMEmbedder(threads=1, precision="fp32").embed(SENTENCES)
    assert (x * torch_fp32.embed(SENTENCES)).sum(axis=1).min() > 0.9999
