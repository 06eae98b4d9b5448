"""The run report: what a distill run read, learned, merged, changed and left out.

``write_report(run_dir)`` reads the run dir a distill run wrote and writes
``report.html`` (one self-contained page: inline CSS, charts as data: PNGs, no script,
no external URL) and ``report.md`` (the same content, charts as PNG files in
``report_files/``), and a transcript page per trajectory it cites (``transcripts/``).
Modules: ``load`` (run dir -> plain data), ``diff`` (S0 against the result, with
provenance), ``evidence`` (the lessons behind a change and the steps they cite), ``plots``
(charts), ``build`` (the sections), ``doc`` (the document model), ``html`` and ``markdown``
(renderers), ``transcripts`` (the transcript pages). No Ray here: a report is made
from files, on any machine.
"""

from __future__ import annotations

from pathlib import Path

from trace2skill.report.build import build_report, cited_trajectories
from trace2skill.report.evidence import lessons_of
from trace2skill.report.html import render_html
from trace2skill.report.load import RunData, load_run
from trace2skill.report.markdown import FILES_DIR, render_markdown
from trace2skill.report.transcripts import Pages, write_transcripts

__all__ = ["RunData", "build_report", "load_run", "write_report"]


def write_report(run_dir: Path) -> tuple[Path, Path]:
    """Write ``run_dir/report.html`` and ``run_dir/report.md`` (+ ``run_dir/report_files/``,
    and ``run_dir/transcripts/``: a page per trajectory the report cites, which its ids link
    to) and return the two paths (html, md). Rewriting a report replaces the old files."""
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    cited = cited_trajectories(run)
    lessons = lessons_of(run.lessons_path, cited)
    report = build_report(run, Pages(write_transcripts(run_dir, lessons, cited), lessons))
    html_path, md_path = run_dir / "report.html", run_dir / "report.md"
    html_path.write_text(render_html(report), encoding="utf-8")
    text, files = render_markdown(report)
    files_dir = run_dir / FILES_DIR
    files_dir.mkdir(exist_ok=True)
    for stale in files_dir.glob("*.png"):  # charts of an older report that this one lacks
        stale.unlink()
    for rel, data in files.items():
        (run_dir / rel).write_bytes(data)
    md_path.write_text(text, encoding="utf-8")
    return html_path, md_path
