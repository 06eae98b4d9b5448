"""``distill --update PREVIOUS``: a new run that starts from a finished run's skill and analyses
only what that run did not (docs/library.md, "Updates"). No Ray here.

A trajectory is ``seen`` when the previous manifest has its id with the same content hash
(``schema.Trajectory.content_hash``) and a status of one that was analysed; the same id with
another hash is ``changed`` (analysed again); any other id is ``new``. The update's options
are the previous run's, with the command line's flags on top, as ``--resume`` keeps them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from trace2skill.analysts.models import AnalysisResult
from trace2skill.ingest import read_file, read_labels
from trace2skill.ingest.inputs import sort_inputs
from trace2skill.run.checkpoint import RUN_FORMAT, STATE_FILE, RunError, analysis_table, load_state, run_folder
from trace2skill.run.options import DistillConfig, RunOptions
from trace2skill.run.outputs import MANIFEST
from trace2skill.run.recipes import with_flags
from trace2skill.schema import Trajectory

ANALYSED = ("analyzed", "no_lesson", "seen")  # previous statuses whose trajectory a new run need not analyse again
PREVIOUS_HASH, PREVIOUS_SOURCE = "previous_hash", "previous_outcome_source"  # the previous manifest's columns, joined beside the new rows
# Options of the previous run that describe its own inputs and outputs, not how to distill:
# an update gets them anew (its inputs, --out, the previous skill as S0 in deepen mode).
NOT_CARRIED = ("inputs", "out_dir", "run_dir", "skill_dir", "mode", "draft", "limit", "update")
HASH_CHUNK = 65_536  # ids hashed per Arrow chunk by plan --update
UPDATE_JSON = "update.json"  # the read stage's counts, so that a resumed update reports them
NO_PREVIOUS = "no previous run (a new skill)"  # a library update's new skill: every trajectory new


class UpdateCounts(BaseModel):
    """What an update found: trajectories seen before, changed since, new; the analysis calls it
    made and (estimated) those a full run over every trajectory would make."""

    previous: str
    seen: int = 0
    changed: int = 0
    new: int = 0
    calls: int = 0
    full_calls: int = 0

    def line(self) -> str:
        """One line for the console and the summary table."""
        share = f" ({self.calls / self.full_calls:.0%})" if self.full_calls else ""
        return (
            f"update of {self.previous}: {self.seen} seen (no call), {self.changed} changed, {self.new} new; "
            f"{self.calls} analysis call(s), a full rerun ~{self.full_calls}{share}"
        )


def previous_skill(previous_run: Path) -> Path:
    """The skill folder a finished run wrote (its ``summary.json`` says where)."""
    summary = json.loads((previous_run / "summary.json").read_text())
    return Path(summary["skill_dir"])


def finished_run(path: Path) -> Path:
    """The run folder of the finished distill ``path`` names (its output or run folder); a
    clear ``RunError`` for anything else, a run of another format included."""
    run_dir = run_folder(path)
    state_file = run_dir / STATE_FILE
    if not state_file.is_file():
        raise RunError(f"--update needs a finished distill's output or run folder; {path} holds no {STATE_FILE}")
    saved = json.loads(state_file.read_text())
    if saved.get("config", {}).get("library") is not None:
        raise RunError(f"{run_dir} is a library's run: update it with --library NEW_OUT (distill INPUT... --library NEW_OUT --update {path})")
    found = saved.get("format")
    if found != RUN_FORMAT:
        raise RunError(
            f"{run_dir} is a run of format {found}, written before trajectories had content hashes (format {RUN_FORMAT}); "
            "--update cannot tell its trajectories' contents apart: distill the whole pool once with this version, then update that run"
        )
    state = load_state(run_dir)
    if state is None or not state.finished or not (run_dir / "summary.json").is_file():
        raise RunError(f"{run_dir} holds an unfinished run: finish it first (trace2skill distill --resume {run_dir})")
    return run_dir


def update_settings(previous: Path, flags: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    """The previous run's folder and its saved options (less ``NOT_CARRIED``) with ``flags`` on top."""
    run_dir = finished_run(previous)
    state = load_state(run_dir)
    assert state is not None  # finished_run checked it
    if flags.get("skill_dir") is not None or flags.get("draft"):
        raise RunError("--update starts from the previous run's skill; --skill and --draft do not apply")
    return run_dir, carried_settings(state.config, flags)


def carried_settings(config: dict[str, Any], flags: dict[str, Any]) -> dict[str, Any]:
    """A previous run's saved ``config`` less ``NOT_CARRIED``, with ``flags`` on top."""
    return with_flags({k: v for k, v in config.items() if k not in NOT_CARRIED}, flags)


def update_config(previous: Path, inputs: list[Path], out_dir: Path, flags: dict[str, Any]) -> DistillConfig:
    """The update's configuration: the previous run's saved options, ``flags`` (the ones the
    command line gave) on top, the new ``inputs`` and ``out_dir``, and the previous skill as
    S0 in deepen mode."""
    run_dir, settings = update_settings(previous, flags)
    return as_update(DistillConfig.model_validate({**settings, "inputs": inputs, "out_dir": out_dir}), run_dir)


def as_update(cfg: DistillConfig, previous_run: Path) -> DistillConfig:
    """``cfg`` as the update of the finished run ``previous_run``: its skill as S0 in deepen
    mode; refused when it would write over that run or its skill."""
    skill = previous_skill(previous_run)
    cfg = cfg.model_copy(update={"skill_dir": skill, "mode": "deepen", "draft": False, "update": previous_run})
    if {cfg.out_dir.resolve(), cfg.resolved_run_dir.resolve()} & {skill.parent.resolve(), previous_run.resolve()}:
        raise RunError(f"--update writes a new run and leaves {previous_run} intact: give another --out")
    return cfg


def seen_reason(previous: Path) -> str:
    return f"seen: analysed by the previous run {previous} (same id and content hash); its evidence carries on in provenance.parquet"


def changed_note(previous: Path) -> str:
    return f"changed since the previous run {previous} (same id, other content hash): analysed again"


def seen_mask(batch: pa.Table) -> pa.ChunkedArray:
    """Which rows of a joined batch are seen: the previous run had the id with the same hash."""
    return pc.fill_null(pc.equal(batch["content_hash"], batch[PREVIOUS_HASH]), False)


def seen_table(batch: pa.Table, previous: Path) -> pa.Table:
    """The ``seen`` results of a batch of new trajectories joined with the previous hashes
    (``id``, ``source_file``, ``content_hash``, ``PREVIOUS_HASH``, ``PREVIOUS_SOURCE``), as an analysis part."""
    seen = batch.filter(seen_mask(batch))
    reason = seen_reason(previous)
    results = [
        AnalysisResult(trajectory_id=tid, source_file=src or "", status="seen", reason=reason, content_hash=digest, outcome_source=source or "")
        for tid, src, digest, source in zip(*(seen[c].to_pylist() for c in ("id", "source_file", "content_hash", PREVIOUS_SOURCE)))
    ]
    return analysis_table(results)


def split_counts(batch: pa.Table) -> dict[str, int]:
    """How many rows of a joined batch are seen, changed and new."""
    known = pc.is_valid(batch[PREVIOUS_HASH])
    seen = pc.sum(seen_mask(batch)).as_py() or 0
    known_n = pc.sum(known).as_py() or 0
    return {"seen": seen, "changed": known_n - seen, "new": batch.num_rows - known_n}


def with_content_hashes(results: list[AnalysisResult], batch: pa.Table, changed: str | None) -> list[AnalysisResult]:
    """``results`` (of the rows of ``batch``) with their trajectory's content hash; in an
    update (``changed``: the note to add) a trajectory the previous run had under other
    contents says so."""
    hashes = dict(zip(batch["id"].to_pylist(), batch["content_hash"].to_pylist()))
    before = set()
    if changed is not None and PREVIOUS_HASH in batch.column_names:
        before = {tid for tid, prev in zip(batch["id"].to_pylist(), batch[PREVIOUS_HASH].to_pylist()) if prev is not None}
    return [
        r.model_copy(update={"content_hash": hashes.get(r.trajectory_id) or "", "notes": [*r.notes, changed] if r.trajectory_id in before else r.notes})
        for r in results
    ]


def full_run_calls(counts: UpdateCounts, calls: int, previous_run: Path) -> int:
    """The analysis calls a full run over every trajectory of the update would make: the calls
    per analysed trajectory measured in this update, or (when it analysed none) in the
    previous run's summary, times every trajectory."""
    analysed = counts.changed + counts.new
    if analysed and calls:
        per = calls / analysed
    else:
        before = json.loads((previous_run / "summary.json").read_text())
        sent = sum(int(before.get(k) or 0) for k in ("analyzed", "no_lesson", "failed"))
        per = int((before.get("analysis_usage") or {}).get("calls") or 0) / sent if sent else 1.0
    return round(per * (counts.seen + analysed))


def update_cost(run_dir: Path, previous_run: Path, calls: int) -> UpdateCounts:
    """The read stage's counts (``UPDATE_JSON``) with the update's analysis ``calls`` and a full run's."""
    counts = UpdateCounts.model_validate_json((run_dir / UPDATE_JSON).read_text())
    return counts.model_copy(update={"calls": calls, "full_calls": full_run_calls(counts, calls, previous_run)})


def planned_split(inputs: list[str], previous: Path, cfg: RunOptions) -> UpdateCounts:
    """``plan --update``: how many trajectories of ``inputs`` the update would find seen, changed
    and new."""
    return split_against(scanned_hashes(inputs, cfg), finished_run(previous))


def scanned_hashes(inputs: list[str], cfg: RunOptions) -> pa.Table:
    """The ``id`` and ``content_hash`` of every trajectory of ``inputs``, read and redacted as
    distill reads them (the hash is of the redacted run), kept as Arrow arrays (no Ray: a plan
    is one pass over the files)."""
    found = sort_inputs(inputs, cfg.input_format, include=cfg.include, exclude=cfg.exclude)
    labels = found.with_labels(read_labels(cfg.labels) if cfg.labels else None)
    chunks, ids, hashes = [], [], []
    for path, fmt, scope in found.scoped():
        for record in read_file(path, fmt=fmt, success_threshold=cfg.success_threshold, id_scope=scope, labels=labels, personal_data=cfg.redact.personal_data):
            if isinstance(record, Trajectory):
                ids.append(record.id)
                hashes.append(record.content_hash())
            if len(ids) == HASH_CHUNK:
                chunks.append(pa.table({"id": ids, "content_hash": hashes}))
                ids, hashes = [], []
    chunks.append(pa.table({"id": pa.array(ids, pa.string()), "content_hash": pa.array(hashes, pa.string())}))
    return pa.concat_tables(chunks)


def split_against(scanned: pa.Table, previous_run: Path) -> UpdateCounts:
    """How many of the ``scanned`` trajectories (``id``, ``content_hash``) the finished run
    ``previous_run`` analysed unchanged (seen), under other contents (changed), or not (new):
    a join with its manifest by Arrow."""
    previous_rows = pq.read_table(previous_run / MANIFEST, columns=["trajectory_id", "status", "content_hash"])
    analysed = previous_rows.filter(pc.and_(pc.is_in(previous_rows["status"], value_set=pa.array(ANALYSED)), pc.not_equal(previous_rows["content_hash"], "")))
    right = pa.table({"trajectory_id": analysed["trajectory_id"], PREVIOUS_HASH: analysed["content_hash"]})
    joined = scanned.join(right, keys="id", right_keys="trajectory_id", join_type="left outer")
    return UpdateCounts(previous=str(previous_run), **split_counts(joined))


def earlier_runs(run_dir: Path) -> list[Path]:
    """The runs ``run_dir`` updated, the latest first (each ``run.json`` names the one before);
    where an update's carried evidence was learned. Stops at a run that is gone or unreadable."""
    found: list[Path] = []
    state_file = run_dir / STATE_FILE
    while state_file.is_file():
        previous = json.loads(state_file.read_text()).get("config", {}).get("update")
        if not previous or Path(previous) in found or not Path(previous).is_dir():
            break
        found.append(Path(previous))
        state_file = Path(previous) / STATE_FILE
    return found
