"""The evaluation's outputs: ``evaluation.json``, ``runs.parquet`` and the report page.

The page reuses the run report's document model and renderers (``trace2skill.report``),
so it is self-contained and escapes every string the same way: task ids and runner
stderr are not ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trace2skill.evaluate.runner import RunRow
from trace2skill.evaluate.summary import BASELINE, EvaluationSummary, format_p, task_means
from trace2skill.report import plots
from trace2skill.report.doc import Block, Chart, Report, Section, Table, Text
from trace2skill.report.html import render_html
from trace2skill.report.markdown import FILES_DIR, render_markdown

RUNS_SCHEMA = pa.schema(
    [
        ("task", pa.string()),
        ("arm", pa.string()),
        ("skill_dir", pa.string()),
        ("trial", pa.int64()),
        ("status", pa.string()),
        ("outcome", pa.bool_()),
        ("reward", pa.float64()),
        ("outcome_from", pa.string()),
        ("trajectory_file", pa.string()),
        ("exit_code", pa.int64()),
        ("reason", pa.string()),
        ("seconds", pa.float64()),
    ]
)
MAX_TASK_ROWS = 200
MAX_ERROR_ROWS = 50
REASON_CHARS = 300


def write_outputs(out: Path, rows: Sequence[RunRow], summary: EvaluationSummary) -> None:
    """Write ``evaluation.json``, ``runs.parquet``, ``report.html`` and ``report.md`` (+ its chart) to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    pq.write_table(pa.Table.from_pylist([r.model_dump() for r in rows], schema=RUNS_SCHEMA), out / "runs.parquet")
    report = build_report(rows, summary, str(out))
    (out / "report.html").write_text(render_html(report), encoding="utf-8")
    text, files = render_markdown(report)
    (out / FILES_DIR).mkdir(exist_ok=True)
    for rel, data in files.items():
        (out / rel).write_bytes(data)
    (out / "report.md").write_text(text, encoding="utf-8")


def build_report(rows: Sequence[RunRow], summary: EvaluationSummary, where: str) -> Report:
    """The evaluation report: verdict and per-arm table, chart, per-task wins and losses, errors."""
    return Report(title="trace2skill evaluation", subtitle=where, sections=[_verdict(summary), _per_task(rows, summary), _errors(rows)])


def _fmt(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


def _verdict(s: EvaluationSummary) -> Section:
    promoted = next((c for c in s.candidates if c.promoted), None)
    verdict = (
        f"Promoted: {promoted.arm} ({promoted.path}), {promoted.delta:+.3f} success rate over the baseline, "
        f"{s.ci_level:.1%} interval [{promoted.ci_low:+.3f}, {promoted.ci_high:+.3f}]."
        if promoted and promoted.delta is not None
        else f"No candidate is promoted: none has a paired interval whose lower end is above {s.min_gain:g}."
    )
    blocks: list[Block] = [
        Text(verdict),
        Text(f"{s.tasks} task(s) x {1 + len(s.candidates)} arm(s) x {s.trials} trial(s); {s.errors} error run(s), left out of the rates. Test: {s.test}."),
        *[Text(f"Leakage warning: {w}") for w in s.leakage],
    ]
    arms = [s.baseline, *s.candidates]
    rows = [[a.arm, a.path, _fmt(a.success_rate), f"[{_fmt(a.success_ci[0])}, {_fmt(a.success_ci[1])}]", _fmt(a.mean_reward), str(a.n), str(a.errors)] for a in arms]
    blocks.append(Table(["arm", "skill", "success", "95% CI", "mean reward", "n", "errors"], rows))
    cand = [
        [c.arm, str(c.rank), _fmt(c.delta, "+.3f"), f"[{_fmt(c.ci_low, '+.3f')}, {_fmt(c.ci_high, '+.3f')}]", format_p(c.p_value), f"{c.wins}/{c.losses}/{c.ties}", "yes" if c.passes_gate else "no", "PROMOTED" if c.promoted else ""]
        for c in s.candidates
    ]
    blocks.append(Table(["candidate", "rank", "delta", f"{s.ci_level:.1%} CI", "p", "wins/losses/ties", "passes", ""], cand, note=f"Paired over tasks; promoted when the interval's lower end > {s.min_gain:g}."))
    chart = plots.arms_chart([(a.arm, a.success_rate, a.success_ci[0], a.success_ci[1], getattr(a, "promoted", False)) for a in arms])
    blocks.append(Chart("arms", "Success rate per arm", chart, "Runs with an outcome only; the bars' whiskers are 95% Wilson intervals."))
    return Section("Verdict", "verdict", blocks)


def _per_task(rows: Sequence[RunRow], s: EvaluationSummary) -> Section:
    base = task_means(rows, BASELINE)
    means = {c.arm: task_means(rows, c.arm) for c in s.candidates}
    tasks = list(dict.fromkeys(r.task for r in rows))
    table = []
    for task in tasks[:MAX_TASK_ROWS]:
        cells = [task, _fmt(base.get(task), ".2f")]
        for c in s.candidates:
            mine = means[c.arm].get(task)
            cells.append(f"{_fmt(mine, '.2f')} {_result(base.get(task), mine)}")
        table.append(cells)
    note = f"first {MAX_TASK_ROWS} of {len(tasks)} tasks" if len(tasks) > MAX_TASK_ROWS else ""
    columns = ["task", "baseline"] + [c.arm for c in s.candidates]
    return Section("Per task", "tasks", [Text("Success rate of each task's trials per arm; win / loss / tie against the baseline."), Table(columns, table, note)])


def _result(base: float | None, mine: float | None) -> str:
    if base is None or mine is None:
        return "(no pair)"
    return "win" if mine > base else "loss" if mine < base else "tie"


def _errors(rows: Sequence[RunRow]) -> Section:
    errors = [r for r in rows if r.status == "error"]
    table = [[r.task, r.arm, str(r.trial), "-" if r.exit_code is None else str(r.exit_code), r.reason[:REASON_CHARS]] for r in errors[:MAX_ERROR_ROWS]]
    note = f"first {MAX_ERROR_ROWS} of {len(errors)}; all are in runs.parquet" if len(errors) > MAX_ERROR_ROWS else ""
    return Section("Errors", "errors", [Text(f"{len(errors)} run(s) exited non-zero, timed out or gave no outcome."), Table(["task", "arm", "trial", "exit code", "reason"], table, note)])
