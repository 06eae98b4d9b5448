"""``write_report`` on the run dir of a real distill run (fake backend through Ray Data and
Serve), checked as files and as a page rendered by headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import EXAMPLES
from tests.report.test_html import Tags
from tests.report.test_plots import decode
from trace2skill.llm.config import FakeConfig
from trace2skill.pipeline.run import distill
from trace2skill.report import write_report
from trace2skill.report.markdown import FILES_DIR, escape_md
from trace2skill.run.options import DistillConfig

CHARTS = ["outcomes", "clusters", "support", "merges", "skill_lines"]


@pytest.fixture(scope="module")
def real_run(ray_session, tmp_path_factory) -> Path:
    """One distill run for the module: the bundled examples plus an unreadable record, with
    a fake engine whose answers are sometimes not JSON, so some trajectories fail."""
    root = tmp_path_factory.mktemp("report-run")
    data = root / "data"
    shutil.copytree(EXAMPLES / "airline", data)
    with (data / "chat.jsonl").open("a") as f:
        f.write("{this is not json\n")
    cfg = DistillConfig(
        inputs=[data],
        out_dir=root / "out",
        skill_dir=EXAMPLES / "skills" / "airline-support",
        mode="deepen",
        backend=FakeConfig(failure_rate=0.5, failures=["invalid_json"]),
        consolidate={"embedder": "hashing", "fan_in": 4},  # no model to load: the report, not clustering, is under test
    )
    summary = distill(cfg, progress=lambda _: None)
    assert summary.quarantined == 1 and summary.failed >= 1 and summary.edits_applied >= 1
    return cfg.resolved_run_dir


def test_write_report_files(real_run):
    html_path, md_path = write_report(real_run)
    assert (html_path, md_path) == (real_run / "report.html", real_run / "report.md")
    summary = json.loads((real_run / "summary.json").read_text())
    md = md_path.read_text()
    assert f"| trajectories read | {summary['read']} |" in md and f"| failed (LLM output unusable) | {summary['failed']} |" in md
    linked = re.findall(rf"\]\(({FILES_DIR}/[a-z_]+\.png)\)", md)
    assert linked == [f"{FILES_DIR}/{name}.png" for name in CHARTS]
    for rel in linked:
        decode((real_run / rel).read_bytes())
    assert "| changed | SKILL.md § Pitfalls |" in md  # the fake's failure lesson, with its support
    failed = pl.read_parquet(real_run / "manifest.parquet").filter(pl.col("status") == "failed")
    top = failed.group_by("reason").len().sort("len", descending=True).row(0)
    assert f"| failed | {escape_md(top[0])} | {top[1]} |" in md  # the commonest reason of the failures

    # the evidence ids link pages of the cited trajectories, at the step their lesson cites
    hrefs = [a["href"] for t, a in Tags(html_path.read_text()).tags if t == "a" and a["href"].startswith("transcripts/")]
    assert any("#step-" in h for h in hrefs)
    for href in hrefs:
        path, _, fragment = href.partition("#")
        page = (real_run / path).read_text()
        assert not fragment or f'id="{fragment}"' in page
    assert len(list((real_run / "transcripts").iterdir())) <= summary["analyzed"]  # cited ones only

    # a second report replaces the first, charts included
    (real_run / FILES_DIR / "old_chart.png").write_bytes(b"stale")
    write_report(real_run)
    assert sorted(p.stem for p in (real_run / FILES_DIR).iterdir()) == sorted(CHARTS)


def test_the_report_package_does_not_import_ray():
    code = "import sys, trace2skill.report; assert 'ray' not in sys.modules, 'ray imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def chromium() -> str:
    """The Chromium binary; without one the browser tests skip locally and fail on CI."""
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; CI installs the Debian package chromium")
        pytest.skip("chromium is not installed (apt-get install chromium); on CI (CI set) this fails")
    return path


def headless(*args: str) -> subprocess.CompletedProcess:
    # --no-sandbox: tests run as root in containers, where Chromium's sandbox cannot start
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=5000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=True)


def test_browser_renders_charts_and_tables(real_run, tmp_path):
    html_path, _ = write_report(real_run)
    dom = Tags(headless("--dump-dom", html_path.as_uri()).stdout)
    images = [a for t, a in dom.tags if t == "img"]
    assert len(images) == len(CHARTS)
    for attrs in images:
        src = attrs["src"] or ""
        assert src.startswith("data:image/png;base64,")
        decode(base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True))
    assert sum(t == "table" for t, _ in dom.tags) >= 8
    assert "Skill changes" in dom.text and "trajectories read" in dom.text

    # That the browser decoded every image is only visible from inside the page: a copy
    # without the CSP gets a script recording each image's natural width after load.
    probe = tmp_path / "probe.html"
    script = "<script>addEventListener('load', () => document.body.dataset.widths = [...document.images].map(i => i.naturalWidth).join(','));</script>"
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html_path.read_text())
    probe.write_text(page.replace("</body>", script + "</body>"))
    widths = re.search(r'data-widths="([^"]*)"', headless("--dump-dom", probe.as_uri()).stdout)
    assert widths and widths.group(1).split(",") == ["600"] * len(CHARTS)

    shot = tmp_path / "report.png"
    headless(f"--screenshot={shot}", "--window-size=1280,2000", html_path.as_uri())
    image = decode(shot.read_bytes())
    assert image.size == (1280, 2000) and len(image.convert("RGB").getcolors(1 << 16) or []) > 50  # drawn, not blank
