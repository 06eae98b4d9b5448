"""``distill --library NEW --update PREVIOUS`` without Ray: the previous library and its skills'
runs, the update's options, the refusals, the skills carried over and the update's counts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import EXAMPLES
from trace2skill.library.models import Routing, SkillRoute
from trace2skill.run.checkpoint import RUN_FORMAT, STATE_FILE, RunError, RunState, saved_config
from trace2skill.run.library import LIBRARY_JSON, Library, LibrarySkill
from trace2skill.run.library_plan import library_plan
from trace2skill.run.library_update import carry_skills, library_update_config, previous_library, skill_counts
from trace2skill.run.options import DistillConfig
from trace2skill.run.plan import Plan
from trace2skill.run.summary import RunSummary
from trace2skill.run.update import NO_PREVIOUS, UpdateCounts, update_config

SKILLS = ("airline-support", "sql-questions")


def _finished(run_dir: Path, cfg: DistillConfig, skill_dir: Path | None = None) -> None:
    run_dir.mkdir(parents=True)
    state = RunState(config=saved_config(cfg), stages=["read", "analyze", "consolidate"]).model_dump()
    (run_dir / STATE_FILE).write_text(json.dumps({**state, "format": RUN_FORMAT}))
    if skill_dir is not None:
        (run_dir / "summary.json").write_text(json.dumps({"skill_dir": str(skill_dir), "analyzed": 4, "analysis_usage": {"calls": 4}}))


def _entry(name: str, **changes) -> LibrarySkill:
    fields = {
        "name": name, "description": f"Use when {name} tasks come up.", "origin": "created", "group": name, "routed": 4, "success_rate": 0.5,
        "lessons": 3, "edits_applied": 2, "valid": True, "skill_dir": name, "run_dir": f"run/skills/{name}",
        "provenance": f"run/skills/{name}/provenance.parquet", "report": f"run/skills/{name}/report.html",
    }
    return LibrarySkill.model_validate({**fields, **changes})


def finished_library(tmp_path: Path, **library) -> Path:
    """A finished library's folder as distill --library leaves it (run.json, library.json, a
    skill folder and a finished run per skill), without its data."""
    out = tmp_path / "lib1"
    cfg = DistillConfig.model_validate({"inputs": [EXAMPLES / "airline"], "out_dir": out, "backend": {"backend": "fake"}, "seed": 7, "library": {"group_by": "format", "min_group_size": 2, **library}})
    _finished(out / "run", cfg)
    for name in SKILLS:
        shutil.copytree(EXAMPLES / "skills" / "airline-support", out / name)
        text = (out / name / "SKILL.md").read_text().replace("name: airline-support", f"name: {name}")
        (out / name / "SKILL.md").write_text(text)
        skill_cfg = cfg.model_copy(update={"library": None, "run_dir": out / "run" / "skills" / name, "name": name})
        _finished(out / "run" / "skills" / name, skill_cfg, out / name)
    library = Library(skills=[_entry(n) for n in SKILLS], criterion="group-by the source format: 2 value(s)", read=8, quarantined=0, unrouted=0)
    (out / LIBRARY_JSON).write_text(library.model_dump_json())
    return out


def test_a_library_update_takes_the_previous_options_and_skills(tmp_path):
    out = finished_library(tmp_path)
    cfg = library_update_config(out, [tmp_path / "more"], tmp_path / "lib2", {"library": {"min_group_size": 5}, "seed": 9})
    assert cfg.update == (out / "run").resolve() and cfg.library.skills_dir == out.resolve()
    assert (cfg.library.group_by, cfg.library.min_group_size, cfg.seed) == ("format", 5, 9)
    assert cfg.skill_dir is None and cfg.inputs == [tmp_path / "more"] and cfg.out_dir == tmp_path / "lib2"
    found = previous_library(out / "run")  # the run folder names it as well as the output folder
    assert found.skill_runs() == {n: (out / "run" / "skills" / n).resolve() for n in SKILLS}
    with pytest.raises(RunError, match="another --library"):
        library_update_config(out, [tmp_path / "more"], out, {})
    with pytest.raises(RunError, match="--skills does not apply"):
        library_update_config(out, [tmp_path / "more"], tmp_path / "lib3", {"library": {"skills_dir": EXAMPLES / "skills"}})


def test_a_library_and_a_skill_run_are_each_updated_their_own_way(tmp_path):
    out = finished_library(tmp_path)
    with pytest.raises(RunError, match="is a library's run: update it with --library"):
        update_config(out, [tmp_path / "more"], tmp_path / "second", {})
    with pytest.raises(RunError, match="is one skill's run, not a library"):
        library_update_config(out / "run" / "skills" / SKILLS[0], [tmp_path / "more"], tmp_path / "lib2", {})
    with pytest.raises(RunError, match="holds no run.json"):
        previous_library(tmp_path / "nothing")


def test_an_unfinished_library_or_skill_run_is_refused(tmp_path):
    out = finished_library(tmp_path)
    (out / LIBRARY_JSON).unlink()
    with pytest.raises(RunError, match="unfinished library run"):
        previous_library(out)
    out = finished_library(tmp_path / "again")
    (out / "run" / "skills" / SKILLS[1] / "summary.json").unlink()
    with pytest.raises(RunError, match="unfinished run"):
        previous_library(out)


def test_skills_no_group_took_are_carried_with_their_runs_where_they_were(tmp_path):
    out = finished_library(tmp_path)
    new_out = tmp_path / "lib2"
    new_out.mkdir()
    carried = carry_skills(previous_library(out), {SKILLS[0]}, new_out)
    assert [s.name for s in carried] == [SKILLS[1]]
    skill = carried[0]
    assert (skill.origin, skill.routed, skill.update, skill.skill_dir) == ("carried", 0, None, SKILLS[1])
    assert (new_out / skill.skill_dir / "SKILL.md").read_text() == (out / SKILLS[1] / "SKILL.md").read_text()
    for key in ("run_dir", "provenance", "report"):
        assert (new_out / getattr(skill, key)).resolve() == (out / getattr(_entry(SKILLS[1]), key)).resolve()
    assert (skill.lessons, skill.description) == (3, _entry(SKILLS[1]).description)  # as the run that made it left them
    assert not (new_out / SKILLS[0]).exists()


def test_the_update_counts_add_up_over_the_skills(tmp_path):
    updated = UpdateCounts(previous="p", seen=10, changed=1, new=2, calls=3, full_calls=13)
    assert skill_counts(RunSummary(update=updated), tmp_path / "no-run") is updated
    created = skill_counts(RunSummary(read=5), tmp_path / "no-run")  # a new skill: everything new, its calls a full run's
    assert (created.new, created.calls, created.full_calls, created.seen, created.previous) == (5, 0, 0, 0, NO_PREVIOUS)
    created = created.model_copy(update={"calls": 5, "full_calls": 5})
    library = Library(
        skills=[_entry("a", origin="updated", update=updated), _entry("b", update=created), _entry("c", origin="carried", routed=0)],
        criterion="c", read=18, quarantined=0, unrouted=0, update="/prev/run",
    )
    total = library.update_total()
    assert (total.seen, total.changed, total.new, total.calls, total.full_calls, total.previous) == (10, 1, 7, 8, 18, "/prev/run")
    table = library.table()
    assert "a: update of p: 10 seen (no call), 1 changed, 2 new" in table
    assert "c: carried over unchanged" in table and total.line() in table
    assert "carried" not in Library(skills=[_entry("a")], criterion="c", read=4, quarantined=0, unrouted=0).table()


def test_plan_of_a_library_update_splits_each_matched_skill_against_its_own_run(tmp_path):
    """A trajectory is seen only by the skill whose previous run analysed it unchanged: one that
    moved to another skill, or whose contents changed, costs a call."""
    previous = previous_library(finished_library(tmp_path))
    pq.write_table(pa.table({"trajectory_id": ["a", "b", "c", "m"], "status": ["analyzed", "no_lesson", "analyzed", "analyzed"], "content_hash": ["ha", "hb", "hc", "hm"]}), previous.skill_runs()[SKILLS[0]] / "manifest.parquet")
    scanned = pa.table({"id": ["a", "b", "c", "d", "m", "n1", "n2"], "content_hash": ["ha", "hb", "other", "hd", "hm", "h1", "h2"]})
    routing = Routing(
        skills=[SkillRoute(skill=SKILLS[0], group="tau", matched=SKILLS[0], description="x", trajectory_ids=["a", "b", "c", "d"]),
                SkillRoute(skill="new-skill", group="chat", description="y", trajectory_ids=["m", "n1", "n2"])],
        unrouted=[], criterion="c",
    )
    fields = {name: 0 for name in ("files", "quarantined", "sampled", "context_tokens", "analysis_prompt_tokens", "analysis_completion_tokens", "merge_prompt_tokens", "merge_completion_tokens", "shared_prefix_tokens")}
    stats = {"mean": 0, "p50": 0, "p95": 0, "max": 0}
    tree = {"units": 0, "clusters": 1, "fan_in": 8, "levels": 0, "calls": 0}
    plan = Plan(**fields, trajectories=7, formats={}, outcomes={}, tokenizer="x", trajectory_tokens=stats, prompt_tokens=stats, analysis_calls=14,
                lessons_per_trajectory=2, merge_fewest=tree, merge_most=tree)
    planned = library_plan(routing, plan, DistillConfig.model_validate({"inputs": [], "out_dir": tmp_path}), scanned, previous.skill_runs())
    tau, new = planned.skills
    assert (tau.origin, tau.update.seen, tau.update.changed, tau.update.new) == ("updated", 2, 1, 1)
    assert (tau.analysis_calls, tau.update.full_calls) == (4, 8)  # 2 calls a trajectory, for the changed and the new one
    assert (new.origin, new.update.seen, new.update.new, new.analysis_calls) == ("created", 0, 3, 6)  # m moved here: analysed again
    split = planned.update_split("prev")
    assert (split.seen, split.changed, split.new) == (2, 1, 4)
    assert f"{SKILLS[0]}: update of" in planned.table()
    assert library_plan(routing, plan, DistillConfig.model_validate({"inputs": [], "out_dir": tmp_path})).skills[0].update is None
