"""No finding on text known to be clean: the bundled skill, the bundled runs, synthetic clean runs
(the full measurement is ``benchmarks/safety_fp.py``; docs/reliability.md has its figures)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.safety_fp import measure, run_texts
from benchmarks.synth import write_jsonl
from trace2skill.safety import review_skill
from trace2skill.safety.checks import Context
from trace2skill.safety.review import skill_text
from trace2skill.skill.folder import load_skill

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_bundled_skills_have_no_finding() -> None:
    for folder in (EXAMPLES / "skills").iterdir():
        assert review_skill(load_skill(folder)) == []


def test_bundled_runs_have_no_finding_against_their_s0_or_an_empty_one() -> None:
    texts = [t for f in sorted((EXAMPLES / "airline").iterdir()) for t in run_texts(f)]
    s0 = Context.of(skill_text(load_skill(EXAMPLES / "skills" / "airline-support")))  # S0's policy: prices and refunds in tasks are not grants
    for ctx in (s0, Context.of("")):
        row = measure("airline", texts, ctx)
        assert row["lines"] > 500 and row["lines_with_findings"] == 0, row


def test_clean_synthetic_runs_have_no_finding(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "synth.jsonl", 30, seed=1, secret_rate=0.0)
    row = measure("synth", run_texts(tmp_path / "synth.jsonl"), Context.of(""))
    assert row["lines"] > 5000 and row["lines_with_findings"] == 0, row
