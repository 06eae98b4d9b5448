"""Redaction recall and id survival over generated cases, optionally side by side with another checkout.

    .venv/bin/python benchmarks/redaction.py                         # 100,000 cases
    .venv/bin/python benchmarks/redaction.py --n 20000 --baseline /path/to/other/checkout

Each case is one credential of a random kind, written at one of 12 positions
(``benchmarks/secrets_corpus.py``: env, export, JSON x3, YAML, INI, HTTP header, URL userinfo,
URL query, CLI flag, prose), with a dozen id-like tokens (reservation codes, user ids, flight
numbers, SHAs, UUIDs, paths...) written the same way after it, placed in one of 12 fields of a
trajectory (task, system, user, assistant, reasoning, tool arguments, observation, tool call id,
raw id, metadata, extra fields, a grader block), and passed through ``redact_trajectory``.

- recall: the share of cases where no 8 characters of the credential, as written, survive;
- id survival: the share of the ids written that are still there, unchanged;
- throughput: MB of trajectory text per CPU second of ``redact_trajectory``.

``--baseline DIR`` redacts the same cases with the ``trace2skill`` package of DIR (in a
child process), for a before/after table. Prints a table and writes
``benchmarks/results/redaction.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from random import Random
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

TRAJECTORY_FIELDS = (
    "task",
    "system",
    "user",
    "assistant",
    "reasoning",
    "tool_args",
    "observation",
    "tool_call_id",
    "raw_id",
    "metadata",
    "extra_fields",
    "grader",
)


def carrying(field: str, carrier: str) -> Any:
    """A Trajectory with ``carrier`` in ``field`` only (built with whichever ``trace2skill`` is imported)."""
    from trace2skill.schema import Step, Trajectory

    steps = [
        Step(index=0, role="system", content="You are a deployment agent."),
        Step(index=1, role="user", content="Deploy the app."),
        Step(index=2, role="assistant", kind="tool_call", tool_name="bash", tool_args='{"cmd": "ls"}', tool_call_id="call_1"),
        Step(index=3, role="tool", kind="observation", content="ok", tool_name="bash", tool_call_id="call_1"),
    ]
    where = {"system": (0, "content"), "user": (1, "content"), "tool_call_id": (2, "tool_call_id"), "observation": (3, "content")}
    fields: dict[str, Any] = {"task": "Deploy the app.", "raw_id": "run-1", "metadata": {}}
    if field in where:
        i, name = where[field]
        steps[i] = steps[i].model_copy(update={name: f"{getattr(steps[i], name)}\n{carrier}"})
    elif field == "assistant":
        steps.append(Step(index=4, role="assistant", content=f"Done. For the record:\n{carrier}"))
    elif field == "reasoning":
        steps.append(Step(index=4, role="assistant", kind="reasoning", content=f"The env shows\n{carrier}\nso use it."))
    elif field == "tool_args":
        steps[2] = steps[2].model_copy(update={"tool_args": json.dumps({"cmd": carrier, "timeout": 30})})
    elif field in ("task", "raw_id"):
        fields[field] = f"{fields[field]} {carrier}"
    elif field == "metadata":
        fields["metadata"] = {"info": {"log": [f"step 3: {carrier}"]}, "note": carrier}
    elif field == "extra_fields":
        fields["metadata"] = {"extra_fields": {"env_dump": carrier, "nested": {"stdout": [carrier]}}}
    else:  # what a grader saw: verdicts, test output, expected actions
        fields["metadata"] = {"grader": {"verdict": "FAIL", "test_output": carrier, "expected_actions": [{"arguments": {"cmd": carrier}}]}}
    return Trajectory(id="t-1", source_format="test", steps=steps, **fields)


def generate(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` cases: kind, position, field, the carrier text, the secret's written forms, the ids written."""
    sys.path.insert(0, str(ROOT))
    from benchmarks import secrets_corpus as corpus

    rng = Random(seed)
    kinds = sorted(corpus.GENERATORS)
    cases = []
    for i in range(n):
        ids = corpus.ids(rng)
        case = corpus.place(rng, rng.choice(kinds), corpus.POSITIONS[i % len(corpus.POSITIONS)])
        id_text = corpus.id_text(rng, ids, case.position)
        cases.append(
            {
                "kind": case.kind,
                "position": case.position,
                "field": TRAJECTORY_FIELDS[(i // len(corpus.POSITIONS)) % len(TRAJECTORY_FIELDS)],
                "secret": case.secret,
                "text": f"{case.text}\n{id_text}",
                "carrier": case.text,
                "written": list(case.written),
                "ids": [v for v in ids.values() if v in id_text],
            }
        )
    return cases


def redact_cases(cases: list[dict[str, Any]]) -> tuple[list[str], float, int]:
    """The redacted trajectory (JSON) of each case, the CPU seconds of redaction, and the text bytes redacted."""
    from trace2skill.redact import redact_trajectory

    trajectories = [carrying(c["field"], c["text"]) for c in cases]
    text_bytes = sum(len(c["text"].encode()) for c in cases)
    t0 = time.process_time()
    redacted = [redact_trajectory(t) for t in trajectories]
    cpu = time.process_time() - t0
    return [r.model_dump_json() for r in redacted], cpu, text_bytes


def score(cases: list[dict[str, Any]], outputs: list[str]) -> dict[str, Any]:
    """Recall, id survival, and the leaks per kind and per position."""
    from benchmarks.secrets_corpus import Case, leaked

    by_kind: Counter[str] = Counter()
    by_position: Counter[str] = Counter()
    ids = ids_kept = 0
    for c, out in zip(cases, outputs, strict=True):
        case = Case(c["kind"], c["position"], c["secret"], c["carrier"], tuple(c["written"]))
        if leaked(case, out):
            by_kind[c["kind"]] += 1
            by_position[c["position"]] += 1
        written = [json.dumps(v)[1:-1] for v in c["ids"]]
        ids += len(written)
        ids_kept += sum(v in out for v in written)
    leaks = sum(by_kind.values())
    return {
        "cases": len(cases),
        "leaked": leaks,
        "recall": 1 - leaks / len(cases),
        "ids": ids,
        "ids_kept": ids_kept,
        "id_survival": ids_kept / ids if ids else 1.0,
        "leaks_by_kind": dict(by_kind.most_common()),
        "leaks_by_position": dict(by_position.most_common()),
    }


def measure(n: int, seed: int = 17) -> dict[str, Any]:
    """Recall and id survival of this checkout's redaction over ``n`` generated cases."""
    cases = generate(n, seed)
    outputs, cpu, text_bytes = redact_cases(cases)
    return {**score(cases, outputs), "cpu_s": cpu, "mb_per_cpu_s": text_bytes / 1e6 / cpu}


def _baseline(root: Path, cases: list[dict[str, Any]]) -> tuple[list[str], float]:
    """Redact ``cases`` in a child process that imports ``trace2skill`` from ``root``."""
    with tempfile.TemporaryDirectory() as tmp:
        given, got = Path(tmp) / "cases.json", Path(tmp) / "out.json"
        given.write_text(json.dumps(cases))
        env = {**os.environ, "PYTHONPATH": str(root)}
        subprocess.run([sys.executable, __file__, "--_child", str(given), str(got)], env=env, check=True, cwd=root)
        result = json.loads(got.read_text())
    return result["outputs"], result["cpu"]


def per_thousand_trajectories(n: int) -> dict[str, Any]:
    """CPU seconds per 1,000 trajectories of the secret pass and of the personal-data pass, on the
    demo's tau-bench trajectories (profiles, reservations, tool outputs) repeated to ``n``, and the
    recall of the personal-data pass on the names, user ids and e-mails of their profiles."""
    from trace2skill.ingest import read_file
    from trace2skill.redact import redact_trajectory
    from trace2skill.redact.personal import redact_personal_data

    demo = list(read_file(ROOT / "examples" / "demo" / "tau_bench_results.json", redact=False))
    trajectories = [demo[i % len(demo)] for i in range(n)]
    t0 = time.process_time()
    secret_free = [redact_trajectory(t) for t in trajectories]
    secret_cpu = time.process_time() - t0
    t0 = time.process_time()
    redacted = [redact_personal_data(t) for t in secret_free]
    personal_cpu = time.process_time() - t0
    planted = found = 0
    for before, after in zip(trajectories[: len(demo)], redacted, strict=False):
        profile = next(json.loads(s.content) for s in before.steps if s.content and '"first_name"' in s.content)
        values = [profile["user_id"], profile["name"]["first_name"], profile["name"]["last_name"], profile.get("email", "")]
        dumped = after.model_dump_json()
        planted += sum(1 for v in values if v)
        found += sum(1 for v in values if v and v not in dumped)
    return {"trajectories": n, "secret_cpu_s_per_1k": secret_cpu * 1000 / n, "personal_cpu_s_per_1k": personal_cpu * 1000 / n,
            "personal_recall": found / planted if planted else 1.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--baseline", type=Path, help="another checkout whose trace2skill redacts the same cases")
    parser.add_argument("--out", default=str(HERE / "results" / "redaction.json"))
    parser.add_argument("--trajectories", type=int, default=1000, help="trajectories timed for the per-1,000 cost of each pass")
    parser.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        cases = json.loads(Path(args._child[0]).read_text())
        outputs, cpu, _ = redact_cases(cases)
        Path(args._child[1]).write_text(json.dumps({"outputs": outputs, "cpu": cpu}))
        return
    sys.path.insert(0, str(ROOT))
    cases = generate(args.n, args.seed)
    text_mb = sum(len(c["text"].encode()) for c in cases) / 1e6
    runs = {}
    if args.baseline:
        outputs, cpu = _baseline(args.baseline.resolve(), cases)
        runs["baseline"] = {**score(cases, outputs), "cpu_s": cpu, "mb_per_cpu_s": text_mb / cpu}
    outputs, cpu, _ = redact_cases(cases)
    runs["this checkout"] = {**score(cases, outputs), "cpu_s": cpu, "mb_per_cpu_s": text_mb / cpu}
    print(f"{args.n:,} cases, {text_mb:.1f} MB of text\n")
    print("| code | recall | leaked | id survival | ids kept / written | redaction CPU s | MB per CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in runs.items():
        print(f"| {name} | {r['recall']:.5f} | {r['leaked']:,} | {r['id_survival']:.5f} | {r['ids_kept']:,} / {r['ids']:,} | {r['cpu_s']:.1f} | {r['mb_per_cpu_s']:.2f} |")
    for name, r in runs.items():
        if r["leaked"]:
            print(f"\n{name}: leaks by kind {r['leaks_by_kind']}\n{name}: leaks by position {r['leaks_by_position']}")
    cost = per_thousand_trajectories(args.trajectories)
    print("\n| pass | CPU s per 1,000 trajectories | recall |")
    print("|---|---:|---:|")
    print(f"| secrets | {cost['secret_cpu_s_per_1k']:.2f} | {runs['this checkout']['recall']:.5f} |")
    print(f"| personal data | {cost['personal_cpu_s_per_1k']:.2f} | {cost['personal_recall']:.5f} (profile names, user ids, e-mails) |")
    runs["per_1k_trajectories"] = cost
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"n": args.n, "seed": args.seed, "runs": runs}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
