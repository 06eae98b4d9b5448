"""``distill --update`` on Ray Data: the trajectories the previous run analysed, unchanged, are
``seen`` (no LLM call); the changed and new ones go on to the analysis stage.

The decision is a join of the new trajectories (``id``, ``content_hash``) with the previous
run's manifest, run by Ray Data, so no set of previous ids lives on the driver. The ``seen``
results are written as analysis parts by the workers (``run.checkpoint``), like any result,
so the manifest, the counts and a resumption treat them as done.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import ray

from trace2skill import parts
from trace2skill.pipeline.pair import MAX_PARTITIONS, ROWS_PER_PARTITION
from trace2skill.run.checkpoint import ANALYSIS_DIR
from trace2skill.run.outputs import MANIFEST, TRAJECTORIES
from trace2skill.run.update import ANALYSED, PREVIOUS_HASH, PREVIOUS_SOURCE, UPDATE_JSON, UpdateCounts, seen_mask, seen_table, split_counts


def previous_analysed(previous_run: Path) -> ray.data.Dataset:
    """The previous run's manifest rows of the trajectories it analysed (or saw itself), with
    their content hash and outcome source renamed so they join beside the new rows."""
    rows = ray.data.read_parquet(str(previous_run / MANIFEST), columns=["trajectory_id", "status", "content_hash", "outcome_source"])
    return rows.map_batches(_analysed_rows, batch_format="pyarrow")


def _analysed_rows(batch: pa.Table) -> pa.Table:
    keep = pc.and_(pc.is_in(batch["status"], value_set=pa.array(ANALYSED)), pc.not_equal(batch["content_hash"], ""))
    kept = batch.filter(keep)
    return pa.table({"trajectory_id": kept["trajectory_id"], PREVIOUS_HASH: kept["content_hash"], PREVIOUS_SOURCE: kept["outcome_source"]})


def with_previous(rows: ray.data.Dataset, previous_run: Path, total: int) -> ray.data.Dataset:
    """``rows`` (trajectories) with the previous run's hash of the same id (null: a new id): a left join."""
    partitions = max(1, min(MAX_PARTITIONS, total // ROWS_PER_PARTITION))
    return rows.join(previous_analysed(previous_run), join_type="left_outer", num_partitions=partitions, on=("id",), right_on=("trajectory_id",))


def unseen(joined: ray.data.Dataset) -> ray.data.Dataset:
    """The rows of ``with_previous`` that are not seen: new (no previous hash) or changed."""
    return joined.map_batches(_unseen_rows, batch_format="pyarrow")


def _unseen_rows(batch: pa.Table) -> pa.Table:
    return batch.filter(pc.invert(seen_mask(batch)))


def seen_count(run_dir: Path) -> int:
    """How many trajectories the update's read stage found seen (``UPDATE_JSON``)."""
    return UpdateCounts.model_validate_json((run_dir / UPDATE_JSON).read_text()).seen


def mark_seen(run_dir: Path, previous_run: Path) -> UpdateCounts:
    """Write a ``seen`` result for each trajectory of ``run_dir`` that ``previous_run``
    analysed with the same content hash; count seen, changed and new. Run by the read stage,
    before any analysis, so the analysis folder holds nothing else yet (an interrupted split
    is redone whole)."""
    parts.reset(run_dir / ANALYSIS_DIR)
    total = parts.num_rows(run_dir / TRAJECTORIES)
    if not total:
        return UpdateCounts(previous=str(previous_run))
    rows = ray.data.read_parquet(str(run_dir / TRAJECTORIES), columns=["id", "source_file", "content_hash"])
    written = with_previous(rows, previous_run, total).map_batches(
        _write_seen, fn_kwargs={"run_dir": str(run_dir), "previous": str(previous_run)}, batch_format="pyarrow"
    )
    sums = written.sum(["seen", "changed", "new"]) or {}
    return UpdateCounts(previous=str(previous_run), **{k: int(sums.get(f"sum({k})") or 0) for k in ("seen", "changed", "new")})


def _write_seen(batch: pa.Table, run_dir: str, previous: str) -> dict[str, list[int]]:
    seen = seen_table(batch, Path(previous))
    if seen.num_rows:
        parts.write_part(seen, Path(run_dir) / ANALYSIS_DIR, parts.content_part_name(seen["trajectory_id"].to_pylist()))
    return {k: [v] for k, v in split_counts(batch).items()}
