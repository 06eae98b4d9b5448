"""The closing note of ``distill`` on the terminal: what changed in the skill, a short diff
excerpt, why trajectories yielded nothing, why edits were refused, and where the full report is.

It reads the same run dir as the report (``load_run``), so what the terminal says and
what ``report.html`` shows cannot disagree.
"""

from __future__ import annotations

import difflib

from trace2skill.report.diff import Change, skill_diff
from trace2skill.report.load import RunData
from trace2skill.skill.model import Skill

EXCERPT_LINES = 8
WEAK_MODEL_NOTE = (
    "Note: the embedded default model (Gemma 3 270M, a base model) proves the pipeline runs; "
    "its lessons are weak. For a useful skill use a real model: --model-path YOUR.gguf, or "
    "--backend openai --base-url URL --model NAME (any OpenAI-compatible server)."
)


def closing_note(run: RunData, *, default_model: bool) -> str:
    """Lines for the end of a run; ``default_model`` adds the note on the embedded 270M model."""
    lines = _changes(run) + _yielded_nothing(run) + _refused(run)
    lines.append(f"Full report (diff with evidence, topics, what was left out and why): {run.run_dir / 'report.html'}")
    if default_model:
        lines.append(WEAK_MODEL_NOTE)
    return "\n".join(lines)


def _changes(run: RunData) -> list[str]:
    if run.s0 is None or run.skill is None:
        return ["The skill diff is unavailable: " + "; ".join(run.notes)]
    changes = skill_diff(run.s0, run.skill, run.provenance, run.places)
    if not changes:
        return [f"The skill is unchanged: no edit of this run reached {run.skill.name}/ (the report says why)."]
    added, removed = line_counts(run.s0, run.skill)
    out = [f"What changed in {run.skill.name}/: {_tally(changes)}; {added} line(s) added, {removed} removed."]
    width = max(len(c.place) for c in changes)
    for c in changes:
        support = f"support {c.support}" if c.support else "by code"
        out.append(f"  {_verb(c):<15} {c.place:<{width}}  {c.lines_before:>3} -> {c.lines_after:<3} lines  ({support})")
    shown = _excerpt(changes)
    if shown is not None:
        out.append(f"Excerpt of the diff ({shown.place}):")
        body = [line for line in shown.diff if line[1:].strip() and not line.startswith("@@")]
        out += ["  " + line for line in body[:EXCERPT_LINES]]
        if len(body) > EXCERPT_LINES:
            out.append(f"  ... {len(body) - EXCERPT_LINES} more line(s) in the report")
    return out


def line_counts(s0: Skill, skill: Skill) -> tuple[int, int]:
    """Lines added and removed over SKILL.md and every other file, S0 to the result."""
    before = {"SKILL.md": s0.skill_md(), **s0.files}
    after = {"SKILL.md": skill.skill_md(), **skill.files}
    added = removed = 0
    for path in before.keys() | after.keys():
        for line in difflib.unified_diff(before.get(path, "").splitlines(), after.get(path, "").splitlines(), n=0, lineterm=""):
            if line.startswith("+") and not line.startswith("+++"):
                added += 1
            elif line.startswith("-") and not line.startswith("---"):
                removed += 1
    return added, removed


# (change kind, whether it is a SKILL.md section) -> (label of its row, phrase of the tally)
_LABELS = {
    ("added", True): ("section added", "section(s) added"),
    ("changed", True): ("section edited", "section(s) edited"),
    ("removed", True): ("section removed", "section(s) removed"),
    ("added", False): ("file created", "file(s) created"),
    ("to references", False): ("reference added", "reference(s) created"),
    ("changed", False): ("file edited", "file(s) edited"),
    ("removed", False): ("file removed", "file(s) removed"),
}


def _verb(change: Change) -> str:
    return _LABELS[(change.kind, bool(change.section))][0]


def _tally(changes: list[Change]) -> str:
    counts: dict[str, int] = {}
    for c in changes:
        phrase = _LABELS[(c.kind, bool(c.section))][1]
        counts[phrase] = counts.get(phrase, 0) + 1
    return ", ".join(f"{n} {phrase}" for phrase, n in counts.items())


def _excerpt(changes: list[Change]) -> Change | None:
    """The change to quote: the best-supported one that adds lines, else the first."""
    with_lines = [c for c in changes if any(line.startswith("+") for line in c.diff)]
    return max(with_lines, key=lambda c: (c.support, c.lines_after - c.lines_before), default=changes[0] if changes else None)


def _yielded_nothing(run: RunData) -> list[str]:
    """One line per status other than analyzed, with its most frequent reason."""
    out = []
    for status in ("no_lesson", "quarantined", "failed", "skipped"):
        count = getattr(run.summary, status)
        reasons = [r for r in run.reasons if r.status == status]
        if count and reasons:
            top = reasons[0]
            out.append(f"{count} trajectory(ies) {status}; most often ({top.count}): {_short(top.reason)}")
    return out


def _refused(run: RunData) -> list[str]:
    """The edits the guards refused at apply time, with the most frequent reason."""
    if not run.refusals:
        return []
    reasons: dict[str, int] = {}
    for refusal in run.refusals:
        reasons[refusal.reason] = reasons.get(refusal.reason, 0) + 1
    reason, count = max(reasons.items(), key=lambda item: item[1])
    return [f"{len(run.refusals)} edit(s) refused by the guards; most often ({count}): {_short(reason)}"]


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
