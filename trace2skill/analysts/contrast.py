"""Contrastive pairs: a failed run next to a successful run of the same task.

Pools of trajectories hold repeated attempts at one task (benchmark trials, several agents
or seeds on one SWE-bench instance, production retries). When a failure has a successful
*sibling*, the error analyst sees the sibling's decisive steps next to the failure and names
the first step where the two runs part ways.

- **Task key** (``schema.task_key``): the adapter's typed ``Trajectory.task_key`` (tau-bench
  and tau2 task id, SWE-bench instance id), else a hash of the task text, whitespace
  collapsed, so runs of identical task text pair; no task text, no key, no pairing.
- **Sibling rule** (:data:`SIBLING_ORDER`, :data:`MAX_CANDIDATES`): among the successful
  runs with the same key, the one with the fewest steps (system messages not counted),
  ties broken by the smaller trajectory id. A candidate that cannot be read, or has no
  step to show, is skipped, the reason is kept and the next is tried, up to
  ``MAX_CANDIDATES``. No sibling: the plain analyst runs.

Plain functions over Arrow rows (dicts): :func:`choose_sibling` applies the rule to one
task's runs; the Ray Data stage in ``trace2skill.pipeline.pair`` ranks by the same
``SIBLING_ORDER`` over many tasks at once.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, Field, ValidationError

from trace2skill.analysts.models import AnalysisResult, ErrorAnalysis
from trace2skill.analysts.fit import fit_steps
from trace2skill.analysts.render import step_text
from trace2skill.prompting import fence_data, load_prompt, prompt_version
from trace2skill.schema import Step, Trajectory, counted_steps

MAX_SIBLING_STEPS = 24  # decisive steps kept from a sibling (first and last halves when longer)
SIBLING_SHARE = 0.25  # of the prompt's room (context less the answer's) the sibling's steps may fill
CHARS_PER_TOKEN = 3  # a cautious estimate (code and logs run denser than prose's 4)
# The sibling rule's ranking of a task's successful runs, as Arrow sort keys over columns
# ``length`` (``schema.counted_steps``) and ``id``: the shortest run first, ties by the smaller id.
SIBLING_ORDER = [("length", "ascending"), ("id", "ascending")]
MAX_CANDIDATES = 4  # a task's successful runs tried, in that order, before it is left without a sibling


class SiblingView(BaseModel):
    """What the error analyst is shown of a successful sibling: its decisive steps."""

    id: str
    task_key: str
    total_steps: int  # the sibling's steps, system messages not counted
    steps: list[Step] = Field(default_factory=list)  # its decisive steps, original indices


class Pairing(BaseModel):
    """The sibling chosen for one failure (None: none usable) and why candidates were skipped."""

    sibling: SiblingView | None = None
    skipped: list[str] = Field(default_factory=list)


def decisive_steps(traj: Trajectory, max_steps: int = MAX_SIBLING_STEPS) -> list[Step]:
    """The steps that carry a run: its tool calls, their results and the messages, without
    system prompts and reasoning; over ``max_steps``, the first and last halves."""
    kept = [s for s in traj.steps if s.role != "system" and s.kind != "reasoning"]
    if len(kept) > max_steps:
        half = max_steps // 2
        kept = kept[:half] + kept[-half:]
    return kept


def sibling_view(row: dict[str, Any], key: str) -> SiblingView:
    """The view of one successful run; raises ValueError when it cannot be read or shows nothing."""
    try:
        traj = Trajectory.from_row(row)
    except (ValidationError, ValueError, TypeError) as exc:
        raise ValueError(f"unreadable ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    steps = decisive_steps(traj)
    if not steps:
        raise ValueError("no step to show")
    return SiblingView(id=traj.id, task_key=key, total_steps=counted_steps(traj.steps), steps=steps)


def ranked_siblings(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first ``MAX_CANDIDATES`` of ``candidates`` (Arrow rows) in ``SIBLING_ORDER``."""
    ranks = pa.table({"length": [counted_steps(r.get("steps") or []) for r in candidates], "id": [str(r.get("id")) for r in candidates]})
    return [candidates[i] for i in pc.sort_indices(ranks, sort_keys=SIBLING_ORDER).to_pylist()[:MAX_CANDIDATES]]


def choose_sibling(candidates: list[dict[str, Any]], key: str) -> Pairing:
    """The first readable run of ``candidates`` (Arrow rows of one task key, successes only)
    in the sibling rule's ranking; the candidates skipped on the way, with their reasons."""
    skipped: list[str] = []
    for row in ranked_siblings(candidates):
        try:
            return Pairing(sibling=sibling_view(row, key), skipped=skipped)
        except ValueError as exc:
            skipped.append(f"sibling {row.get('id')} skipped: {exc}")
    return Pairing(skipped=skipped)


def pair_group(rows: list[dict[str, Any]], key: str) -> list[str | None]:
    """For each row of one task key: its :class:`Pairing` as JSON if it is a failure, else None.

    Every failure of the group gets the same sibling (the rule does not depend on the
    failure), so the choice is made once per group."""
    failures = [r for r in rows if r.get("success") is False]
    if not failures:
        return [None] * len(rows)
    pairing = choose_sibling([r for r in rows if r.get("success") is True], key).model_dump_json()
    return [pairing if r.get("success") is False else None for r in rows]


def sibling_chars(context_tokens: int, output_tokens: int) -> int:
    """Characters the sibling's steps may fill in a prompt: ``SIBLING_SHARE`` of its room."""
    return int(max(context_tokens - output_tokens, 0) * SIBLING_SHARE) * CHARS_PER_TOKEN


def render_sibling(view: SiblingView, room_chars: int, first: int | None = None, last: int | None = None) -> str:
    """The sibling's decisive steps (those with index in ``first..last`` when given), fitted
    to ``room_chars`` by the rule of ``trace2skill.analysts.fit``, with a header that says
    which run it is and how long it was, and a note of what was cut."""
    steps = [step_text(s) for s in view.steps if (first is None or s.index >= first) and (last is None or s.index <= last)]
    fitted = fit_steps(steps, room_chars)
    header = f"Successful sibling run {fence_data(view.id)}: {view.total_steps} steps, {len(view.steps)} decisive ones shown by their own indices."
    if not steps:
        return header + "\n(no sibling step in that range)"
    note = fitted.note()
    return "\n".join([header, *fitted.lines()] + ([f"({note})"] if note else []))


class ContrastiveErrorAnalysis(ErrorAnalysis):
    """The error analysis asked for when the failure has a successful sibling."""

    divergence_step: int | None = Field(
        description="Index of the failed run's first step where it parts from the successful sibling (null: no sibling, or no divergence)."
    )


def sibling_block(pairing: Pairing | None, room_chars: int) -> str:
    """The prompt block that puts the sibling next to the failure, its steps fitted to
    ``room_chars`` ("" without a sibling)."""
    if pairing is None or pairing.sibling is None:
        return ""
    return load_prompt(__package__, "sibling").substitute(sibling=render_sibling(pairing.sibling, room_chars))


def with_contrast(result: AnalysisResult, pairing: Pairing | None) -> AnalysisResult:
    """``result`` with the sibling it was contrasted with on it and on its lessons, and the
    reasons any candidate sibling was skipped."""
    if pairing is None:
        return result
    sibling_id = pairing.sibling.id if pairing.sibling else ""
    shown = {"sibling_prompt": prompt_version(__package__, "sibling")} if sibling_id else {}
    lessons = [lesson.model_copy(update={"contrast_with": sibling_id or None, "metadata": {**lesson.metadata, **shown}}) for lesson in result.lessons]
    return result.model_copy(update={"sibling_id": sibling_id, "lessons": lessons, "notes": [*result.notes, *pairing.skipped]})
