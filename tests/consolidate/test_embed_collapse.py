import numpy as np
import pytest

from trace2skill.consolidate.collapse import MAX_ALTERNATIVES, collapse, negated, specificity
from trace2skill.consolidate.embed import HashingEmbedder, make_embedder, thresholds
from tests.consolidate.helpers import append, unit, vecs


def test_hashing_embedder_is_deterministic_unit_norm_and_topical():
    emb = HashingEmbedder()
    texts = ["Refund to the original payment method.", "Send refunds to the original payment method.", "Greet customers by loyalty tier."]
    a, b = emb.embed(texts), emb.embed(texts)
    assert a.dtype == np.float32 and np.allclose(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)
    assert a[0] @ a[1] > 0.5 > a[0] @ a[2]
    assert emb.embed([]).shape == (0, a.shape[1])


def test_make_embedder_names():
    assert make_embedder("hashing").name == "hashing"
    assert len(thresholds("minilm")) == 3
    with pytest.raises(ValueError):
        make_embedder("word2vec")


def test_near_duplicates_collapse_with_provenance_union():
    units = [
        unit("a", "refund to card", "t1", edits=[append("Pitfalls", "- a")]),
        unit("b", "refund card", "t2", edits=[append("Pitfalls", "- b")]),
        unit("c", "refund to card", "t1"),  # same trajectory: support counts it once
        unit("d", "greet politely", "t3", edits=[append("Pitfalls", "- d")]),
    ]
    reps, rep_emb, folded = collapse(units, vecs([1, 0.05], [1, 0.1], [1, 0], [0, 1]), 0.9)
    assert [r.id for r in reps] == ["a", "d"] and rep_emb.shape == (2, 2)
    assert reps[0].trajectory_ids == ["t1", "t2"] and reps[0].support == 2
    assert reps[0].lesson_ids == ["l-a", "l-b", "l-c"] and reps[0].edits[0].content == "- a"
    assert {f.unit_id: f.into for f in folded} == {"b": "a", "c": "a"}


def test_a_collapse_keeps_the_most_specific_of_five_near_duplicates_and_hands_on_the_others_edits():
    texts = {
        "a": "Check the user before changing a booking.",
        "b": "Verify who the user is first.",
        "c": "Only when `get_user_details` returns the user id, change at most 1 reservation; if it fails, stop.",
        "d": "Look up the user before acting on a reservation.",
        "e": "Verify the user.",
    }
    units = [unit(k, t, f"t-{k}", edits=[append("Identity", f"- {t}")]) for k, t in texts.items()]
    units.append(unit("f", "Verify the user.", "t-f", edits=[append("Identity", "-  verify the USER.")]))  # a repeat of e's edit
    reps, _, folded = collapse(units, vecs(*[[1, 0.01 * i] for i in range(len(units))]), 0.9)
    assert [r.id for r in reps] == ["c"]  # the code span, tool name, number and conditions win over id order ("a") and length
    assert max(texts, key=lambda k: specificity(texts[k])) == "c"
    assert reps[0].edits[0].content == f"- {texts['c']}" and reps[0].support == 6
    alternatives = [e.content for e in reps[0].alternatives]
    assert len(alternatives) == MAX_ALTERNATIVES and texts["c"] not in "".join(alternatives)
    assert {f.unit_id for f in folded} == {"a", "b", "d", "e", "f"}  # their evidence is still recorded


def test_a_lesson_and_its_negation_never_collapse_and_representatives_carry_edits():
    units = [
        unit("a", "wait for an explicit yes", "t1"),  # no edits: may not lead
        unit("b", "wait for an explicit yes", "t2", edits=[append("Pitfalls", "- yes")]),
        unit("c", "do not wait for an explicit yes", "t3", edits=[append("Pitfalls", "- no")]),
    ]
    reps, _, folded = collapse(units, vecs([1, 0], [1, 0], [1, 0.01]), 0.9)
    assert sorted(r.id for r in reps) == ["b", "c"]
    assert next(r for r in reps if r.id == "b").lesson_ids == ["l-a", "l-b"]
    assert negated("Never do X") and negated("do not do X") and not negated("Always do X")


def test_float16_storage_keeps_vectors_and_survives_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trace2skill.consolidate.embed import embedding_matrix, stored_embeddings

    x = make_embedder("hashing").embed(["Refund to the original card.", "Check the bag fee first.", ""])
    column = stored_embeddings(x)
    assert column.type == pa.list_(pa.float16(), 4096) and column.nbytes <= x.nbytes // 2 + 64
    pq.write_table(pa.table({"embedding": column}), tmp_path / "e.parquet")
    back = embedding_matrix(pq.read_table(tmp_path / "e.parquet").column("embedding"))
    assert back.dtype == np.float32 and back.shape == x.shape
    assert np.abs(back - x).max() < 1e-3 and not back[2].any()  # a text of no known word stays all zeros


def test_sparse_storage_holds_the_same_float16_values_in_a_fraction_of_the_bytes(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trace2skill.consolidate.embed import embedding_matrix, stored_embeddings

    x = make_embedder("hashing").embed(["Refund to the original card.", "", "Check the bag fee first, then book.", "Refund to the card."])
    dense, sparse = stored_embeddings(x), stored_embeddings(x, sparse=True)
    assert sparse.nbytes * 20 < dense.nbytes
    pq.write_table(pa.table({"embedding": sparse}), tmp_path / "e.parquet")
    back = pq.read_table(tmp_path / "e.parquet").column("embedding")
    for dtype in (np.float32, np.float16):
        assert np.array_equal(embedding_matrix(back, dtype), embedding_matrix(dense, dtype))
    # a slice (a Ray Data batch of a block) reads its own rows
    assert np.array_equal(embedding_matrix(sparse.slice(1, 2)), embedding_matrix(dense)[1:3])
    assert np.array_equal(embedding_matrix(pa.chunked_array([sparse.slice(0, 3), sparse.slice(3)])), embedding_matrix(dense))


def test_float16_embeddings_leave_clusters_and_collapse_unchanged_on_the_corpus():
    from benchmarks.consolidation_corpus import make_corpus
    from benchmarks.embedding_precision import compare
    from trace2skill.consolidate.config import ConsolidateConfig
    from trace2skill.consolidate.units import split_units

    corpus = make_corpus(240, seed=3)
    units = split_units(corpus.patches, corpus.lessons)
    cfg = ConsolidateConfig(embedder="hashing", cluster_sample_size=150)  # a sample smaller than the units: the far-unit refit runs too
    report = compare(units, make_embedder("hashing").embed([u.text for u in units]), cfg)
    assert report["units"] > 150 and report["folded_f32"] > 0
    assert report["same_cluster"] == report["adjusted_rand_refit"] == report["same_collapse"] == report["same_collapse_refit"] == 1.0


def test_collapse_takes_stored_float16_rows_and_returns_float32_representatives():
    texts = ["Refund to the original card.", "Refund to the original card, always.", "Check the bag fee first.", "Never refund to a gift card."]
    units = [unit(f"u{i}", t, f"t{i}", edits=[append("Policies", t)]) for i, t in enumerate(texts)]
    x = make_embedder("hashing").embed(texts)
    reps32, emb32, folded32 = collapse(units, x, 0.6)
    reps16, emb16, folded16 = collapse(units, x.astype(np.float16), 0.6)
    assert [r.id for r in reps16] == [r.id for r in reps32] and [(f.unit_id, f.into) for f in folded16] == [(f.unit_id, f.into) for f in folded32]
    assert folded32 and emb16.dtype == np.float32 and emb16.shape == (len(reps16), x.shape[1]) and np.abs(emb16 - emb32).max() < 1e-3
