"""Library mode end to end on real Ray and Serve (fake backend): a mixed pool of real files
of several families is routed to skills, each skill distilled against its own S0, and every
trajectory ends in the library's manifest with its skill, or unrouted and why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import EXAMPLES
from trace2skill.pipeline.library import distill_library
from trace2skill.run.library import LIBRARY_JSON, Library
from trace2skill.run.options import DistillConfig
from trace2skill.skill.folder import load_skill
from trace2skill.skill.validate import validate_skill_dir

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]
INGEST_DATA = ROOT / "tests" / "ingest" / "data"
# Real files of four families: the file -> its family (what a trajectory's routing is scored against).
FAMILIES = {
    EXAMPLES / "airline" / "tau_bench_results.json": "airline",
    EXAMPLES / "airline" / "chat.jsonl": "airline",
    INGEST_DATA / "openhands_output.jsonl": "coding",
    INGEST_DATA / "swe_agent_fc.traj": "coding",
    INGEST_DATA / "swe_agent_text.traj": "coding",
    INGEST_DATA / "mini_v1.traj.json": "coding",
    INGEST_DATA / "mini_v2.traj.json": "coding",
    EXAMPLES / "library" / "sql_tool_chat.jsonl": "data-questions",
    EXAMPLES / "library" / "browse_tool_chat.jsonl": "browsing",
}
# The group-by test adds a fifth format (ShareGPT chats) with a skill of its own among --skills.
SHAREGPT = INGEST_DATA / "sharegpt.jsonl"
RECIPE = {"backend": {"backend": "fake"}, "consolidate": {"embedder": "hashing"}, "batch_size": 4}


def mixed_pool(folder: Path, families: dict[Path, str] = FAMILIES) -> dict[str, str]:
    """The pool's files copied into ``folder``; each copy's name -> its family."""
    folder.mkdir(parents=True)
    names = {}
    for i, (src, family) in enumerate(families.items()):
        name = f"{i:02d}-{src.name}"
        shutil.copy(src, folder / name)
        names[name] = family
    return names


def _library(tmp_path: Path, pool: dict[Path, str] = FAMILIES, recipe: dict = RECIPE, **library) -> tuple[Path, Library, pl.DataFrame, dict[str, str]]:
    families = mixed_pool(tmp_path / "pool", pool)
    out = tmp_path / "lib"
    cfg = DistillConfig.model_validate({**recipe, "inputs": [tmp_path / "pool"], "out_dir": out, "library": library})
    library_ = distill_library(cfg, progress=lambda line: None)
    manifest = pl.read_parquet(out / "run" / "manifest.parquet")
    return out, library_, manifest, families


def _read_ids(out: Path) -> set[str]:
    ids = set(pl.read_parquet(out / "run" / "trajectories.parquet", columns=["id"])["id"])
    return ids | set(pl.read_parquet(out / "run" / "quarantine.parquet", columns=["trajectory_id"])["trajectory_id"])


def _check_library(out: Path, library: Library, manifest: pl.DataFrame) -> None:
    """Every record read in the manifest exactly once, with its skill or unrouted and a
    reason; each skill folder valid, with its run, provenance and report where library.json says
    (a skill an update carried over has no trajectory of this pool, and its run is the earlier library's)."""
    assert manifest["trajectory_id"].n_unique() == manifest.height
    assert set(manifest["trajectory_id"]) == _read_ids(out)
    unrouted = manifest.filter(pl.col("status") == "unrouted")
    assert unrouted["skill"].to_list() == [""] * unrouted.height
    assert all(unrouted["reason"]), "an unrouted trajectory without a reason"
    routed = manifest.filter(~pl.col("status").is_in(["unrouted", "quarantined"]))
    assert set(routed["skill"]) == {s.name for s in library.skills if s.origin != "carried"}
    assert library.unrouted == unrouted.height
    saved = Library.model_validate_json((out / LIBRARY_JSON).read_text())
    assert saved == library
    for s in library.skills:
        assert s.routed == routed.filter(pl.col("skill") == s.name).height
        skill = load_skill(out / s.skill_dir)
        assert skill.name == s.name and skill.description == s.description
        assert not validate_skill_dir(out / s.skill_dir), s.name
        assert s.valid
        for path in (s.run_dir, s.provenance, s.report):
            assert (out / path).exists(), path
    report = (out / "run" / "report.html").read_text()
    for s in library.skills:
        assert f'href="{"../" + s.report if s.origin == "carried" else f"skills/{s.name}/report.html"}"' in report


def test_group_by_format_with_existing_skills(ray_session, tmp_path):
    skills = tmp_path / "skills"
    shutil.copytree(EXAMPLES / "skills" / "airline-support", skills / "airline-support")
    (skills / "sharegpt-chat").mkdir()
    (skills / "sharegpt-chat" / "SKILL.md").write_text(
        "---\nname: sharegpt-chat\ndescription: Use when the user asks in a chat what the weather (temps) is like, or what is in a picture or image.\n---\n\n"
        "# Everyday chat\n\n## Workflow\n\n- Answer the question asked.\n"
    )
    out, library, manifest, _ = _library(tmp_path, {**FAMILIES, SHAREGPT: "chat"}, group_by="format", skills_dir=skills, min_group_size=3)
    _check_library(out, library, manifest)
    by_group = {s.group: s for s in library.skills}
    # Each format with enough runs is a skill; the two existing skills are deepened, the others created.
    assert set(by_group) == {"tau_bench", "openai_chat", "openhands", "sharegpt"}
    origins = {s.name: s.origin for s in library.skills}
    assert sorted(n for n, o in origins.items() if o == "deepened") == ["airline-support", "sharegpt-chat"], origins
    assert by_group["tau_bench"].name == "airline-support"
    assert by_group["tau_bench"].edits_applied > 0
    # Each description says when to use the skill, rewritten from the tasks routed to it (the fake's answer names their words).
    original = load_skill(skills / "airline-support").description
    assert by_group["tau_bench"].description != original
    assert all(s.description.startswith("Handles tasks about") and "Use when" in s.description for s in library.skills)
    assert load_skill(out / "airline-support").body.render() != load_skill(skills / "airline-support").body.render()
    # Groups under the minimum size (two SWE-agent and two mini-swe-agent runs) joined a group or stayed unrouted, with the reason.
    assert "swe_agent" not in by_group and "mini_swe_agent" not in by_group
    small = manifest.filter(pl.col("source_file").str.contains("swe_agent|mini_v"))
    assert small.height == 4
    for row in small.iter_rows(named=True):
        assert row["skill"] or "group" in row["reason"], row
    # The existing skills' folders are read, never written: the deepened skill lands in the library.
    assert (skills / "airline-support" / "SKILL.md").read_text() == (EXAMPLES / "skills" / "airline-support" / "SKILL.md").read_text()
    data = json.loads((out / LIBRARY_JSON).read_text())
    assert data["criterion"] and data["read"] == manifest.height - data["quarantined"]


def test_clustered_pool_one_skill_per_family(ray_session, tmp_path):
    """No groups given: the task descriptions are clustered (MiniLM, the default embedder),
    one skill per family, each skill's trajectories (nearly) all of one family."""
    out, library, manifest, families = _library(tmp_path, recipe={**RECIPE, "consolidate": {"embedder": "minilm"}})
    _check_library(out, library, manifest)
    routed = manifest.filter(pl.col("skill") != "")
    family = routed["source_file"].map_elements(lambda f: families[Path(f).name], return_dtype=pl.String)
    counts = routed.with_columns(family=family).group_by("skill", "family").len()
    majority = counts.group_by("skill").agg(pl.col("len").max().alias("top"), pl.col("family").sort_by("len").last().alias("family"))
    purity = majority["top"].sum() / routed.height
    assert purity >= 0.9, counts
    assert sorted(majority["family"]) == sorted(set(families.values())), "not one skill per family"
    assert manifest.filter(pl.col("status") == "unrouted").height <= 0.1 * manifest.height
    assert all(s.origin == "created" for s in library.skills)
    assert library.criterion.startswith("k=")
