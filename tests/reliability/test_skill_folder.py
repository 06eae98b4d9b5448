"""A hostile or broken S0 folder: load_skill gives a clear SkillError (or loads it safely), never
another exception and never a skill that fails later, halfway through a run.

Complements tests/skill/test_folder.py (bad frontmatter, symlinked files and folders, FIFOs,
binary files, the per-file cap), which this file does not repeat.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.skill.conftest import SKILL_MD
from trace2skill.skill.folder import SkillError, load_skill, skill_prompt_view, write_skill


@pytest.fixture
def s0(tmp_path: Path) -> Path:
    root = tmp_path / "refund-desk"
    (root / "references").mkdir(parents=True)
    (root / "SKILL.md").write_text(SKILL_MD)
    (root / "references" / "refunds.md").write_text("# Refunds\n")
    return root


def test_skill_md_symlinked_to_a_file_outside_is_refused(s0: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text(SKILL_MD)
    (s0 / "SKILL.md").unlink()
    os.symlink(outside, s0 / "SKILL.md")
    with pytest.raises(SkillError, match="symlink"):
        load_skill(s0)


def test_symlink_deep_inside_pointing_to_root_is_refused(s0: Path) -> None:
    (s0 / "references" / "a" / "b").mkdir(parents=True)
    os.symlink("/", s0 / "references" / "a" / "b" / "root")
    with pytest.raises(SkillError, match="symlink"):
        load_skill(s0)


def test_skill_md_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "s" / "SKILL.md").mkdir(parents=True)
    with pytest.raises(SkillError, match="no SKILL.md"):
        load_skill(tmp_path / "s")


def test_deeply_nested_frontmatter_is_a_skill_error(s0: Path) -> None:
    (s0 / "SKILL.md").write_text("---\nname: x\ndescription: d\nx: " + "[" * 1500 + "]" * 1500 + "\n---\n# x\n")
    with pytest.raises(SkillError, match="nested too deeply"):
        load_skill(s0)


def test_python_tags_in_frontmatter_are_not_constructed(s0: Path) -> None:
    (s0 / "SKILL.md").write_text("---\nname: x\ndescription: d\nrun: !!python/object/apply:os.system ['touch pwned']\n---\n")
    with pytest.raises(SkillError, match="not valid YAML"):
        load_skill(s0)
    assert not Path("pwned").exists()


@pytest.mark.parametrize("name", ["a\\b.md", "tab\there.md", "new\nline.md", " lead.md", "trail.md\r", "rtl\u202emd.txt"])
def test_a_file_name_the_skill_cannot_be_written_back_with_is_refused_at_load(s0: Path, name: str) -> None:
    (s0 / "references" / name).write_text("x")
    with pytest.raises(SkillError, match="unusable file name"):
        load_skill(s0)


def test_a_file_name_that_is_not_utf8_is_refused_at_load(s0: Path) -> None:
    with open(os.fsencode(s0 / "references") + b"/r\xff.md", "w") as fh:
        fh.write("x")
    with pytest.raises(SkillError, match="not valid UTF-8"):
        load_skill(s0)


def test_total_size_cap(s0: Path) -> None:
    for i in range(5):
        (s0 / "references" / f"part-{i}.md").write_text("x" * 900)
    with pytest.raises(SkillError, match=re.escape("over the 4000-byte limit per skill")):
        load_skill(s0, max_total_bytes=4000)
    assert len(load_skill(s0).files) == 6


def test_huge_file_is_refused_without_reading_it(s0: Path) -> None:
    big = s0 / "references" / "huge.md"
    with big.open("wb") as fh:  # sparse: 2 GB on paper, nothing on disk
        fh.truncate(2_000_000_000)
    with pytest.raises(SkillError, match="over the"):
        load_skill(s0)


def test_many_nested_folders_load(s0: Path) -> None:
    deep = s0 / "assets" / "/".join(f"d{i}" for i in range(60))
    deep.mkdir(parents=True)
    (deep / "note.txt").write_text("deep\n")
    assert any(p.endswith("/note.txt") for p in load_skill(s0).files)


_NAME = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_NAME, content=st.binary(max_size=64))
def test_any_extra_file_loads_and_round_trips_or_is_a_skill_error(tmp_path_factory: pytest.TempPathFactory, name: str, content: bytes) -> None:
    root = tmp_path_factory.mktemp("fuzz") / "refund-desk"
    root.mkdir()
    (root / "SKILL.md").write_text(SKILL_MD)
    try:
        (root / name).write_bytes(content)
    except OSError:  # a name the file system itself refuses ("..", too long)
        return
    try:
        skill = load_skill(root)
    except SkillError:
        return
    skill_prompt_view(skill).encode("utf-8")  # what goes into every analyst prompt
    out = write_skill(skill, tmp_path_factory.mktemp("out") / "refund-desk")
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == {"SKILL.md", *skill.files}
