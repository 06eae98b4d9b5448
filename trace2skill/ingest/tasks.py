"""Which task a record is a run of, as its source names it.

``task_key_of`` is what an adapter stores as ``Trajectory.task_key`` (the one key that
pairing, the holdout split and the budget strata group by: ``schema.task_key``);
``source_task_id`` is the bare id a user's runner looks the task up by.
"""

from __future__ import annotations

from typing import Any

TASK_KEY_FIELDS = ("task_id", "instance_id")


def _id_field(metadata: dict[str, Any]) -> str | None:
    return next((n for n in TASK_KEY_FIELDS if metadata.get(n) is not None and str(metadata[n]).strip()), None)


def source_task_id(metadata: dict[str, Any]) -> str | None:
    """The source's own id of the task (``task_id``, else ``instance_id``), as its benchmark
    names it: what a user's runner looks the task up by."""
    name = _id_field(metadata)
    return str(metadata[name]) if name else None


def task_key_of(metadata: dict[str, Any]) -> str | None:
    """The task identity an adapter put in ``metadata`` (``task_id``, else ``instance_id``),
    prefixed with its field (and the ``domain``/``env`` where the record names one), so a
    tau-bench task 3 and a SWE-bench instance, or airline and retail task 3, never meet."""
    name = _id_field(metadata)
    if name is None:
        return None
    scope = metadata.get("domain") or metadata.get("env")
    return f"{name}:{scope}/{metadata[name]}" if isinstance(scope, str) and scope else f"{name}:{metadata[name]}"
