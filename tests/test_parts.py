"""Datasets as folders of part files: atomic parts, name order, streamed reads and aggregations."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from trace2skill import parts

SCHEMA = pa.schema([("id", pa.string()), ("status", pa.string()), ("tokens", pa.int64())])


def _table(ids, status="ok", tokens=1) -> pa.Table:
    return pa.table({"id": ids, "status": [status] * len(ids), "tokens": [tokens] * len(ids)}, schema=SCHEMA)


def test_parts_read_back_in_name_order_and_aggregate(tmp_path):
    data = tmp_path / "data.parquet"
    parts.write_part(_table(["c"], "failed", 5), data, parts.ordered_part_name(1, 0))
    parts.write_part(_table(["a", "b"], tokens=2), data, parts.ordered_part_name(0, 0))
    assert [p.name for p in parts.parts(data)] == ["part-000000000-000000000.parquet", "part-000000001-000000000.parquet"]
    assert [i for b in parts.iter_batches(data, ["id"], batch_size=1) for i in b["id"].to_pylist()] == ["a", "b", "c"]
    assert pq.read_table(data)["id"].to_pylist() == ["a", "b", "c"]  # other readers see the same dataset
    assert parts.num_rows(data) == 3
    assert parts.value_counts(data, "status") == {"ok": 2, "failed": 1}
    assert parts.column_sums(data, ["tokens"]) == {"tokens": 9}


def test_a_single_file_is_a_dataset_of_one_part(tmp_path):
    single = tmp_path / "one.parquet"
    pq.write_table(_table(["a"]), single)
    assert parts.parts(single) == [single] and parts.num_rows(single) == 1
    assert parts.parts(tmp_path / "missing") == [] and parts.column_sums(tmp_path / "missing", ["tokens"]) == {"tokens": 0}


def test_reset_and_an_empty_dataset_keep_the_schema(tmp_path):
    data = tmp_path / "data.parquet"
    pq.write_table(_table(["old"]), data)  # an older run's single file
    parts.reset(data)
    assert data.is_dir() and parts.parts(data) == []
    parts.ensure_schema(data, SCHEMA)
    assert pq.read_table(data).schema == SCHEMA and parts.num_rows(data) == 0
    parts.write_part(_table(["a"]), data, "part-x.parquet")
    parts.reset(data)
    assert parts.parts(data) == []


def test_content_names_ignore_row_order():
    assert parts.content_part_name(["b", "a"]) == parts.content_part_name(["a", "b"]) != parts.content_part_name(["a"])


def test_a_row_group_writer_gathers_small_tables_into_row_groups(tmp_path):
    schema = pa.schema([("id", pa.string()), ("n", pa.int64())])
    path = tmp_path / "out.parquet"
    with parts.RowGroupWriter(path, schema, rows=100) as out:
        for i in range(0, 1000, 30):  # tables of 30 rows, as parts of a few results come
            out.write_table(pa.table({"id": [f"r{j}" for j in range(i, min(i + 30, 1000))], "n": list(range(i, min(i + 30, 1000)))}, schema=schema))
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == 1000 and meta.num_row_groups == 9  # 8 of 120 rows and the last 40, not 34
    assert pq.read_table(path).column("n").to_pylist() == list(range(1000))  # in the order written


def test_a_row_group_writer_with_no_rows_writes_the_schema(tmp_path):
    schema = pa.schema([("id", pa.string())])
    with parts.RowGroupWriter(tmp_path / "empty.parquet", schema):
        pass
    assert pq.read_table(tmp_path / "empty.parquet").schema == schema
