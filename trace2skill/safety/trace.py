"""Trace a withheld edit to its source: the trajectories whose raw text holds the instruction.

Provenance names the lessons and trajectories behind an edit; this looks in every
trajectory of the run (the ``trajectories.parquet`` dataset, streamed in Arrow batches, matched with
Arrow's regex kernels) for the evidence of each finding and for the addresses in it, and
says where it sat: the task, the system prompt, a user message, the output of which tool.
An instruction found in many trajectories is a widespread injection: the tool or site that
carried it is a finding of its own.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field

from trace2skill import parts
from trace2skill.safety.review import SafetyReview, WithheldEdit
from trace2skill.safety.text import destinations

# From this many trajectories on, the source text is called a widespread injection
# (the default SKILL.md support bar: it is what lets planted text past prevalence).
WIDESPREAD = 3
MAX_EXAMPLES = 10
SAFETY_JSON = "safety.json"


class SourceTrace(BaseModel):
    """Where the instruction of one withheld edit appears in the run's trajectories."""

    needles: list[str]
    trajectories: int = 0
    share: float = 0.0
    examples: list[str] = Field(default_factory=list)
    carriers: dict[str, int] = Field(default_factory=dict)  # where in a trajectory: "output of tool get_order": 12
    in_provenance: int = 0  # of the trajectories provenance names, how many hold it

    @property
    def widespread(self) -> bool:
        return self.trajectories >= WIDESPREAD


class SafetyRecord(SafetyReview):
    """``safety.json``: the review with the source trace of every withheld edit."""

    traces: list[SourceTrace] = Field(default_factory=list)
    trajectories: int = 0

    def summary_fields(self) -> dict:
        """The ``RunSummary`` fields this record fills."""
        return {
            "safety_withheld": len(self.withheld),
            "safety_flagged": len(self.flagged),
            "safety_widespread": sum(t.widespread for t in self.traces),
            "safety_rules_off": self.rules_off,
        }


def needles(withheld: WithheldEdit) -> list[str]:
    """What to look for: the evidence of each high finding, and the addresses in it."""
    out: list[str] = []
    for f in withheld.findings:
        if f.severity != "high":
            continue
        out.append(f.evidence)
        out.extend(sorted(destinations(f.evidence)))
    return list(dict.fromkeys(n for n in out if len(n.strip()) >= 6))


def trace_sources(trajectories: Path, withheld: list[WithheldEdit]) -> tuple[list[SourceTrace], int]:
    """One ``SourceTrace`` per withheld edit, and the number of trajectories searched."""
    wanted = [needles(w) for w in withheld]
    patterns = sorted({n for ns in wanted for n in ns})
    hits: dict[str, set[str]] = {p: set() for p in patterns}
    carriers: dict[str, dict[str, set[str]]] = {p: {} for p in patterns}
    total = 0
    if patterns:
        for batch in parts.iter_batches(trajectories, columns=["id", "task", "steps", "metadata"], batch_size=4096):
            total += batch.num_rows
            for p in patterns:
                _match_batch(batch, p, hits[p], carriers[p])
    else:
        total = parts.num_rows(trajectories)
    out = []
    for w, ns in zip(withheld, wanted):
        ids = sorted(set().union(*(hits[n] for n in ns))) if ns else []
        labels: dict[str, set[str]] = {}
        for n in ns:
            for tid, found in carriers[n].items():
                labels.setdefault(tid, set()).update(found)
        where = Counter(label for found in labels.values() for label in found)  # trajectories per carrier
        out.append(
            SourceTrace(
                needles=ns,
                trajectories=len(ids),
                share=round(len(ids) / total, 4) if total else 0.0,
                examples=ids[:MAX_EXAMPLES],
                carriers=dict(where.most_common()),
                in_provenance=len(set(ids) & set(w.trajectory_ids)),
            )
        )
    return out, total


def write_safety(review: SafetyReview, run_dir: Path) -> SafetyRecord:
    """Trace the withheld edits in ``run_dir/trajectories.parquet`` and write ``run_dir/safety.json``
    (the review, ``traces`` aligned with ``withheld``, the number of trajectories searched)."""
    traces, total = trace_sources(Path(run_dir) / "trajectories.parquet", review.withheld)
    record = SafetyRecord.model_validate({**review.model_dump(mode="json"), "traces": traces, "trajectories": total})
    (Path(run_dir) / SAFETY_JSON).write_text(record.model_dump_json(indent=2))
    return record


def _regex(needle: str) -> str:
    # Whitespace in the evidence may be any run of whitespace in the source.
    return "(?i)" + r"\s+".join(re.escape(t) for t in needle.split())


def _match_batch(batch: pa.RecordBatch, needle: str, ids: set[str], carriers: dict[str, set[str]]) -> None:
    pattern = _regex(needle)
    row_ids = batch.column("id").to_pylist()

    def note(rows: list[int], label: str | list[str]) -> None:
        for i, row in enumerate(rows):
            tid = row_ids[row]
            ids.add(tid)
            carriers.setdefault(tid, set()).add(label if isinstance(label, str) else label[i])

    for column, label in (("task", "task text"), ("metadata", "metadata")):
        mask = pc.match_substring_regex(batch.column(column), pattern)
        note(pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist(), label)
    steps = batch.column("steps")
    flat = pc.list_flatten(steps)
    if len(flat) == 0:
        return
    parents = pc.list_parent_indices(steps)
    for field in ("content", "tool_args"):
        mask = pc.fill_null(pc.match_substring_regex(flat.field(field), pattern), False)
        where = pc.indices_nonzero(mask)
        if len(where) == 0:
            continue
        picked = pc.take(flat, where)
        labels = [_carrier(r, k, t, field) for r, k, t in zip(picked.field("role").to_pylist(), picked.field("kind").to_pylist(), picked.field("tool_name").to_pylist())]
        note(pc.take(parents, where).to_pylist(), labels)


def _carrier(role: str, kind: str, tool: str | None, field: str) -> str:
    if field == "tool_args" or kind == "tool_call":
        return f"arguments of a call to {tool or 'a tool'}"
    if role == "tool" or kind == "observation":
        return f"output of tool {tool or '(unnamed)'}"
    return {"system": "system prompt", "user": "user message"}.get(role, "agent reasoning" if kind == "reasoning" else "agent message")
