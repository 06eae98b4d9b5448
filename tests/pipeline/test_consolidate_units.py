"""Consolidation's units come from the analysis parts on disk: split per trajectory in the
workers, embedded once (after the analysis, or by the analysis stage as each part was
written), written with float16 embeddings to ``units/``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from benchmarks.consolidation_corpus import make_corpus
from trace2skill.analysts.models import AnalysisResult
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.embed import embedding_matrix, make_embedder
from trace2skill.consolidate.shards import unit_columns
from trace2skill.consolidate.units import Unit, split_units
from trace2skill.pipeline.units import StreamUnits, result_units, sharded, write_units
from trace2skill.run.buckets import stable_bucket
from trace2skill.run.checkpoint import ANALYSIS_DIR, write_analysis_part
from trace2skill.schema import Edit, Patch


def corpus_results(n: int = 60) -> tuple[list[AnalysisResult], list]:
    """Per-trajectory analysis results of the consolidation corpus, a failed one and an
    orphan-edit one among them; and the units ``split_units`` makes of all of it at once."""
    corpus = make_corpus(n, seed=1)
    results = [
        AnalysisResult(trajectory_id=p.trajectory_ids[0], status="analyzed", lessons=[l for l in corpus.lessons if l.trajectory_id == p.trajectory_ids[0]], patch=p)
        for p in corpus.patches
    ]
    orphan = Patch(id="p-orphan", edits=[Edit(op="append_to_section", section="Workflow", content="- Re-read the task.", reason="re-read")], trajectory_ids=["t-orphan"])
    results += [AnalysisResult(trajectory_id="t-failed", status="failed", reason="invalid JSON"), AnalysisResult(trajectory_id="t-orphan", status="analyzed", patch=orphan)]
    return results, split_units([*corpus.patches, orphan], corpus.lessons)


def test_units_split_per_trajectory_are_the_units_of_the_whole_run():
    results, expected = corpus_results()
    batch = pa.table({"trajectory_id": [r.trajectory_id for r in results], "result": [r.model_dump_json() for r in results]})
    out = sharded(result_units(batch), shards=3)
    units = [Unit.model_validate_json(u) for u in out.column("unit").to_pylist()]
    assert sorted(u.model_dump_json() for u in units) == sorted(u.model_dump_json() for u in expected)
    assert out.column("text").to_pylist() == [u.text for u in units]
    assert out.column("shard").to_pylist() == stable_bucket(out.column("unit_id").to_pylist(), 3).to_pylist()
    assert out.column("has_edits").to_pylist() == [bool(u.edits) for u in units]
    assert out.column("trajectory_ids").to_pylist() == [u.trajectory_ids for u in units]
    # one "opens" per trajectory that gave units; the failed one gave none
    assert sum(out.column("opens").to_pylist()) == len({t for u in expected for t in u.trajectory_ids}) == len(results) - 1


@pytest.mark.ray
@pytest.mark.parametrize(
    ("embedder", "pool_from", "width"),
    [("hashing", 10_000, 4096), ("hashing", 1, 4096), ("minilm", 1, 384)],
    ids=["one-task", "tasks", "actor-pool"],  # hashing has no model to load once per actor; minilm does
)
def test_write_units_reads_the_parts_and_stores_float16_embeddings_once(ray_session, tmp_path, embedder, pool_from, width):
    results, expected = corpus_results()
    for i in range(0, len(results), 16):
        write_analysis_part(tmp_path, results[i : i + 16])
    parts = list((tmp_path / ANALYSIS_DIR).glob("part-*.parquet"))
    assert len(parts) > 1
    cfg = ConsolidateConfig(
        embedder=embedder, embed_batch_size=8, embed_num_cpus=0, embed_pool_min_trajectories=pool_from, collapse_shard_trajectories=25
    )  # fmt: skip
    assert write_units(tmp_path / ANALYSIS_DIR, tmp_path / "units", cfg) == (0, len(parts))  # nothing streamed: every part embedded here

    # a shard per 25 results, each holding the units its id hashes to
    assert sorted(d.name for d in (tmp_path / "units").iterdir()) == ["shard=0", "shard=1", "shard=2"]
    for s in range(3):
        ids = pq.read_table(tmp_path / "units" / f"shard={s}", columns=["unit_id"]).column("unit_id").to_pylist()
        assert ids and set(stable_bucket(ids, 3).to_pylist()) == {s}
    table = pq.read_table(tmp_path / "units")
    assert "text" not in table.column_names  # the text is in the unit; not stored twice
    assert {"unit_id", "unit", "opens", "embedding", *unit_columns([])} <= set(table.column_names)
    stored_type = table.schema.field("embedding").type
    if embedder == "hashing":  # mostly zeros: stored sparse, the non-zero float16 values and their places
        assert pa.types.is_struct(stored_type) and stored_type.field("value").type.value_type == pa.float16()
    else:
        assert stored_type == pa.list_(pa.float16(), width)
    units = [Unit.model_validate_json(u) for u in table.column("unit").to_pylist()]
    assert sorted(u.id for u in units) == sorted(u.id for u in expected)
    stored = embedding_matrix(table.column("embedding"))
    exact = make_embedder(embedder).embed([u.text for u in units])
    assert stored.shape == exact.shape == (len(units), width)
    if embedder == "hashing":
        assert np.abs(stored - exact).max() < 1e-3  # float16 keeps about 3 decimal digits of a unit-norm vector
        assert np.allclose((stored * exact).sum(axis=1), 1.0, atol=1e-3)
    else:  # int8 activations take their scale from the batch: the pool's batches of 8 move a vector a little
        assert (stored * exact).sum(axis=1).min() > 0.98


@pytest.mark.ray
def test_write_units_without_parts_writes_nothing(ray_session, tmp_path):
    (tmp_path / "analysis").mkdir()
    assert write_units(tmp_path / "analysis", tmp_path / "units", ConsolidateConfig(embedder="hashing")) == (0, 0)
    assert not (tmp_path / "units").exists()


def stream_parts(run_dir, parts: list, embedder: str) -> None:
    """What the analysis stage's units op does with the progress rows of ``parts``: a batch
    of rows naming them (twice each, as a batch's rows all name their part)."""
    rows = pa.table({"trajectory_id": [f"t{i}" for i in range(2 * len(parts))], "part": [str(p) for p in parts for _ in range(2)]})
    assert StreamUnits(str(run_dir / "streamed"), name=embedder, threads=1)(rows) == rows  # the rows pass on for the progress


def sorted_units(folder) -> pa.Table:
    table = pq.read_table(folder)
    return table.take(pc.sort_indices(table, [("unit_id", "ascending")]))


@pytest.mark.ray
@pytest.mark.parametrize("embedder", ["hashing", "minilm"])
def test_units_streamed_during_the_analysis_are_copied_into_the_shards_not_embedded_again(ray_session, tmp_path, embedder):
    results, expected = corpus_results()
    for i in range(0, len(results), 16):
        write_analysis_part(tmp_path, results[i : i + 16])
    parts = sorted((tmp_path / ANALYSIS_DIR).glob("part-*.parquet"))
    cfg = ConsolidateConfig(embedder=embedder, embed_batch_size=8, embed_num_cpus=0, embed_pool_min_trajectories=1, collapse_shard_trajectories=25)
    assert write_units(tmp_path / ANALYSIS_DIR, tmp_path / "after", cfg) == (0, len(parts))

    stream_parts(tmp_path, parts[:-1], embedder)  # the last part's units were not streamed (written before a resumption)
    streamed = tmp_path / "streamed"
    assert sorted(f.name for f in streamed.iterdir()) == [p.name for p in parts[:-1]]
    # Mark one streamed file: what reaches the shards must be the file, not a new embedding.
    marked = pq.read_table(streamed / parts[0].name)
    marked = marked.set_column(marked.column_names.index("content"), "content", pa.array(["STREAMED"] * marked.num_rows))
    pq.write_table(marked, streamed / parts[0].name)
    assert write_units(tmp_path / ANALYSIS_DIR, tmp_path / "units", cfg, streamed) == (len(parts) - 1, 1)

    after, copied = sorted_units(tmp_path / "after"), sorted_units(tmp_path / "units")
    assert copied.column("unit_id").to_pylist() == after.column("unit_id").to_pylist() == sorted(u.id for u in expected)
    content = copied.column("content").to_pylist()
    assert {u for u, text in zip(copied.column("unit_id").to_pylist(), content) if text == "STREAMED"} == set(marked.column("unit_id").to_pylist())
    for column in ("shard", "unit", "opens"):  # the shards follow the whole run's count, as when embedded after
        assert copied.column(column).to_pylist() == after.column(column).to_pylist()
    cosines = (embedding_matrix(copied.column("embedding")) * embedding_matrix(after.column("embedding"))).sum(axis=1)
    assert cosines.min() > 0.98  # minilm's int8 activations scale by batch, and the stream's batches differ
