"""Outcome labels kept apart from the trajectories: read a labels file, join it onto any format.

Many agent stacks write the run and its grade to different places (SWE-agent writes
``.traj`` files, the SWE-bench harness writes which instances were resolved). A labels
file brings the grade back: one row per run, keyed by the trajectory id or a raw id of
the source, with ``success`` and/or ``reward``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trace2skill.ingest.base import IngestError, json_type
from trace2skill.ingest.grader import swebench_grader
from trace2skill.schema import GraderView, Trajectory

ID_KEYS = ("trajectory_id", "instance_id", "session_id", "task_id")
ROW_KEYS = (*ID_KEYS, "success", "resolved", "reward", "test_result")  # a JSON object with one of these is a single row
# SWE-bench harness summary report: these lists say which instances were graded how.
SWEBENCH_RESOLVED = "resolved_ids"
SWEBENCH_FAILED = ("unresolved_ids", "error_ids", "empty_patch_ids", "incomplete_ids")


class LabelsError(IngestError, ValueError):
    """A labels file cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class Label:
    """The outcome of one run: ``success`` and/or ``reward`` (at least one is set), and the
    grader's view when the row carries one (a SWE-bench report's ``tests_status``, ``test_output``)."""

    success: bool | None = None
    reward: float | None = None
    grader: GraderView | None = None

    def outcome(self, success_threshold: float) -> tuple[bool | None, float | None]:
        """``(success, reward)``: ``success`` if given, else ``reward >= success_threshold``."""
        if self.success is not None:
            return self.success, self.reward
        return (None if self.reward is None else self.reward >= success_threshold), self.reward


def _label(row: dict[str, Any], where: str) -> Label:
    success = row.get("success", row.get("resolved"))
    # An OpenHands eval line: {"instance_id", "test_result": {"report": {"resolved", ...}, "test_output"}}
    test_result = row.get("test_result") if isinstance(row.get("test_result"), dict) else {}
    report = test_result.get("report") if isinstance(test_result.get("report"), dict) else None
    if success is None and report is not None:
        success = report.get("resolved")
    if success is not None and not isinstance(success, bool):
        raise LabelsError(f"{where}: 'success' is {json_type(success)}, expected a boolean")
    reward = row.get("reward")
    if reward is not None:
        if isinstance(reward, bool) or not isinstance(reward, int | float) or not math.isfinite(reward):
            raise LabelsError(f"{where}: 'reward' is {reward!r}, expected a finite number")
        reward = float(reward)
    if success is None and reward is None:
        raise LabelsError(f"{where}: row has neither 'success' nor 'reward'")
    grader = swebench_grader(report or row, "labels file", row.get("test_output", test_result.get("test_output")))
    return Label(success, reward, grader)


def _row_key(row: dict[str, Any], where: str) -> str:
    for key in ID_KEYS:
        value = row.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise LabelsError(f"{where}: '{key}' is {json_type(value)}, expected a string or an integer")
        if key == "task_id" and row.get("trial") is not None:
            return f"{value}:{row['trial']}"
        return str(value)
    raise LabelsError(f"{where}: row has none of {', '.join(ID_KEYS)}")


def _rows(path: Path, text: str) -> Iterator[tuple[str, Any]]:
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None  # not one document: read it as JSONL below
        if isinstance(document, list):
            yield from ((f"{path}: item {i}", row) for i, row in enumerate(document))
            return
        if isinstance(document, dict) and not any(k in document for k in ROW_KEYS):
            yield from _document_rows(path, document)
            return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield f"{path}: line {lineno}", json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelsError(f"{path}: line {lineno}: invalid JSON: {exc}") from None


def _document_rows(path: Path, document: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    if SWEBENCH_RESOLVED in document:
        for key in (SWEBENCH_RESOLVED, *SWEBENCH_FAILED):
            ids = document.get(key) or []
            if not isinstance(ids, list):
                raise LabelsError(f"{path}: '{key}' is {json_type(ids)}, expected an array")
            for instance_id in ids:
                yield f"{path}: {key}", {"instance_id": instance_id, "success": key == SWEBENCH_RESOLVED}
        return
    # {"<id>": {"resolved": true, ...}} (SWE-bench per-instance report) or {"<id>": true}
    for key, value in document.items():
        row = value if isinstance(value, dict) else {"success": value}
        yield f"{path}: key {key!r}", {**row, "trajectory_id": key}


def read_labels(path: str | Path) -> dict[str, Label]:
    """Read a labels file into ``{id: Label}``.

    Accepted: JSONL (or a JSON array) of rows with one of ``trajectory_id``,
    ``instance_id``, ``session_id``, ``task_id`` (+ optional ``trial``) and ``success``
    (or ``resolved``, or an OpenHands ``test_result.report.resolved``) and/or
    ``reward``; a SWE-bench summary report (``resolved_ids``, ``unresolved_ids``, ...);
    or an object mapping ids to ``{"resolved": bool}`` or to a boolean. Raises
    LabelsError on a malformed row or two rows that disagree on one id.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")
    labels: dict[str, Label] = {}
    for where, row in _rows(path, text):
        if not isinstance(row, dict):
            raise LabelsError(f"{where}: row is {json_type(row)}, expected an object")
        key, label = _row_key(row, where), _label(row, where)
        if labels.get(key, label) != label:
            raise LabelsError(f"{where}: id {key!r} already has a different label ({labels[key]})")
        labels[key] = label
    return labels


def candidate_ids(traj: Trajectory) -> list[str]:
    """The ids a label may use for ``traj``, most specific first."""
    meta = traj.metadata
    ids = [traj.id, traj.raw_id, traj.raw_id.split("@", 1)[0]]
    for key in ("instance_id", "session_id", "trajectory_id"):
        if meta.get(key) is not None:
            ids.append(str(meta[key]))
    if meta.get("task_id") is not None:
        if meta.get("trial") is not None:
            ids.append(f"{meta['task_id']}:{meta['trial']}")
        ids.append(str(meta["task_id"]))
    return [i for i in dict.fromkeys(ids) if i]


def apply_labels(traj: Trajectory, labels: Mapping[str, Label], success_threshold: float = 1.0) -> Trajectory:
    """``traj`` with the outcome of its label, if ``labels`` has one for any of its ids.

    A label overrides the outcome the source file gave; that one is kept in
    ``metadata["source_outcome"]`` and the matched id in ``metadata["label_id"]``. A label
    with a grader view replaces the trajectory's.
    """
    for key in candidate_ids(traj):
        label = labels.get(key)
        if label is None:
            continue
        success, reward = label.outcome(success_threshold)
        metadata = {**traj.metadata, "label_id": key}
        if traj.success is not None or traj.reward is not None:
            metadata["source_outcome"] = {"success": traj.success, "reward": traj.reward}
        update = {"success": success, "reward": reward, "metadata": metadata}
        if label.grader is not None:
            update["grader"] = label.grader
        return traj.model_copy(update=update)
    return traj
