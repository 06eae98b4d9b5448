"""The report's charts, drawn with matplotlib's Agg canvas and returned as PNG bytes.

Figures are built with ``matplotlib.figure.Figure`` and an explicit ``FigureCanvasAgg``
rather than ``pyplot``: no global figure registry, no GUI backend, nothing left open
when a run writes its report from a worker thread. Every chart draws a note instead of
failing when its data is empty, so a report of a run that yielded nothing still renders.
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from trace2skill.report.diff import section_lines
from trace2skill.report.load import STATUSES, TIERS, TopicCluster
from trace2skill.skill.model import Skill

COLORS = {
    "analyzed": "#2e7d32",
    "no_lesson": "#9e9e9e",
    "quarantined": "#ef6c00",
    "failed": "#c62828",
    "skipped": "#bdbdbd",
    "seen": "#a5d6a7",
    "skill": "#1565c0",
    "reference": "#6a1b9a",
    "refused": "#c62828",
    "dropped": "#9e9e9e",
    "failure": "#c62828",
    "success": "#2e7d32",
    "unknown": "#9e9e9e",
    "before": "#9e9e9e",
    "after": "#1565c0",
}
TIER_NAMES = {"skill": "SKILL.md", "reference": "references/", "refused": "refused", "dropped": "dropped"}
MAX_BARS = 20
DPI = 100


def outcome_chart(counts: dict[str, int]) -> bytes:
    """Trajectories per final manifest status."""
    fig, ax = _figure(6.0, 2.6)
    values = [counts.get(s, 0) for s in STATUSES]
    bars = ax.barh(list(STATUSES), values, color=[COLORS[s] for s in STATUSES])
    ax.bar_label(bars, padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("trajectories")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Outcome of {sum(values)} input record(s)")
    _room_for_labels(ax, max(values, default=0))
    return _png(fig)


def clusters_chart(clusters: list[TopicCluster]) -> bytes:
    """Lessons per topic cluster, split by lesson kind, the tier shown after the label."""
    shown = clusters[:MAX_BARS]
    fig, ax = _figure(6.0, 1.2 + 0.32 * max(len(shown), 2))
    if not shown:
        return _empty(fig, ax, "no lessons were clustered")
    y = list(range(len(shown)))  # positions, not label strings: two topics may share a label
    left = [0] * len(shown)
    for kind in sorted({k for c in shown for k in c.lessons_by_kind}):
        values = [c.lessons_by_kind.get(kind, 0) for c in shown]
        ax.barh(y, values, left=left, color=COLORS.get(kind, COLORS["unknown"]), label=f"{kind} lessons")
        left = [a + b for a, b in zip(left, values)]
    ax.set_yticks(y, [_label(f"{c.label} [{TIER_NAMES[c.tier]}]") for c in shown])
    ax.invert_yaxis()
    ax.set_xlabel("lessons")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    more = f" (top {MAX_BARS} of {len(clusters)})" if len(clusters) > MAX_BARS else ""
    ax.set_title(f"Lessons per topic cluster{more}")
    _legend(fig)
    return _png(fig)


def support_chart(items: list[tuple[int, str]]) -> bytes:
    """Histogram of the support of every edit of p* and every dropped item, by where it went.

    ``items`` are ``(support, tier)`` pairs; tiers as in ``load.TIERS``."""
    fig, ax = _figure(6.0, 3.0)
    if not items:
        return _empty(fig, ax, "no content reached consolidation")
    top = max(s for s, _ in items)
    width = max(1, -(-top // 30))  # at most ~30 bins, so wide runs stay readable
    edges = list(range(0, top + width + 1, width))
    tiers = [t for t in TIERS if any(tier == t for _, tier in items)]
    ax.hist(
        [[s for s, tier in items if tier == t] for t in tiers],
        bins=edges,
        stacked=True,
        color=[COLORS[t] for t in tiers],
        label=[TIER_NAMES[t] for t in tiers],
        align="left",
        rwidth=0.85,
    )
    ax.set_xlabel("support (distinct trajectories)")
    ax.set_ylabel("edits / dropped items")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Support of the content consolidation decided on")
    _legend(fig)
    return _png(fig)


def merge_chart(consolidation: dict[str, Any]) -> bytes:
    """LLM merge calls per merge-tree level (summed over the topic clusters' trees), then
    the merges after the trees: forced final merges, merges of clashing topics, the
    whole-skill pass, fix rounds."""
    fig, ax = _figure(6.0, 2.6)
    per_level = consolidation.get("merge_calls_per_level") or []
    stages = {f"tree level {n}": calls for n, calls in enumerate(per_level, 1)}
    if not per_level:  # a run dir written before levels were recorded
        stages["tree merges in topics"] = consolidation.get("merge_calls", 0) - consolidation.get("forced_merges", 0)
    stages.update(
        {
            "forced final merges": consolidation.get("forced_merges", 0),
            "merges across topics": consolidation.get("final_merge_calls", 0) - consolidation.get("whole_skill_calls", 0),
            "whole-skill pass": consolidation.get("whole_skill_calls", 0),
            "validation fix rounds": consolidation.get("fix_calls", 0),
        }
    )
    bars = ax.barh(list(stages), list(stages.values()), color=COLORS["skill"])
    ax.bar_label(bars, padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("LLM calls")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Merge calls per tree level and stage ({consolidation.get('failed_merges', 0)} failed)")
    _room_for_labels(ax, max(stages.values()))
    return _png(fig)


def lines_chart(s0: Skill, skill: Skill, max_lines: int) -> bytes:
    """SKILL.md lines per section before and after, with the totals and the line limit."""
    before, after = dict(section_lines(s0)), dict(section_lines(skill))
    titles = list(after) + [t for t in before if t not in after]
    shown = titles[:MAX_BARS]
    fig, ax = _figure(6.0, 1.4 + 0.36 * len(shown))
    y = list(range(len(shown)))
    ax.barh([i - 0.2 for i in y], [before.get(t, 0) for t in shown], height=0.4, color=COLORS["before"], label="S0")
    ax.barh([i + 0.2 for i in y], [after.get(t, 0) for t in shown], height=0.4, color=COLORS["after"], label="result")
    ax.set_yticks(y, [_label(t) for t in shown])
    ax.invert_yaxis()
    ax.set_xlabel("lines")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    total0, total1 = len(s0.skill_md().splitlines()), len(skill.skill_md().splitlines())
    ax.set_title(f"SKILL.md lines per section: {total0} → {total1} (limit {max_lines})")
    _legend(fig)
    return _png(fig)


def arms_chart(arms: list[tuple[str, float | None, float | None, float | None, bool]]) -> bytes:
    """Success rate per evaluation arm with its interval; ``arms`` are (label, rate, low, high, promoted)."""
    fig, ax = _figure(6.0, 1.2 + 0.45 * max(len(arms), 2))
    rated = [a for a in arms if a[1] is not None]
    if not rated:
        return _empty(fig, ax, "no run gave an outcome")
    y = list(range(len(rated)))
    rates = [a[1] for a in rated]
    errors = [[a[1] - a[2] for a in rated], [a[3] - a[1] for a in rated]]
    colors = [COLORS["success"] if a[4] else COLORS["before"] if i == 0 else COLORS["after"] for i, a in enumerate(rated)]
    bars = ax.barh(y, rates, xerr=errors, color=colors, capsize=4, error_kw={"ecolor": "#424242"})
    ax.bar_label(bars, labels=[f"{r:.0%}" for r in rates], padding=3, label_type="center", color="white")
    ax.set_yticks(y, [_label(a[0]) for a in rated])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("success rate (95% Wilson interval)")
    ax.set_title("Success rate per arm (green: promoted)")
    return _png(fig)


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _legend(fig: Figure) -> None:
    # below the axes, never over a bar (a single topic's bar fills its whole axes)
    fig.legend(loc="outside lower center", ncols=4, fontsize="small", frameon=False)


def _empty(fig: Figure, ax: Axes, text: str) -> bytes:
    ax.set_axis_off()
    ax.text(0.5, 0.5, text, ha="center", va="center", color="#616161")
    return _png(fig)


def _room_for_labels(ax: Axes, top: int) -> None:
    # bar_label writes past the longest bar; leave it space inside the axes
    ax.set_xlim(0, max(top, 1) * 1.15)


def _label(text: str, width: int = 40) -> str:
    # Labels come from trajectories: shorten them, and escape "$" so mathtext never parses them.
    text = " ".join(text.split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.replace("$", r"\$")


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
