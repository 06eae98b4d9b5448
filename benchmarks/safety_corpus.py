"""Recall and precision of the skill safety rules on the held-out adversarial corpus.

``benchmarks/safety_corpus/`` holds five S0 skills, harmful lines or blocks of ten kinds
and clean twins (see its README). Each case is written as a skill folder (its S0 with the
text appended as a new section), loaded and reviewed against its S0, as
``trace2skill validate --against`` does. An attack is *high* when the review would withhold
a line, *medium only* when it only flags one, *missed* otherwise; a clean twin with a high
finding is a skill with a line withheld. Rules alone, no model.

Prints a table per kind, the clean twins, the time a skill takes in process and the time of
``trace2skill validate --format json`` end to end (a fresh process per skill, wall and CPU).

    python benchmarks/safety_corpus.py [--cli 3] [--batch ...] [--show missed|medium|withheld]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

import yaml

from trace2skill.llm.fake import FakeLLM
from trace2skill.safety import Finding, review_skill, start_review
from trace2skill.safety.model_review import ask_model, model_screen
from trace2skill.safety.rules import load_rules
from trace2skill.schema import Edit, Patch
from trace2skill.skill.folder import load_skill, split_frontmatter
from trace2skill.skill.model import Skill, parse_markdown

CORPUS = Path(__file__).resolve().parent / "safety_corpus"
SECTION = "\n## Notes from past runs\n\n"


# Batches: (attacks, clean twins). The first was written before rules v2 (and the rules were
# then built against it); the second after v2 and the third before v3 (v3 generalised the
# rules over the misses of both, so their "after" figures are no longer held out).
BATCHES = {
    "first (written before rules v2)": ("attacks.yaml", "clean.yaml"),
    "second (written after rules v2, not tuned on)": ("attacks_after_v2.yaml", "clean_after_v2.yaml"),
    "third (written before rules v3, attacker's view)": ("attacks_batch3.yaml", "clean_batch3.yaml"),
}


def cases(batch: str) -> tuple[list[dict], list[dict]]:
    """(attacks, clean twins) of one batch of the corpus."""
    return tuple(yaml.safe_load((CORPUS / name).read_text(encoding="utf-8")) for name in BATCHES[batch])


def write_case(root: Path, name: str, case: dict) -> tuple[Path, Path]:
    """The case as a skill folder under ``root`` and the folder of its S0."""
    s0_dir = root / "s0" / case["domain"]
    if not s0_dir.exists():
        s0_dir.mkdir(parents=True)
        (s0_dir / "SKILL.md").write_text((CORPUS / "s0" / f"{case['domain']}.md").read_text(encoding="utf-8"), encoding="utf-8")
    folder = root / name / case["domain"].replace("_", "-")
    folder.mkdir(parents=True)
    s0_text = (s0_dir / "SKILL.md").read_text(encoding="utf-8")
    (folder / "SKILL.md").write_text(s0_text.replace(f"name: {_name(s0_text)}", f"name: {folder.name}", 1) + SECTION + case["text"], encoding="utf-8")
    return folder, s0_dir


def _name(skill_md: str) -> str:
    return next(line.split(":", 1)[1].strip() for line in skill_md.splitlines() if line.startswith("name:"))


def _skill_of(skill_md: str) -> Skill:
    raw, data, body = split_frontmatter(skill_md)
    return Skill(name=data["name"], description=data["description"], frontmatter=data, body=parse_markdown(body), frontmatter_raw=raw)


def verdict(findings: list[Finding]) -> str:
    if any(f.severity == "high" for f in findings):
        return "high"
    return "medium only" if findings else "missed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cli", type=int, default=3, help="skills to time through the CLI (a fresh process each)")
    parser.add_argument("--show", choices=["missed", "medium", "withheld", "none"], default="none", help="print the cases of one outcome")
    parser.add_argument("--batch", choices=[*BATCHES, "all"], default="all", help="which batch of the corpus to score")
    args = parser.parse_args()
    for batch in BATCHES if args.batch == "all" else [args.batch]:
        print(f"## batch: {batch}\n")
        _score(batch, args.show, args.cli)


def _score(batch: str, show: str, cli_skills: int) -> None:
    attacks, clean = cases(batch)
    rows: dict[str, dict[str, int]] = defaultdict(lambda: {"cases": 0, "high": 0, "medium only": 0, "missed": 0})
    clean_row = {"cases": 0, "withheld": 0, "flagged only": 0, "no finding": 0}
    seconds: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folders = []
        for i, case in enumerate([*attacks, *clean]):
            is_attack = i < len(attacks)
            folder, s0_dir = write_case(root, f"case{i:03d}", case)
            folders.append((folder, s0_dir))
            start = time.perf_counter()
            findings = review_skill(load_skill(folder), load_skill(s0_dir))
            seconds.append(time.perf_counter() - start)
            v = verdict(findings)
            if is_attack:
                row = rows[case["kind"]]
                row["cases"] += 1
                row[v] += 1
            else:
                clean_row["cases"] += 1
                clean_row[{"high": "withheld", "medium only": "flagged only", "missed": "no finding"}[v]] += 1
            shown = {"missed": is_attack and v == "missed", "medium": is_attack and v == "medium only", "withheld": not is_attack and v == "high"}
            if shown.get(show):
                print(f"--- {case.get('kind', 'clean')} / {case['domain']}: {[(f.rule, f.severity, f.evidence[:60]) for f in findings]}\n{case['text']}")
        cli = [_time_cli(folder, s0_dir) for folder, s0_dir in folders[:cli_skills]]
    _print(rows, clean_row, seconds, cli)
    _model_layer(attacks, clean)


def _model_layer(attacks: list[dict], clean: list[dict]) -> None:
    """What the model reviewer can add, with the fake backend's scripted verdicts (harmful
    exactly on the attacks): it sees only what the rules kept, so it can add the attacks the
    rules did not withhold, and could cost the clean twins they kept if it judged them harmful."""
    client = FakeLLM()
    attacks_kept = attacks_added = clean_kept = 0
    for is_attack, case in [(True, c) for c in attacks] + [(False, c) for c in clean]:
        s0 = (CORPUS / "s0" / f"{case['domain']}.md").read_text(encoding="utf-8")
        review = start_review(_skill_of(s0))
        text = case["text"] + (" [fake:harmful]" if is_attack else "")
        _, kept = review.screen(Patch(id="p", edits=[Edit(op="append_to_section", section="Workflow", content=text)], support=1))
        if review.withheld:  # the rules withheld (part of) it: the model never sees that part
            continue
        model_screen(review, kept, partial(ask_model, client), s0)
        attacks_kept += is_attack
        attacks_added += is_attack and bool(review.withheld)
        clean_kept += not is_attack
    print(
        f"model reviewer (fake backend, scripted verdicts): of {attacks_kept} attacks the rules kept, it withheld {attacks_added}; "
        f"it saw {clean_kept} clean twins the rules kept, each a withheld line if it judged them harmful\n"
    )


def _time_cli(folder: Path, s0_dir: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one ``trace2skill validate`` in a fresh process (CPU is
    what the command costs on a busy machine, wall what a user waits)."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "trace2skill"), "validate", str(folder), "--against", str(s0_dir), "--format", "json"],
        capture_output=True,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (time.perf_counter() - start, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)


def _print(rows: dict[str, dict[str, int]], clean_row: dict[str, int], seconds: list[float], cli: list[tuple[float, float]]) -> None:
    print(f"rules version {load_rules().version}\n")
    print("| kind of attack | cases | high | medium only | missed |\n|---|---:|---:|---:|---:|")
    total = {"cases": 0, "high": 0, "medium only": 0, "missed": 0}
    for kind, row in rows.items():
        print(f"| {kind} | {row['cases']} | {row['high']} | {row['medium only']} | {row['missed']} |")
        total = {k: total[k] + row[k] for k in total}
    pct = lambda n, d: f"{n} ({100 * n / d:.0f}%)"
    print(
        f"| **all** | {total['cases']} | {pct(total['high'], total['cases'])} | {pct(total['medium only'], total['cases'])} | {pct(total['missed'], total['cases'])} |\n"
    )
    print("| clean twins | cases | a line withheld | flagged only | no finding |\n|---|---:|---:|---:|---:|")
    print(f"| all | {clean_row['cases']} | {clean_row['withheld']} | {clean_row['flagged only']} | {clean_row['no finding']} |\n")
    print(f"review in process: {statistics.mean(seconds) * 1000:.1f} ms a skill on average, {max(seconds) * 1000:.1f} ms at most ({len(seconds)} skills)")
    if cli:
        wall, cpu = [w for w, _ in cli], [c for _, c in cli]
        print(
            f"trace2skill validate (fresh process, {len(cli)} skills): wall {statistics.mean(wall):.2f} s on average ({max(wall):.2f} s at most), CPU {statistics.mean(cpu):.2f} s ({max(cpu):.2f} s at most)"
        )


if __name__ == "__main__":
    main()
