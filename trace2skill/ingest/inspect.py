"""``trace2skill inspect``: what a set of input files holds, per format and file.

Besides counts and sizes, each file's row says where its outcomes came from (the field path
an adapter read, ``metadata["outcome_field"]``; ``labels``/``format rule`` when a labels file or a
format's fixed rule set it), how many runs have none, and which off-spec values were repaired
(``metadata["repairs"]``, per field) instead of quarantining their run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from trace2skill.ingest.base import REPAIRS_KEY
from trace2skill.ingest.outcomes import OUTCOME_FIELD
from trace2skill.schema import OUTCOME_SIGNAL, OUTCOME_SOURCE, QuarantinedRecord, Trajectory

TOP_REASONS = 3


def outcome_source(record: Trajectory) -> str | None:
    """Where an outcome came from: ``label``, ``signal: RULE``, or the field path the source's own
    verdict was read from; ``None`` when the run has none."""
    if record.success is None and record.reward is None:
        return None
    source = record.metadata.get(OUTCOME_SOURCE)
    if source == "label":
        return "label"
    if source == "signal":
        return f"signal: {(record.metadata.get(OUTCOME_SIGNAL) or {}).get('rule', '?')}"
    field = record.metadata.get(OUTCOME_FIELD)
    return str(field) if field else "format rule"


def record_rows(path: Path, fmt: str, records: Iterable[Trajectory | QuarantinedRecord]) -> list[dict]:
    """One row per record: outcome and where it came from, size, repairs, or the quarantine reason."""
    rows = []
    for record in records:
        if isinstance(record, Trajectory):
            outcome = "unknown" if record.success is None else ("success" if record.success else "failure")
            chars = len(record.task) + sum(len(s.content) + len(s.tool_args or "") for s in record.steps)
            repairs = record.metadata.get(REPAIRS_KEY)
            rows.append(
                {
                    "file": str(path), "format": fmt, "ok": True, "outcome": outcome, "outcome_from": outcome_source(record),
                    "repairs": repairs if isinstance(repairs, dict) else {}, "steps": len(record.steps), "chars": chars, "reason": None,
                }
            )
        else:
            rows.append(
                {
                    "file": str(path), "format": fmt, "ok": False, "outcome": None, "outcome_from": None,
                    "repairs": {}, "steps": None, "chars": None, "reason": record.reason,
                }
            )
    return rows


def summarize(rows: list[dict]) -> pl.DataFrame:
    """Per format and file: records, ok, quarantined (top reasons), outcomes and where they came from, runs without
    one, repairs per field, steps and characters p50/p95/max."""
    schema = {"file": pl.Utf8, "format": pl.Utf8, "ok": pl.Boolean, "outcome": pl.Utf8, "outcome_from": pl.Utf8, "steps": pl.Int64, "chars": pl.Int64, "reason": pl.Utf8}
    df = pl.DataFrame([{k: r[k] for k in schema} for r in rows], schema=schema)
    table = (
        df.group_by("format", "file", maintain_order=True)
        .agg(
            pl.len().alias("records"),
            pl.col("ok").sum().alias("ok"),
            (~pl.col("ok")).sum().alias("quarantined"),
            (pl.col("outcome") == "success").sum().alias("success"),
            (pl.col("outcome") == "failure").sum().alias("failure"),
            (pl.col("outcome") == "unknown").sum().alias("no_outcome"),
            pl.col("steps").median().alias("steps_p50"),
            pl.col("steps").quantile(0.95).alias("steps_p95"),
            pl.col("steps").max().alias("steps_max"),
            pl.col("chars").median().alias("chars_p50"),
            pl.col("chars").quantile(0.95).alias("chars_p95"),
            pl.col("chars").max().alias("chars_max"),
            pl.col("reason").drop_nulls().alias("reasons"),
            pl.col("outcome_from").drop_nulls().alias("sources"),
        )
        .with_columns(
            pl.col("sources").map_elements(_counted, return_dtype=pl.Utf8).alias("outcome_from"),
            pl.col("reasons").map_elements(_top_reasons, return_dtype=pl.Utf8).alias("top_reasons"),
        )
        .drop("reasons", "sources")
    )
    repairs = _repairs_per_file(rows)
    return table.with_columns(pl.col("file").replace_strict(repairs, default="", return_dtype=pl.Utf8).alias("repairs"))


def _repairs_per_file(rows: list[dict]) -> dict[str, str]:
    totals: dict[str, Counter[str]] = {}
    for row in rows:
        totals.setdefault(row["file"], Counter()).update(row["repairs"])
    return {file: "; ".join(f"{n}x {field}" for field, n in counts.most_common()) for file, counts in totals.items()}


def _counted(values: pl.Series) -> str:
    return "; ".join(f"{n}x {v}" for v, n in Counter(values).most_common())


def _top_reasons(reasons: pl.Series) -> str:
    counts = Counter(r.split(":")[0] for r in reasons)
    return "; ".join(f"{n}x {r}" for r, n in counts.most_common(TOP_REASONS))
