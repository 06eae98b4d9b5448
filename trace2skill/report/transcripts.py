"""Transcript pages: one static HTML page per trajectory the report cites, each step anchored.

The report links an evidence id to ``transcripts/<name>.html#step-N``, the step the lesson
behind it cites. Pages are written only for the trajectories the report names from
provenance (a few per change, topic, dropped or refused item), never for every trajectory
of the run, and only from the run's ``trajectories.parquet``, which ingest already
redacted (never from the raw input).

A trajectory is untrusted: every string is HTML-escaped, the page has no script and a
Content-Security-Policy that loads nothing (a URL in a transcript is text, never a live
link or an image), and a file name is made from an id only when the id is plainly safe
(else from its hash), so no id can name a path outside ``transcripts/``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import polars as pl

from trace2skill.report.doc import Link, Links
from trace2skill.report.evidence import CitedLesson
from trace2skill.report.load import EXAMPLE_IDS

TRANSCRIPTS_DIR = "transcripts"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
CSP = "default-src 'none'; style-src 'unsafe-inline'"
MAX_STEP_CHARS = 20_000  # a longer step is cut on the page (the Parquet file has it whole)

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212121;
       margin: 0 auto; padding: 16px 24px 48px; max-width: 1100px; }
h1 { font-size: 20px; margin: 8px 0 2px; overflow-wrap: anywhere; }
.sub { color: #616161; font-family: ui-monospace, monospace; font-size: 12px; overflow-wrap: anywhere; }
.lesson { border-left: 3px solid #1565c0; padding: 2px 10px; margin: 6px 0; }
.step { border: 1px solid #e0e0e0; border-radius: 6px; margin: 8px 0; padding: 4px 10px; }
.step:target { border-color: #f9a825; box-shadow: 0 0 0 3px #fff59d; }
.cited { border-left: 4px solid #f9a825; }
.head { color: #616161; font-family: ui-monospace, monospace; font-size: 12px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0; font-size: 12px; }
"""


def page_name(trajectory_id: str) -> str:
    """The file name of a trajectory's page: the id itself when it is plainly safe, else
    ``_`` + its SHA-256 (a safe id never starts with ``_``, so the two cannot collide)."""
    if _SAFE_NAME.fullmatch(trajectory_id):
        return f"{trajectory_id}.html"
    return f"_{hashlib.sha256(trajectory_id.encode('utf-8')).hexdigest()[:32]}.html"


def transcript_href(trajectory_id: str, step: int | None) -> str:
    """The link from the report (in the run dir) to the page, at ``step`` when given."""
    return f"{TRANSCRIPTS_DIR}/{page_name(trajectory_id)}" + (f"#step-{int(step)}" if step is not None else "")


def write_transcripts(run_dir: Path, lessons: dict[str, list[CitedLesson]], trajectory_ids: set[str]) -> set[str]:
    """Write ``run_dir/transcripts/<name>.html`` for each of ``trajectory_ids`` found in
    ``run_dir/trajectories.parquet``, each with its ``lessons``; return the ids written.
    Pages of an older report are removed first."""
    out_dir = run_dir / TRANSCRIPTS_DIR
    out_dir.mkdir(exist_ok=True)
    for stale in out_dir.glob("*.html"):
        stale.unlink()
    source = run_dir / "trajectories.parquet"
    if not trajectory_ids or not source.exists():
        return set()
    frame = pl.scan_parquet(source).filter(pl.col("id").is_in(sorted(trajectory_ids))).unique(subset="id", keep="last").collect()
    written = set()
    for row in frame.iter_rows(named=True):
        path = (out_dir / page_name(row["id"])).resolve()
        if path.parent != out_dir.resolve():  # page_name makes this impossible; a guard, not a filter
            raise ValueError(f"transcript page {path} would leave {out_dir}")
        path.write_text(render_transcript(row, lessons.get(row["id"], [])), encoding="utf-8")
        written.add(row["id"])
    return written


def render_transcript(row: dict, lessons: list[CitedLesson]) -> str:
    """One page: the task, the lessons the report cites from it (each linking to its step),
    then every step with an ``id="step-N"`` anchor (``N`` = the step's index)."""
    cited = {lesson.step for lesson in lessons}
    outcome = {True: "success", False: "failure", None: "outcome unknown"}[row.get("success")]
    reward = f", reward {row['reward']:g}" if row.get("reward") is not None else ""
    head = [
        f"<h1>Transcript {escape(row['id'])}</h1>",
        f'<p class="sub">task {escape(row.get("task_key") or "-")} · {escape(row.get("source_format") or "")} · {escape(row.get("source_file") or "")} · {outcome}{reward}</p>',
        '<p class="sub">From the run\'s trajectories.parquet (redacted at ingest). Text from the trajectory is shown as text: no link in it is live.</p>',
        f"<h2>Task</h2><pre>{escape(row.get('task') or '')}</pre>",
    ]
    if lessons:
        head.append("<h2>Lessons the report cites from it</h2>")
        head.extend(_lesson(lesson) for lesson in lessons)
    steps = [_step(step, step.get("index") in cited) for step in row.get("steps") or []]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Transcript {escape(row['id'])}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(head)
        + f"\n<h2>Steps ({len(steps)})</h2>\n"
        + "\n".join(steps)
        + "\n</body></html>\n"
    )


def _lesson(lesson: CitedLesson) -> str:
    where = f' <a href="#step-{lesson.step}">step {lesson.step}</a>' if lesson.step is not None else " (cites no step)"
    return f'<div class="lesson"><b>{escape(lesson.title)}</b>{where}<pre>{escape(lesson.content)}</pre></div>'


def _step(step: dict, cited: bool) -> str:
    index = step.get("index")
    anchor = f' id="step-{int(index)}"' if isinstance(index, int) else ""
    label = " · ".join(escape(str(p)) for p in (f"step {index}", step.get("role"), step.get("kind"), step.get("tool_name")) if p)
    content = step.get("content") or ""
    if len(content) > MAX_STEP_CHARS:
        content = content[:MAX_STEP_CHARS] + f"\n… {len(content) - MAX_STEP_CHARS:,} more characters in trajectories.parquet"
    args = f"<pre>{escape(step['tool_args'])}</pre>" if step.get("tool_args") else ""
    css = "step cited" if cited else "step"
    return f'<section class="{css}"{anchor}><div class="head">{label}{" · cited" if cited else ""}</div><pre>{escape(content)}</pre>{args}</section>'


@dataclass(frozen=True)
class Pages:
    """The transcript pages written beside a report: the ids that have one, and the lessons
    of each (whose first cited step is where a link opens by default)."""

    written: set[str] = field(default_factory=set)
    lessons: dict[str, list[CitedLesson]] = field(default_factory=dict)

    def link(self, trajectory_id: str, step: int | None = None, text: str | None = None) -> Link:
        """``text`` (default: the id) linked to the page of ``trajectory_id`` at ``step``
        (else its lessons' first cited step); plain text when it has no page."""
        text = trajectory_id if text is None else text
        if trajectory_id not in self.written:
            return Link(text)
        if step is None:
            step = next((lesson.step for lesson in self.lessons.get(trajectory_id, []) if lesson.step is not None), None)
        return Link(text, transcript_href(trajectory_id, step))

    def ids(self, ids: list[str], total: int | None = None, steps: dict[str, int | None] | None = None) -> Links:
        """The first ``EXAMPLE_IDS`` of ``ids``, linked (at ``steps``' step of an id, when
        given), then how many more of ``total`` there are."""
        shown = EXAMPLE_IDS
        total = len(ids) if total is None else total
        if not total:
            return Links([Link("-")])
        items = [self.link(t, (steps or {}).get(t)) for t in ids[:shown]]
        return Links(items, tail=f"(+{total - shown} more)" if total > shown else "")
