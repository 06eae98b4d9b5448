"""Shard collapse: the same leader clustering as ``collapse``, run per shard, nothing lost."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.consolidation_corpus import make_corpus
from trace2skill.consolidate.assemble import Assembly
from trace2skill.consolidate.cluster import assign, cluster_label, fit_centroids, label_of
from trace2skill.consolidate.collapse import collapse
from trace2skill.consolidate.embed import HashingEmbedder, embedding_matrix, stored_embeddings, thresholds
from trace2skill.consolidate.finalize import FinalSkill
from trace2skill.consolidate.provenance import ProvenanceRow, collapsed_count, provenance_rows, read_provenance, write_provenance
from trace2skill.consolidate.reduce import ClusterResult
from trace2skill.consolidate.shards import FOLDED_SCHEMA, collapse_shard, folded_table, merged_topics, shard_count, unit_columns
from trace2skill.consolidate.units import Unit, split_units
from trace2skill.run.buckets import stable_bucket
from trace2skill.schema import Patch
from trace2skill.skill.folder import minimal_skill

DEDUP, DISTANCE, _ = thresholds("hashing")


@pytest.fixture(scope="module")
def corpus():
    c = make_corpus(200, seed=3)
    units = split_units(c.patches, c.lessons)
    x = HashingEmbedder().embed([u.text for u in units])
    return units, x, fit_centroids(x, DISTANCE, 64)


def table_of(units: list[Unit], x: np.ndarray, sparse: bool = True) -> pa.Table:
    """A shard's rows as ``write_units`` stores them (float16 embeddings, sparse as ``hashing``'s are)."""
    return pa.table(
        {"unit_id": [u.id for u in units], "unit": [u.model_dump_json() for u in units], "embedding": stored_embeddings(x, sparse=sparse), **unit_columns(units)}
    )  # fmt: skip


@pytest.mark.parametrize("sparse", [True, False], ids=["sparse", "dense"])
def test_one_shard_folds_exactly_what_collapse_folds(corpus, sparse):
    units, x, centroids = corpus
    table = table_of(units, x, sparse)
    reps, folded = collapse_shard(table, centroids, DEDUP)
    assert reps.schema.field("embedding").type == table.schema.field("embedding").type
    labels, _ = assign(embedding_matrix(stored_embeddings(x)), centroids)
    assert set(reps.column("cluster").to_pylist()) == set(labels.tolist())
    for c in np.unique(labels):
        members = [u for u, l in zip(units, labels) if l == c]
        emb = embedding_matrix(stored_embeddings(x[labels == c]), np.float16)
        want_reps, want_emb, want_folded = collapse(members, emb, DEDUP)
        got = reps.filter(pa.compute.equal(reps.column("cluster"), int(c)))
        assert [Unit.model_validate_json(u) for u in got.column("unit").to_pylist()] == want_reps
        assert np.array_equal(embedding_matrix(got.column("embedding")), want_emb.astype(np.float16).astype(np.float32))
        gone = folded.filter(pa.compute.equal(folded.column("cluster_id"), int(c))).to_pylist()
        assert [(f["unit_id"], f["into"], f["cosine"], f["lesson_ids"], f["trajectory_ids"], f["content"]) for f in gone] == [
            (f.unit_id, f.into, f.cosine, f.lesson_ids, f.trajectory_ids, f.content) for f in want_folded
        ]
        # the representatives count and name every unit they stand for
        assert sum(got.column("members").to_pylist()) == len(members)
        assert label_of(merged_topics(got.column("topics").to_pylist())) == cluster_label([u.topic for u in members])


@pytest.mark.parametrize("shards", [2, 5])
def test_shards_then_a_second_collapse_lose_no_unit_and_no_evidence(corpus, shards):
    units, x, centroids = corpus
    table = table_of(units, x)
    which = np.asarray(stable_bucket(table.column("unit_id").to_pylist(), shards))
    parts = [collapse_shard(table.filter(pa.array(which == s)), centroids, DEDUP) for s in range(shards)]
    reps = pa.concat_tables([p[0] for p in parts])
    level1 = sum(len(p[1]) for p in parts)
    labels = assign(embedding_matrix(stored_embeddings(x)), centroids)[0]
    for c in set(reps.column("cluster").to_pylist()):
        got = reps.filter(pa.compute.equal(reps.column("cluster"), c))
        shard_reps = [Unit.model_validate_json(u) for u in got.column("unit").to_pylist()]
        final, _, level2 = collapse(shard_reps, embedding_matrix(got.column("embedding"), np.float16), DEDUP)
        members = [u for u, l in zip(units, labels) if l == c]
        assert sorted({t for u in final for t in u.trajectory_ids}) == sorted({t for u in members for t in u.trajectory_ids})
        assert sorted(l for u in final for l in u.lesson_ids) == sorted(l for u in members for l in u.lesson_ids)
        assert len(final) + len(level2) == len(shard_reps)
    assert level1 + len(reps) == len(units)  # every unit is a representative or folded, once
    assert sum(reps.column("members").to_pylist()) == len(units)


def test_shard_count():
    assert shard_count(0, 10) == 1 and shard_count(10, 10) == 1 and shard_count(11, 10) == 2


def test_an_empty_shard_gives_empty_tables(corpus):
    units, x, centroids = corpus
    reps, folded = collapse_shard(table_of(units, x).slice(0, 0), centroids, DEDUP)
    assert len(reps) == 0 and len(folded) == 0


def test_folded_units_stream_into_provenance_with_their_cluster_label(corpus, tmp_path):
    units, x, centroids = corpus
    _, folded = collapse_shard(table_of(units, x), centroids, DEDUP)
    assert len(folded) > 10
    pq.write_table(folded.slice(0, 7), tmp_path / "shard=0.parquet")
    pq.write_table(folded.slice(7), tmp_path / "shard=1.parquet")
    own = ProvenanceRow(kind="conflict", cluster_id=0, cluster_label="zero", reason="settled")
    labels = {c: f"topic {c}" for c in set(folded.column("cluster_id").to_pylist())}
    path = tmp_path / "provenance.parquet"
    write_provenance([own], path, folded=[tmp_path / "shard=0.parquet", tmp_path / "shard=1.parquet"], labels=labels)
    rows = read_provenance(path)
    assert rows[0] == own and len(rows) == 1 + len(folded) == 1 + collapsed_count(path)
    first = folded.slice(0, 1).to_pylist()[0]
    assert rows[1].kind == "collapsed" and rows[1].cluster_label == labels[first["cluster_id"]]
    assert rows[1].reason == f"near-duplicate of {first['into']} (cosine {first['cosine']}); its evidence counts toward that lesson"
    assert rows[1].support == len(set(first["trajectory_ids"])) and rows[1].content == first["content"]
    assert read_provenance(path, collapsed=False) == [own]


def test_what_a_cluster_reduce_folds_reads_back_as_the_rows_it_would_have_given(corpus, tmp_path):
    units, x, _ = corpus
    reps, _, collapsed = collapse(units, x, DEDUP)
    assert len(collapsed) > 10
    result = ClusterResult(cluster_id=3, label="refunds", tier="reference", support=1, collapsed=collapsed)
    in_memory = provenance_rows([result], Assembly(patch=Patch(id="p*")), FinalSkill(skill=minimal_skill("s", "d")))
    pq.write_table(folded_table(3, collapsed), tmp_path / "cluster=3.parquet")
    write_provenance([], tmp_path / "provenance.parquet", folded=[tmp_path / "cluster=3.parquet"], labels={3: "refunds"})
    assert read_provenance(tmp_path / "provenance.parquet") == in_memory and len(in_memory) == len(collapsed)
    assert folded_table(3, []).schema == FOLDED_SCHEMA and len(folded_table(3, [])) == 0


def test_unit_counts_sum_shard_by_shard(tmp_path):
    from trace2skill.consolidate.shards import unit_counts

    folders = []
    for k, opens in enumerate([[1, 0, 0, 1], [1], []]):
        folder = tmp_path / f"shard={k}"
        folder.mkdir()
        pq.write_table(pa.table({"opens": pa.array(opens, pa.int8())}), folder / "part-0.parquet")
        folders.append(folder)
    assert unit_counts(folders) == (5, 3)
    assert unit_counts([]) == (0, 0)
