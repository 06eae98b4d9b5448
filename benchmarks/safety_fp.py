"""False positives of the skill safety rules on text that is known clean.

Three sources, every line reviewed as if a skill added it (rules of
``trace2skill/safety/rules.yaml``):

- the bundled skills (``examples/skills/*``), against an empty S0, as ``trace2skill validate`` does;
- the text of the bundled runs (``examples/airline``: task, messages, tool arguments and
  results), as if an analyst had copied every line into the skill, against the airline
  S0 and against an empty one;
- a synthetic corpus of clean runs (``benchmarks/synth.py``: airline and SWE-agent-like
  runs, no planted secrets), against an empty S0.

A finding on any of them is a false positive. Prints one JSON line per source.

    python benchmarks/safety_fp.py --synth 500
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from benchmarks.synth import write_jsonl
from trace2skill.ingest.registry import read_file
from trace2skill.safety.checks import Context
from trace2skill.safety.review import logical_lines, review_lines, review_skill, skill_text
from trace2skill.safety.rules import SafetyConfig
from trace2skill.schema import Trajectory
from trace2skill.skill.folder import load_skill

ROOT = Path(__file__).resolve().parents[1]


def run_texts(path: Path) -> Iterable[str]:
    """Every text of every trajectory in ``path`` (task, step contents, tool arguments)."""
    for record in read_file(path):
        if isinstance(record, Trajectory):
            yield record.task
            for step in record.steps:
                yield step.content
                yield step.tool_args or ""


def measure(name: str, texts: Iterable[str], ctx: Context) -> dict:
    rules = SafetyConfig().effective()
    lines = hits = 0
    by_rule: Counter = Counter()
    examples: list[str] = []
    for text in texts:
        numbered = list(logical_lines(text))
        lines += len(numbered)
        findings = review_lines(numbered, ctx, rules)
        hits += len({f.line_no for f in findings})
        by_rule.update(f"{f.rule} ({f.severity})" for f in findings)
        examples += [f"{f.rule}: {f.line[:120]}" for f in findings][: max(0, 5 - len(examples))]
    return {"source": name, "lines": lines, "lines_with_findings": hits, "rate": hits / lines if lines else 0.0, "by_rule": dict(by_rule), "examples": examples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synth", type=int, default=500, help="clean synthetic runs to review")
    args = parser.parse_args()
    skills = sorted(p for p in (ROOT / "examples" / "skills").iterdir() if (p / "SKILL.md").is_file())
    rows = []
    for folder in skills:
        skill = load_skill(folder)
        findings = review_skill(skill)
        lines = sum(1 for _ in logical_lines(skill_text(skill)))
        rows.append({"source": f"examples/skills/{folder.name}", "lines": lines, "lines_with_findings": len({(f.path, f.line_no) for f in findings}), "by_rule": dict(Counter(f.rule for f in findings))})
    airline_s0 = Context.of(skill_text(load_skill(ROOT / "examples" / "skills" / "airline-support")))
    texts = [t for f in sorted((ROOT / "examples" / "airline").iterdir()) for t in run_texts(f)]
    rows.append(measure("examples/airline runs (S0: airline-support)", texts, airline_s0))
    rows.append(measure("examples/airline runs (empty S0)", texts, Context.of("")))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synth.jsonl"
        write_jsonl(path, args.synth, seed=0, secret_rate=0.0)
        rows.append(measure(f"benchmarks/synth.py, {args.synth} clean runs (empty S0)", run_texts(path), Context.of("")))
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
