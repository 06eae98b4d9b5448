"""The verdict from real toy runs (no Ray): a helpful candidate is promoted, a cosmetic one is not."""

from __future__ import annotations

from pathlib import Path

from tests.evaluate.conftest import RUNNER, toy_tasks
from trace2skill.evaluate.plan import EvaluateConfig, plan_runs
from trace2skill.evaluate.runner import RunRow, run_once
from trace2skill.evaluate.summary import summarize


def run_plan(tmp_path: Path, skills: dict[str, Path], names: list[str], tasks: list[dict], trials: int = 1) -> tuple[EvaluateConfig, list[RunRow]]:
    cfg = EvaluateConfig(tasks=tmp_path / "tasks.jsonl", runner=RUNNER, baseline=skills["baseline"], candidates=[skills[n] for n in names], out=tmp_path / "eval", trials=trials, timeout_s=20)
    return cfg, [run_once(s, cfg.runner, timeout_s=cfg.timeout_s) for s in plan_runs(cfg, tasks)]


def verdict(cfg: EvaluateConfig, rows: list[RunRow], tasks: int):
    return summarize(rows, baseline=str(cfg.baseline), candidates=[str(c) for c in cfg.candidates], tasks=tasks, trials=cfg.trials)


def test_helpful_promoted_cosmetic_not(tmp_path, skills):
    tasks = toy_tasks(n_rule=10, n_easy=4)
    cfg, rows = run_plan(tmp_path, skills, ["cosmetic", "helpful"], tasks)
    summary = verdict(cfg, rows, len(tasks))
    cosmetic, helpful = summary.candidates
    assert summary.baseline.success_rate == cosmetic.success_rate == 4 / 14
    assert helpful.success_rate == 1.0
    assert (cosmetic.delta, cosmetic.passes_gate, cosmetic.promoted, cosmetic.rank) == (0.0, False, False, 2)
    assert helpful.delta == 10 / 14 and helpful.ci_low > 0 and helpful.promoted and helpful.rank == 1
    assert helpful.p_value < 0.01 and cosmetic.p_value == 1.0
    assert summary.promoted == str(skills["helpful"])
    assert summary.ci_level == 1 - 0.05 / 2  # Bonferroni over two candidates


def test_min_gain_raises_the_bar(tmp_path, skills):
    tasks = toy_tasks(n_rule=3, n_easy=3)
    cfg, rows = run_plan(tmp_path, skills, ["helpful"], tasks)
    low = summarize(rows, baseline="b", candidates=["h"], tasks=6, trials=1)
    high = summarize(rows, baseline="b", candidates=["h"], tasks=6, trials=1, min_gain=0.9)
    assert low.candidates[0].promoted and not high.candidates[0].promoted and high.promoted is None


def test_errors_are_counted_not_rated(tmp_path, skills):
    tasks = toy_tasks(n_rule=4, n_easy=2) + [{"id": "boom", "crash": True}, {"id": "mute", "silent": True}]
    cfg, rows = run_plan(tmp_path, skills, ["helpful"], tasks, trials=2)
    summary = verdict(cfg, rows, len(tasks))
    assert summary.errors == 8  # 2 tasks x 2 arms x 2 trials
    assert summary.baseline.n == 12 and summary.baseline.errors == 4
    assert summary.candidates[0].n_tasks == 6  # the two error tasks have no pair
    reasons = {r.reason.split(";")[0] for r in rows if r.status == "error"}
    assert reasons == {"exit code 3", "no outcome: no trajectory with an outcome in out_dir and nothing on stdout"}


def test_best_of_n_ranks_and_promotes_the_best(tmp_path, skills):
    half = tmp_path / "half"
    half.mkdir()
    (half / "SKILL.md").write_text("---\nname: half\ndescription: x\n---\n\n## Rules\n\n- Always confirm the booking reference.\n")
    skills = {**skills, "half": half}
    tasks = toy_tasks(n_rule=12, n_easy=2)
    tasks = [{**t, "rule": "always confirm the booking reference"} if i % 2 else t for i, t in enumerate(tasks)]
    cfg, rows = run_plan(tmp_path, skills, ["cosmetic", "half", "helpful"], tasks)
    summary = verdict(cfg, rows, len(tasks))
    by_path = {Path(c.path).name: c for c in summary.candidates}
    assert [by_path[n].rank for n in ("helpful", "half", "cosmetic")] == [1, 2, 3]
    assert by_path["half"].passes_gate and by_path["helpful"].passes_gate
    assert [Path(c.path).name for c in summary.candidates if c.promoted] == ["helpful"]
    assert "PROMOTED" in summary.table()
