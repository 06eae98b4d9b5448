"""How a run's outcomes were found, counted before and after the run; a run with none stops early.

An outcome comes from a labels file or sidecar (``label``), the source's own verdict
(``grader``), a signal in the trace (``signal``, ``ingest.signals``) or the outcome judge
(``judged``, ``analysts.judge``; only on a backend that can judge). Before Ray starts, the
driver reads the first records: when none of them has an outcome and no judge will run,
nothing could be analysed, and the run stops with what to pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from trace2skill.ingest import IngestError, Label, read_file
from trace2skill.ingest.labels import ID_KEYS
from trace2skill.schema import Trajectory

PREFLIGHT_RECORDS = 200  # trajectories read on the driver before the run, at most
SOURCES = ("label", "grader", "signal", "judged")


class NoOutcomeError(IngestError, ValueError):
    """No trajectory read has an outcome and no outcome judge will run."""


def judge_available(backend: str, judge: bool) -> bool:
    """Whether the outcome judge runs: the recipe leaves it on and the backend is not the embedded model."""
    return judge and backend != "embedded"


def no_outcome_message(seen: int, backend: str) -> str:
    """What to do when none of ``seen`` trajectories has an outcome."""
    ids = ", ".join(ID_KEYS)
    return (
        f"none of the first {seen} trajectory(ies) has an outcome (no success or reward in the files, no label, no signal in the trace: "
        f"a final test run, a failed patch, the user's last turn), and the {backend} backend has no outcome judge. "
        f"Pass --labels FILE: JSONL rows with an id ({ids}) and success (true/false) or reward (a number), "
        'e.g. {"session_id": "...", "success": true}; or put a SWE-bench report.json beside each trajectory; '
        "or use a backend that judges outcomes (--backend openai --base-url URL --model M). See docs/formats.md#where-outcomes-come-from."
    )


def check_outcomes(plan: list[dict[str, str]], labels: Mapping[str, Label] | None, *, success_threshold: float, backend: str, judge: bool) -> None:
    """Raise NoOutcomeError when none of the first ``PREFLIGHT_RECORDS`` trajectories of ``plan``
    has an outcome and the judge will not run; return at the first outcome found."""
    if judge_available(backend, judge):
        return
    seen = 0
    for row in plan:
        records = read_file(Path(row["path"]), fmt=row["format"], success_threshold=success_threshold, id_scope=row["scope"], labels=labels, redact=False)
        for record in records:
            if not isinstance(record, Trajectory):
                continue
            if record.success is not None:
                return
            seen += 1
            if seen >= PREFLIGHT_RECORDS:
                raise NoOutcomeError(no_outcome_message(seen, backend))
    if seen:
        raise NoOutcomeError(no_outcome_message(seen, backend))


def outcome_counts(sources: Counter[str]) -> str:
    """``{source: n}`` (``""`` for unknown) as one phrase: ``2 label, 1 signal, 3 judged, 1 unknown``."""
    parts = [f"{sources[s]} {s}" for s in SOURCES if sources.get(s)]
    if sources.get(""):
        parts.append(f"{sources['']} unknown")
    return ", ".join(parts) or "none"
