"""The context the analysis stream's datasets are made in (pipeline/tuning.py, docs/performance.md, issue 16)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray
from ray.data.context import DataContext

from trace2skill.pipeline.tuning import READ_AHEAD_BYTES, analysis_stream, first_parquet_reader

pytestmark = pytest.mark.ray


def read_op(ds: ray.data.Dataset) -> str:
    return type(ds._logical_plan.dag).__name__


def test_the_stream_reads_parquet_with_the_first_reader_and_a_bounded_read_ahead(ray_session, tmp_path):
    pq.write_table(pa.table({"id": ["a", "b"]}), tmp_path / "part.parquet")
    context = DataContext.get_current()
    before = (context.use_datasource_v2, context.execution_options.preserve_order, context.execution_options.resource_limits)
    with analysis_stream():
        stream = ray.data.read_parquet(str(tmp_path))
        assert context.execution_options.resource_limits.object_store_memory == READ_AHEAD_BYTES
        assert context.execution_options.preserve_order is False
    # The newer reader packs ~128 MiB of files into a task and decodes them at once.
    assert read_op(stream) == "Read"
    assert sorted(stream.to_pandas()["id"]) == ["a", "b"]
    assert (context.use_datasource_v2, context.execution_options.preserve_order, context.execution_options.resource_limits) == before
    if context.use_datasource_v2:  # outside the block, Ray's default reader
        assert read_op(ray.data.read_parquet(str(tmp_path))) != "Read"


def test_the_first_reader_is_used_in_its_block_only(ray_session, tmp_path):
    pq.write_table(pa.table({"id": ["a"]}), tmp_path / "part.parquet")
    context = DataContext.get_current()
    before = context.use_datasource_v2
    with first_parquet_reader():
        assert read_op(ray.data.read_parquet(str(tmp_path))) == "Read"  # a task a file (pairing's candidate pass)
    assert context.use_datasource_v2 == before
