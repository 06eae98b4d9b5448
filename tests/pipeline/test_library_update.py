"""``distill INPUT... --library NEW --update PREVIOUS`` end to end on real Ray and Serve (fake
backend): a library distilled from part of a mixed pool, then updated with that pool, new runs
of one family and a run of no family; a skill this pool does not reach is carried over."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import EXAMPLES
from tests.pipeline.test_library import INGEST_DATA, RECIPE, SHAREGPT, _check_library
from trace2skill.pipeline.library import distill_library
from trace2skill.run.checkpoint import load_state
from trace2skill.run.library_update import library_update_config
from trace2skill.run.options import DistillConfig
from trace2skill.skill.validate import validate_skill_dir

pytestmark = pytest.mark.ray

TAU = 8  # tau-bench runs in the first pool
NEW_TAU = 4  # tau-bench runs only the update reads (a file of their own: new ids)
CHATS = ("sql_tool_chat.jsonl", "browse_tool_chat.jsonl")  # 12 openai-chat runs, in both pools
STRAY = INGEST_DATA / "mini_v1.traj.json"  # one mini-swe-agent run: a group of one, no family of the library


def _pools(folder: Path) -> tuple[Path, Path]:
    """The first pool (chats, TAU tau-bench runs, ShareGPT chats) and the update's (the same
    chats, the tau-bench runs with the first one changed, NEW_TAU more, the stray run; no ShareGPT)."""
    first, second = folder / "first", folder / "second"
    runs = json.loads((EXAMPLES / "airline" / "tau_bench_results.json").read_text())
    for pool in (first, second):
        pool.mkdir(parents=True)
        for name in CHATS:
            shutil.copy(EXAMPLES / "library" / name, pool / name)
    (first / "tau.json").write_text(json.dumps(runs[:TAU]))
    shutil.copy(SHAREGPT, first / SHAREGPT.name)
    changed = json.loads(json.dumps(runs[:TAU]))
    user = next(m for m in changed[0]["traj"] if m.get("role") == "user")
    user["content"] = (user.get("content") or "") + " Also, please hurry."
    (second / "tau.json").write_text(json.dumps(changed))
    (second / "more_tau.json").write_text(json.dumps(runs[TAU : TAU + NEW_TAU]))
    shutil.copy(STRAY, second / STRAY.name)
    return first, second


def test_a_library_update_analyses_only_what_is_new_and_carries_the_rest(ray_session, tmp_path):
    first_pool, second_pool = _pools(tmp_path / "pools")
    first_out, second_out = tmp_path / "lib1", tmp_path / "lib2"
    cfg = DistillConfig.model_validate({**RECIPE, "inputs": [first_pool], "out_dir": first_out, "library": {"group_by": "format", "min_group_size": 3}})
    first = distill_library(cfg, progress=lambda _: None)
    before = {s.group: s for s in first.skills}
    assert set(before) == {"openai_chat", "tau_bench", "sharegpt"}

    # plan --library --update counts each skill's seen, changed and new runs before any call.
    planned = subprocess.run([sys.executable, "-m", "trace2skill.cli", "plan", str(second_pool), "--library", "--update", str(first_out), "--json"], capture_output=True, text=True, timeout=300, check=False)
    assert planned.returncode == 0, planned.stderr
    plan = {s["group"]: s for s in json.loads(planned.stdout)["library"]["skills"]}
    assert (plan["openai_chat"]["origin"], plan["openai_chat"]["update"]["seen"], plan["openai_chat"]["analysis_calls"]) == ("updated", 12, 0)
    assert (plan["tau_bench"]["update"]["seen"], plan["tau_bench"]["update"]["changed"], plan["tau_bench"]["update"]["new"]) == (TAU - 1, 1, NEW_TAU)
    assert "sharegpt" not in plan

    # The previous library's routing options are the defaults: no --group-by given here.
    update_cfg = library_update_config(first_out, [second_pool], second_out, {"library": {}})
    assert update_cfg.library.group_by == "format" and update_cfg.library.skills_dir == first_out.resolve()
    library = distill_library(update_cfg, progress=lambda _: None)
    manifest = pl.read_parquet(second_out / "run" / "manifest.parquet")
    _check_library(second_out, library, manifest)
    assert library.update == str((first_out / "run").resolve())
    by_name = {s.name: s for s in library.skills}

    # Each group went to the previous skill of its family, updated from that skill's run.
    tau, chats, chat = (by_name[before[g].name] for g in ("tau_bench", "openai_chat", "sharegpt"))
    assert (tau.origin, chats.origin) == ("updated", "updated")
    for skill in (tau, chats):
        state = load_state(second_out / skill.run_dir)
        assert state.config["update"] == str((first_out / "run" / "skills" / skill.name).resolve())
    assert (chats.update.seen, chats.update.changed, chats.update.new, chats.update.calls) == (12, 0, 0, 0)
    assert (tau.update.seen, tau.update.changed, tau.update.new) == (TAU - 1, 1, NEW_TAU)
    assert tau.update.calls >= 1 + NEW_TAU and tau.update.full_calls > tau.update.calls

    # Seen runs made no call; every call of the update is a changed or new run's.
    seen = manifest.filter(pl.col("status") == "seen")
    assert seen.height == TAU - 1 + 12 and seen["llm_calls"].sum() == 0
    assert set(seen["skill"]) == {tau.name, chats.name}
    sent = manifest.filter(~pl.col("status").is_in(["seen", "unrouted", "quarantined"]))
    assert set(sent["source_file"].map_elements(lambda f: Path(f).name, return_dtype=pl.String)) == {"tau.json", "more_tau.json"}
    new_tau = sent.filter(pl.col("source_file").str.ends_with("more_tau.json"))
    assert new_tau.height == NEW_TAU and set(new_tau["skill"]) == {tau.name}
    assert library.update_total().calls == sent["llm_calls"].sum() == tau.update.calls
    assert sent.filter(pl.col("source_file").str.ends_with("tau.json") & ~pl.col("source_file").str.ends_with("more_tau.json"))["reason"].str.contains("changed since").all()

    # The run of no family: a group of one that fits no group, unrouted with the reason.
    stray = manifest.filter(pl.col("source_file").str.ends_with(STRAY.name))
    assert stray.select("status", "skill").rows() == [("unrouted", "")] and "fewer than the minimum group size" in stray["reason"][0]

    # The ShareGPT skill got nothing from this pool: carried over unchanged, its run where the first library left it.
    assert chat.origin == "carried" and chat.routed == 0 and chat.update is None
    assert (second_out / chat.skill_dir / "SKILL.md").read_text() == (first_out / before["sharegpt"].skill_dir / "SKILL.md").read_text()
    assert (second_out / chat.run_dir).resolve() == (first_out / "run" / "skills" / chat.name).resolve()
    assert not validate_skill_dir(second_out / chat.skill_dir)
    assert chat.name not in set(manifest["skill"])
    report = (second_out / "run" / "report.md").read_text()
    assert "Carried over unchanged" in report and "seen (no call)" in report
    table = library.table()
    assert f"{chat.name}: carried over" in table and "12 seen (no call)" in table
    # The previous library is left as it was.
    assert (first_out / "library.json").is_file() and load_state(first_out / "run").finished
