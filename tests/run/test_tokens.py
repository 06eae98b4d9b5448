"""Which tokenizer a plan or a budget counts with, and the per-row character sums."""

from __future__ import annotations

import pyarrow as pa

from trace2skill.llm.config import EmbeddedConfig, FakeConfig, OpenAIConfig
from trace2skill.run.tokens import ESTIMATE, STEP_CHARS, token_counter, trajectory_chars
from trace2skill.schema import TRAJECTORY_SCHEMA, Step, Trajectory


def test_fake_and_uncached_openai_count_four_characters_a_token(tmp_path, monkeypatch):
    count, name = token_counter(FakeConfig())
    assert count("x" * 40) == 10 and "fake backend" in name
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # empty: a plan never downloads an encoding
    count, name = token_counter(OpenAIConfig(base_url="http://127.0.0.1:9/v1", model="m"))
    assert name == ESTIMATE and count("x" * 40) == 10


def test_embedded_counts_with_the_gguf_vocabulary():
    count, name = token_counter(EmbeddedConfig())
    assert "llama.cpp tokenizer" in name and "vocab only" in name
    assert 0 < count("Please rebook the flight to Boston.") < 20


def test_embedded_without_its_model_file_falls_back_to_the_estimate(tmp_path):
    count, name = token_counter(EmbeddedConfig(model_path=str(tmp_path / "missing.gguf")))
    assert name.startswith(ESTIMATE) and count("x" * 8) == 2


def test_trajectory_chars_count_each_step_whole_like_the_renderer_with_room():
    steps = [Step(index=0, role="user", content="x" * 10), Step(index=1, role="tool", kind="observation", content="y" * 5000)]
    rows = [Trajectory(id="a", source_format="t", task="abc", steps=steps), Trajectory(id="b", source_format="t")]
    table = pa.Table.from_pylist([t.to_row() for t in rows], schema=TRAJECTORY_SCHEMA)
    assert trajectory_chars(table).tolist() == [3 + 10 + 5000 + 2 * STEP_CHARS, 0]
