"""Transcript pages: the report's evidence ids link to a page per cited trajectory, at the
cited step; the pages are inert (escaped, no script, no live link), bounded to what
provenance cites, and written only inside ``run/transcripts/``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.report.conftest import HOSTILE
from tests.report.test_html import Tags
from tests.report.test_report import headless
from trace2skill.analysts.models import cited_step
from trace2skill.consolidate.provenance import PROVENANCE_SCHEMA
from trace2skill.report import write_report
from trace2skill.report.transcripts import TRANSCRIPTS_DIR, page_name
from trace2skill.schema import (
    LESSON_SCHEMA,
    TRAJECTORY_SCHEMA,
    Lesson,
    Step,
    Trajectory,
    to_table,
)

# What a trajectory could carry to attack the page that shows it.
ATTACK = (
    '<script>document.documentElement.dataset.pwned="script"</script>'
    '<img src=x onerror="document.documentElement.dataset.pwned=\'img\'">'
    '<a href="javascript:document.documentElement.dataset.pwned=\'link\'">click me</a> '
    "[md](javascript:alert(1)) https://evil.example/tracker.png " + HOSTILE
)
TRAVERSAL = ["../../../escaped", "/tmp/absolute-escape", "..\\..\\win", "a/../../b", "..", ".hidden", "CON", "x" * 300, "nul\x00byte"]
STEPS = 40
UNCITED = "t-never-cited"


def _step_of(tid: str) -> int:
    return 20 + sum(map(ord, tid)) % 15  # deep in the run: the page must scroll to it


def _trajectory(tid: str, content: str = "") -> Trajectory:
    steps = [Step(index=0, role="user", content=f"Task of {tid}: {content}")]
    for i in range(1, STEPS):
        kind = "tool_call" if i % 2 else "observation"
        steps.append(Step(index=i, role="assistant" if i % 2 else "tool", kind=kind, tool_name="lookup", tool_args=json.dumps({"q": content[:40]}), content=f"step {i} of {tid}. {content}\n" + "filler line\n" * 6))
    return Trajectory(id=tid, source_format="test", source_file="runs/batch-1.jsonl", task=f"task of {tid} {content}", task_key=f"task-{tid[:12]}", steps=steps, success=False, reward=0.0)


@pytest.fixture
def linked_run(hand_run: Path) -> Path:
    """The hand-built run with its trajectories (steps, hostile text) and lessons that cite a step."""
    lessons = pl.read_parquet(hand_run / "lessons.parquet")
    metadata = [json.dumps({"failure_causes": [{"title": "cause", "steps": [_step_of(t)]}]}) for t in lessons["trajectory_id"]]
    pq.write_table(lessons.with_columns(pl.Series("metadata", metadata)).to_arrow().cast(LESSON_SCHEMA), hand_run / "lessons.parquet")
    ids = sorted(set(lessons["trajectory_id"])) + [UNCITED]
    pq.write_table(to_table([_trajectory(t, ATTACK) for t in ids], TRAJECTORY_SCHEMA), hand_run / "trajectories.parquet")
    return hand_run


def _report_links(page: str) -> list[str]:
    return [a["href"] for t, a in Tags(page).tags if t == "a" and a.get("href", "").startswith(TRANSCRIPTS_DIR)]


def test_every_evidence_link_opens_an_existing_page_at_the_cited_step(linked_run):
    html_path, md_path = write_report(linked_run)
    page = html_path.read_text()
    links = _report_links(page)
    assert len(links) > 10
    cited = pl.read_parquet(linked_run / "lessons.parquet")
    steps = {t: _step_of(t) for t in cited["trajectory_id"]}
    for href in links:
        parts = urlsplit(href)
        target = linked_run / parts.path
        assert target.is_file(), href
        tid = next(t for t in steps if page_name(t) == target.name)
        assert parts.fragment == f"step-{steps[tid]}"  # the step its lesson cites
        assert f'id="{parts.fragment}"' in target.read_text()
    # the Markdown links the same pages
    md_links = re.findall(r"\]\((transcripts/[^)]+)\)", md_path.read_text())
    assert set(md_links) == set(links)


def test_lesson_text_stands_beside_each_change(linked_run):
    html_path, _ = write_report(linked_run)
    dom = Tags(html_path.read_text())
    text = " ".join(dom.text)
    lessons = pl.read_parquet(linked_run / "lessons.parquet")
    # a change's lesson column shows its lessons' titles, each linking to its transcript
    shown = [title for title in lessons["title"] if title in text]
    assert shown, "no lesson title in the report"
    assert "lesson text (examples)" in text


def test_pages_are_bounded_to_the_trajectories_provenance_cites(linked_run):
    write_report(linked_run)
    pages = {p.name for p in (linked_run / TRANSCRIPTS_DIR).iterdir()}
    assert page_name(UNCITED) not in pages  # in trajectories.parquet, cited by nothing
    provenance = pl.read_parquet(linked_run / "provenance.parquet").filter(pl.col("kind") != "collapsed")
    cited = {t for ids in provenance["trajectory_ids"] for t in ids}
    assert pages and pages <= {page_name(t) for t in cited}
    # a rewrite replaces the pages (none left of an older report)
    (linked_run / TRANSCRIPTS_DIR / "stale.html").write_text("old")
    write_report(linked_run)
    assert {p.name for p in (linked_run / TRANSCRIPTS_DIR).iterdir()} == pages


def test_a_hostile_transcript_renders_inert(linked_run, tmp_path):
    write_report(linked_run)
    page_path = next((linked_run / TRANSCRIPTS_DIR).iterdir())
    page = page_path.read_text()
    parsed = Tags(page)
    names = [t for t, _ in parsed.tags]
    assert "script" not in names and "img" not in names and "iframe" not in names
    assert all(not k.startswith("on") for _, attrs in parsed.tags for k in attrs)
    hrefs = [a["href"] for t, a in parsed.tags if t == "a"]
    assert hrefs and all(re.fullmatch(r"#step-\d+", h) for h in hrefs)  # only the page's own anchors
    assert sum(ATTACK in t for t in parsed.text) >= 2  # shown as text
    assert "default-src 'none'" in page
    # in a real browser: nothing ran, nothing loaded
    dom = headless("--dump-dom", page_path.as_uri()).stdout
    seen = Tags(dom)
    assert "data-pwned" not in dom and all("data-pwned" not in attrs for _, attrs in seen.tags)
    assert [t for t, _ in seen.tags if t in ("script", "img", "iframe")] == []
    assert all(re.fullmatch(r"#step-\d+", a["href"]) for t, a in seen.tags if t == "a")
    assert any("click me" in t for t in seen.text)  # the link is text


def test_ids_never_become_paths(hand_run, tmp_path):
    lessons = [Lesson(id=f"l-{i}", trajectory_id=t, kind="failure", title=f"lesson {i}", content="x", topic="t", metadata={"divergence_step": 3}) for i, t in enumerate(TRAVERSAL)]
    pq.write_table(to_table(lessons, LESSON_SCHEMA), hand_run / "lessons.parquet")
    pq.write_table(to_table([_trajectory(t) for t in TRAVERSAL], TRAJECTORY_SCHEMA), hand_run / "trajectories.parquet")
    row = {"kind": "dropped", "path": "", "section": "", "cluster_id": 7, "cluster_label": "paths", "support": len(TRAVERSAL), "lesson_ids": [lesson.id for lesson in lessons], "trajectory_ids": TRAVERSAL, "content": "x", "reason": "one-off"}
    rows = [{**row, "trajectory_ids": TRAVERSAL[i : i + 3]} for i in range(0, len(TRAVERSAL), 3)]
    old = pq.read_table(hand_run / "provenance.parquet")
    pq.write_table(pa.concat_tables([old, pa.Table.from_pylist(rows, schema=PROVENANCE_SCHEMA)]), hand_run / "provenance.parquet")
    before = {p for p in tmp_path.rglob("*")} | {p for p in Path("/tmp").glob("absolute-escape*")}
    html_path, _ = write_report(hand_run)
    after = {p for p in tmp_path.rglob("*")} | {p for p in Path("/tmp").glob("absolute-escape*")}
    pages_dir = (hand_run / TRANSCRIPTS_DIR).resolve()
    # every new file or folder is one of the report's, a page only directly in transcripts/
    written = [p.resolve().relative_to(hand_run.resolve()).parts for p in after - before]
    assert all(parts[0] in ("report.html", "report.md", "report_files", TRANSCRIPTS_DIR) and len(parts) <= 2 for parts in written), written
    pages = sorted(p.name for p in pages_dir.iterdir())
    assert len(pages) == len(TRAVERSAL) and all(re.fullmatch(r"[A-Za-z0-9_-]+\.html", n) for n in pages)
    links = _report_links(html_path.read_text())
    assert {urlsplit(h).path.rsplit("/", 1)[1] for h in links} == set(pages)
    assert all(urlsplit(h).fragment == "step-3" for h in links)


def test_the_cited_step_of_a_lesson():
    assert cited_step(json.dumps({"failure_causes": [{"steps": []}, {"steps": [7, 2]}], "divergence_step": 1})) == 7
    assert cited_step(json.dumps({"divergence_step": 4})) == 4
    assert cited_step(json.dumps({"solution_path": "..."})) is None
    assert cited_step("not json") is None and cited_step("[1]") is None
    assert cited_step(json.dumps({"failure_causes": [{"steps": ["x", True, -1]}]})) is None


def test_clicking_an_evidence_link_opens_the_transcript_at_the_step(linked_run, tmp_path):
    html_path, _ = write_report(linked_run)
    href = _report_links(html_path.read_text())[0]
    fragment = urlsplit(href).fragment
    # Only a copy can carry the probes (the pages forbid scripts): the report's copy clicks the
    # link as a user would; the page's copy records, once scrolled, where the cited step sits.
    target = linked_run / urlsplit(href).path
    probe = ("<script>addEventListener('load', () => setTimeout(() => { const s = document.getElementById(location.hash.slice(1)); "
             "document.body.dataset.at = [scrollY, Math.round(s.getBoundingClientRect().top), location.hash].join(','); "
             "document.body.dataset.page = [document.title, document.querySelectorAll('[id^=\"step-\"]').length].join('|'); }, 200));</script>")
    target.write_text(_without_csp(target.read_text()).replace("</body>", probe + "</body>"))
    click = f"<script>addEventListener('load', () => document.querySelector('a[href=\"{href}\"]').click());</script>"
    html_path.write_text(_without_csp(html_path.read_text()).replace("</body>", click + "</body>"))
    dom = headless("--window-size=1280,900", "--dump-dom", html_path.as_uri()).stdout
    found = re.search(r'data-at="(\d+),(-?\d+),([^"]*)"', dom)
    assert found, dom[:500]
    scrolled, top, hash_ = int(found.group(1)), int(found.group(2)), found.group(3)
    assert hash_ == f"#{fragment}" and scrolled > 900 and abs(top) <= 2  # the step is at the top of the window
    # the page the click opened is the cited trajectory's transcript, every step of it
    tid = next(t for t in pl.read_parquet(linked_run / "lessons.parquet")["trajectory_id"] if page_name(t) == target.name)
    page = re.search(r'data-page="([^"]*)"', dom)
    assert page and page.group(1) == f"Transcript {tid}|{STEPS}", page


def _without_csp(page: str) -> str:
    return re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
