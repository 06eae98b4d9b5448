"""The fitting rule: how the steps of a run are fitted to the room a prompt has for them.

The room is what the model's context leaves for the evidence (the context window minus
the instructions, S0 and the answer's room), in characters. The rule spends it on the
evidence and cuts the least informative text first:

1. Everything fits: every step is shown whole, every character.
2. Lines repeated from an earlier step (prompts, status footers, unchanged file dumps shown
   again) go first; error lines stay.
3. Then long steps are cut in the middle to a per-step cap, the largest cap that fits the
   room (so the cap derives from the budget, never a constant). The middle keeps its
   informative lines: error output (tracebacks, failing assertions, non-zero exits) and
   diffs. Steps that carry error output, the opening steps and the steps before the
   grader's verdict (the last ones) are capped only when capping the others is not
   enough.
4. Then whole steps are left out from the middle of the run outwards: ordinary ones
   first, then the other protected ones, and tool output with error lines last (an
   agent's prose that mentions an error is not its error output).

Every cut is recorded (:class:`Cut`), and :meth:`FittedSteps.note` says in the prompt
which steps lost how many characters and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

HEAD_STEPS = 2  # the opening request: what the task was
VERDICT_STEPS = 4  # the last steps, which the grader's verdict judged
MIN_STEP_CHARS = 240  # below this a cut step says nothing; leave it out instead
MIN_REPEATED_CHARS = 80  # shorter runs of repeated lines cost less than their marker


@dataclass(frozen=True)
class ScreenedPattern:
    """A regex behind a cheap screen: ASCII text that holds none of ``needles`` (in lower case)
    and has no line starting with one of ``line_starts`` cannot match, so the regex runs only
    on the few lines that might. Searching every piece of every cut step took half of an
    analysis's CPU on real-shaped runs (docs/performance.md). Text with other characters
    always goes to the regex: under IGNORECASE a non-ASCII letter can match an ASCII one."""

    pattern: re.Pattern[str]
    needles: tuple[str, ...]
    line_starts: str = ""

    def search(self, text: str) -> bool:
        """Whether the pattern matches somewhere in ``text``."""
        if text.isascii():
            lower = text.lower()
            if not any(n in lower for n in self.needles) and not any(text.startswith(c) or f"\n{c}" in text for c in self.line_starts):
                return False
        return self.pattern.search(text) is not None


_ERROR_NEEDLES = ("traceback", "error", "exception", "fail", "assert", "exit", "non-zero")
ERROR_LINE = ScreenedPattern(
    re.compile(r"Traceback|Error\b|Exception\b|FAIL|assert|exit (?:code|status):? *[1-9]|non-zero", re.IGNORECASE),
    _ERROR_NEEDLES,
)
INFORMATIVE = ScreenedPattern(
    re.compile(
        r"Traceback|Error\b|Exception\b|FAIL|assert|exit (?:code|status):? *[1-9]|non-zero|"
        r"^\s*File \".*\", line \d+|^(?:---|\+\+\+|@@) |^[+-](?![+-])",
        re.IGNORECASE | re.MULTILINE,
    ),
    (*_ERROR_NEEDLES, 'file "', "@@"),
    line_starts="+-",
)


class StepText(BaseModel):
    """One step as the prompt shows it: ``prefix`` (``[i] role: ``) then ``body``."""

    index: int
    prefix: str
    body: str
    output: bool = False  # what a tool returned, not the agent's own text

    def size(self) -> int:
        return len(self.prefix) + len(self.body) + 1


CutKind = Literal["repeated lines", "middle", "left out"]


class Cut(BaseModel):
    """What the rule took from one step."""

    index: int
    chars: int
    how: CutKind


def gap_marker(steps: int) -> str:
    return f"[... {steps} steps left out to fit the context ...]"


class FittedSteps(BaseModel):
    """The steps as fitted, in order (``None``: the step was left out), and the cuts."""

    steps: list[StepText | None]
    cuts: list[Cut] = Field(default_factory=list)

    def lines(self) -> list[str]:
        """One text per shown step; a run of left-out steps is one marker line."""
        out: list[str] = []
        gap = 0
        for step in self.steps:
            if step is None:
                gap += 1
                continue
            if gap:
                out.append(gap_marker(gap))
                gap = 0
            out.append(step.prefix + step.body)
        return [*out, gap_marker(gap)] if gap else out

    def note(self) -> str:
        """What was cut, for the prompt ("" when nothing was)."""
        if not self.cuts:
            return ""
        parts = []
        for how in ("repeated lines", "middle", "left out"):
            cuts = [c for c in self.cuts if c.how == how]
            if cuts:
                chars = sum(c.chars for c in cuts)
                what = {
                    "repeated lines": "lines repeated from earlier steps removed from",
                    "middle": "cut in the middle (error lines kept)",
                    "left out": "left out whole",
                }[how]
                parts.append(
                    f"steps {_ranges([c.index for c in cuts])} {what} ({chars:,} characters)"
                )
        return (
            "To fit the context, some of the run was cut: "
            + "; ".join(parts)
            + ". The rest is shown whole."
        )

    def steps_cut(self) -> int:
        """Steps that lost some or all of their text."""
        return len({c.index for c in self.cuts})


def _ranges(indices: list[int]) -> str:
    indices = sorted(set(indices))
    spans: list[list[int]] = []
    for i in indices:
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def informative(text: str) -> bool:
    """Whether ``text`` holds error output or a diff."""
    return INFORMATIVE.search(text)


def error_output(step: StepText) -> bool:
    """Whether ``step`` is a tool's output with an error line in it."""
    return step.output and ERROR_LINE.search(step.body)


def protected(steps: list[StepText]) -> list[bool]:
    """The steps cut last: the opening ones, those before the verdict, those with error output."""
    n = len(steps)
    return [
        i < HEAD_STEPS or i >= n - VERDICT_STEPS or informative(s.body)
        for i, s in enumerate(steps)
    ]


def drop_repeated_lines(steps: list[StepText]) -> tuple[list[StepText], list[Cut]]:
    """``steps`` without the lines an earlier step already showed (error lines stay); each
    run of such lines of at least ``MIN_REPEATED_CHARS`` becomes one marker line."""
    seen: set[str] = set()
    out, cuts = [], []
    for step in steps:
        lines = step.body.split("\n")
        kept: list[str] = []
        run: list[str] = []
        for line in [*lines, None]:
            repeated = (
                line is not None
                and line.strip()
                and line in seen
                and not informative(line)
            )
            if repeated:
                run.append(line)
                continue
            if sum(len(r) + 1 for r in run) >= MIN_REPEATED_CHARS:
                kept.append(
                    f"[... {len(run)} lines repeated from earlier steps cut ...]"
                )
            else:
                kept += run
            run = []
            if line is not None:
                kept.append(line)
        seen.update(lines)
        body = "\n".join(kept)
        if len(body) < len(step.body):
            cuts.append(
                Cut(
                    index=step.index,
                    chars=len(step.body) - len(body),
                    how="repeated lines",
                )
            )
        out.append(step.model_copy(update={"body": body}))
    return out, cuts


def cut_middle(body: str, max_chars: int) -> str:
    """``body`` in about ``max_chars``: its error lines first, then its diff and traceback
    lines (up to half of it), then text from its head and its tail; each run of cut text is
    one marker line. Lines longer than a quarter of ``max_chars`` count as several pieces."""
    if len(body) <= max_chars:
        return body
    piece = max(max_chars // 4, 40)
    lines = body.split("\n")
    segments = [
        (line[i : i + piece], i + piece >= len(line) and n < len(lines) - 1)
        for n, line in enumerate(lines)
        for i in range(0, max(len(line), 1), piece)
    ]
    keep, used = [False] * len(segments), 0
    for pattern, order in ((ERROR_LINE, reversed), (INFORMATIVE, list)):
        # error lines from the last: a traceback ends with its exception, a test run with its failures
        for i, (text, _) in order(list(enumerate(segments))):
            if not keep[i] and used + len(text) + 1 <= max_chars // 2 and pattern.search(text):  # the search last: the costly test
                keep[i], used = True, used + len(text) + 1
    for i in _head_and_tail(len(segments)):
        if not keep[i]:
            if used + len(segments[i][0]) + 1 > max_chars:
                break
            keep[i], used = True, used + len(segments[i][0]) + 1
    out, cut = "", 0
    for (text, newline), kept in zip([*segments, ("", False)], [*keep, True]):
        if not kept:
            cut += len(text) + newline
            continue
        if cut:
            out += (
                "" if not out or out.endswith("\n") else "\n"
            ) + f"[...{cut} chars cut...]\n"
            cut = 0
        out += text + ("\n" if newline else "")
    return out


def _head_and_tail(n: int) -> list[int]:
    """0, n-1, 1, n-2, ...: the order lines are kept from a step's two ends."""
    order = []
    for a in range((n + 1) // 2):
        order += [a] if a == n - 1 - a else [a, n - 1 - a]
    return order


def _capped_size(steps: list[StepText], which: list[bool], cap: int) -> int:
    return sum(
        s.size() if not w else len(s.prefix) + min(len(s.body), cap + 80) + 1
        for s, w in zip(steps, which)
    )


def step_cap(steps: list[StepText], which: list[bool], room: int) -> int | None:
    """The largest per-step cap on the ``which`` steps that fits ``room`` (None: not even
    ``MIN_STEP_CHARS`` does)."""
    low, high = (
        MIN_STEP_CHARS,
        max((len(s.body) for s, w in zip(steps, which) if w), default=0),
    )
    if _capped_size(steps, which, low) > room:
        return None
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (
            (mid, high) if _capped_size(steps, which, mid) <= room else (low, mid - 1)
        )
    return low


def _cap(
    steps: list[StepText], which: list[bool], cap: int
) -> tuple[list[StepText], list[Cut]]:
    out, cuts = [], []
    for step, w in zip(steps, which):
        body = cut_middle(step.body, cap) if w else step.body
        if len(body) < len(step.body):
            cuts.append(
                Cut(index=step.index, chars=len(step.body) - len(body), how="middle")
            )
        out.append(step.model_copy(update={"body": body}))
    return out, cuts


def _shown_size(steps: list[StepText | None]) -> int:
    return len("\n".join(FittedSteps(steps=steps).lines())) + 1


def _leave_out(
    steps: list[StepText], keep: list[bool], room: int
) -> tuple[list[StepText | None], list[Cut]]:
    """Leave out steps from the middle outwards, the unprotected ones first and tool output
    with error lines last, until ``room`` fits; the opening steps and the last one always stay."""
    out: list[StepText | None] = list(steps)
    cuts: list[Cut] = []
    centre = len(steps) / 2
    order = sorted(
        range(HEAD_STEPS, max(len(steps) - 1, HEAD_STEPS)),
        key=lambda i: (keep[i], error_output(steps[i]), abs(i - centre)),
    )
    size = _shown_size(out)
    for i in order:
        if size <= room:
            break
        step = out[i]
        assert step is not None
        before = out[i - 1] is None, i + 1 < len(out) and out[i + 1] is None
        out[i] = None
        # the step's line goes; a marker line comes unless a neighbour's gap absorbs it (two gaps joined: one marker less)
        size -= (
            step.size() - (50 if not any(before) else 0) + (50 if all(before) else 0)
        )
        cuts.append(Cut(index=step.index, chars=len(step.body), how="left out"))
    return out, cuts


def fit_steps(steps: list[StepText], room: int) -> FittedSteps:
    """``steps`` fitted to ``room`` characters by the rule in this module's docstring."""
    if sum(s.size() for s in steps) <= room:
        return FittedSteps(steps=list(steps))
    keep = protected(steps)
    steps, cuts = drop_repeated_lines(steps)
    if sum(s.size() for s in steps) <= room:
        return FittedSteps(steps=steps, cuts=cuts)
    ordinary = [not k for k in keep]
    for which in (ordinary, [True] * len(steps)):
        cap = step_cap(steps, which, room)
        if cap is not None:
            capped, more = _cap(steps, which, cap)
            return FittedSteps(steps=capped, cuts=_merged(cuts + more))
    capped, more = _cap(steps, [True] * len(steps), MIN_STEP_CHARS)
    fitted, left = _leave_out(capped, keep, room)
    left_ids = {c.index for c in left}
    return FittedSteps(
        steps=fitted,
        cuts=_merged([c for c in cuts + more if c.index not in left_ids] + left),
    )


def _merged(cuts: list[Cut]) -> list[Cut]:
    """One cut per step and kind, in step order."""
    total: dict[tuple[int, CutKind], int] = {}
    for c in cuts:
        total[(c.index, c.how)] = total.get((c.index, c.how), 0) + c.chars
    return [Cut(index=i, how=how, chars=n) for (i, how), n in sorted(total.items())]
