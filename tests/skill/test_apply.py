from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trace2skill.schema import Edit, EditOp, Patch
from trace2skill.skill.apply import ApplyResult, apply_patch, protected_paths
from trace2skill.skill.folder import load_skill
from trace2skill.skill.model import Skill
from trace2skill.skill.validate import validate_skill


@pytest.fixture
def s0(skill_dir: Path) -> Skill:
    return load_skill(skill_dir)


def run(skill: Skill, *edits: Edit, **kwargs: object) -> ApplyResult:
    return apply_patch(skill, Patch(id="p", edits=list(edits)), **kwargs)  # type: ignore[arg-type]


def body(result: ApplyResult, title: str) -> str:
    section = result.skill.body.find(title)
    assert section is not None
    return section.body


def only_refusal(result: ApplyResult) -> str:
    assert len(result.refused) == 1, result.refused
    return result.refused[0].reason


# --- each op applies -----------------------------------------------------------------


def test_append_to_section(s0: Skill) -> None:
    result = run(s0, Edit(op="append_to_section", section="pitfalls", content="- Check the date."))
    assert body(result, "Pitfalls") == "\n- Never refund twice.\n\n- Check the date.\n"
    assert body(result, "Workflow") == body(run(s0), "Workflow")
    assert result.refused == [] and len(result.applied) == 1


def test_append_keeps_blank_line_before_next_section(s0: Skill) -> None:
    result = run(
        s0, Edit(op="append_to_section", section="When to use", content="Or a chargeback.")
    )
    assert body(result, "When to use") == "\nCustomer asks for a refund.\n\nOr a chargeback.\n\n"


def test_insert_after_and_before(s0: Skill) -> None:
    result = run(
        s0,
        Edit(
            op="insert_after",
            section="Workflow",
            anchor="Find the order.",
            content="   - by order id",
        ),
        Edit(
            op="insert_before", section="Workflow", anchor="3. Issue", content="2b. Ask a manager."
        ),
    )
    assert result.refused == []
    lines = body(result, "Workflow").splitlines()
    assert lines[1:4] == [
        "1. Find the order.",
        "   - by order id",
        "2. Check eligibility in [refunds](references/refunds.md).",
    ]
    assert lines[4:6] == ["2b. Ask a manager.", "3. Issue the refund."]


def test_replace_in_section(s0: Skill) -> None:
    result = run(
        s0, Edit(op="replace_in_section", section="Pitfalls", anchor="twice", content="two times")
    )
    assert body(result, "Pitfalls") == "\n- Never refund two times.\n"


def test_add_section_after_anchor_and_at_end(s0: Skill) -> None:
    result = run(
        s0,
        Edit(
            op="add_section",
            section="Escalation",
            anchor="## When to use",
            content="Call a manager.",
        ),
        Edit(op="add_section", section="Glossary", content="RMA: return authorisation."),
    )
    assert result.refused == []
    assert result.skill.body.titles() == [
        "When to use",
        "Escalation",
        "Workflow",
        "Pitfalls",
        "Glossary",
    ]
    text = result.skill.body.render()
    assert "Customer asks for a refund.\n\n## Escalation\n\nCall a manager.\n\n## Workflow" in text
    assert text.endswith("- Never refund twice.\n\n## Glossary\n\nRMA: return authorisation.\n")


def test_delete_section(s0: Skill) -> None:
    result = run(s0, Edit(op="delete_section", section="Pitfalls", reason="merged into Workflow"))
    assert result.skill.body.titles() == ["When to use", "Workflow"]


def test_create_with_link_and_delete_file(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="create", path="references/fraud.md", content="# Fraud\n\nSigns.\n"),
        Edit(op="append_to_section", section="Pitfalls", content="- See `references/fraud.md`."),
        Edit(op="delete_file", path="references/old.md", reason="unused"),
    )
    assert only_refusal(result) == "references/old.md does not exist"
    assert result.skill.files["references/fraud.md"] == "# Fraud\n\nSigns.\n"
    deleted = run(s0, Edit(op="delete_file", path="references/refunds.md", reason="obsolete"))
    assert "references/refunds.md" not in deleted.skill.files


def test_edit_inside_reference_file(s0: Skill) -> None:
    result = run(
        s0,
        Edit(
            op="append_to_section",
            path="references/refunds.md",
            section="Eligibility",
            content="Digital goods: 14 days.",
        ),
    )
    assert result.skill.files["references/refunds.md"].endswith(
        "30 days.\n\nDigital goods: 14 days.\n"
    )


def test_input_skill_is_not_mutated(s0: Skill) -> None:
    before = s0.model_dump()
    result = run(
        s0,
        Edit(op="append_to_section", section="Pitfalls", content="- x"),
        Edit(op="delete_file", path="references/refunds.md", reason="r"),
    )
    result.skill.frontmatter["license"] = "changed"
    assert s0.model_dump() == before


def test_applied_result_still_validates(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="create", path="references/fraud.md", content="# Fraud\n"),
        Edit(op="add_section", section="Fraud", content="Read [fraud](references/fraud.md)."),
    )
    assert result.refused == []
    assert validate_skill(result.skill) == []


# --- refusals per op -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (Edit(op="append_to_section", section="Nope", content="x"), "section 'Nope' not found"),
        (Edit(op="append_to_section", content="x"), "needs a section title"),
        (Edit(op="append_to_section", section="Pitfalls", content="  "), "empty content"),
        (
            Edit(op="insert_after", section="Workflow", anchor="absent text", content="x"),
            "anchor text not found",
        ),
        (Edit(op="insert_before", section="Workflow", content="x"), "needs an anchor"),
        (Edit(op="insert_after", section="Nope", anchor="a", content="x"), "not found"),
        (
            Edit(op="replace_in_section", section="Workflow", anchor="refund", content="x"),
            "occurs 3 times",
        ),
        (
            Edit(op="replace_in_section", section="Workflow", anchor="zzz", content="x"),
            "anchor text not found",
        ),
        (
            Edit(op="replace_in_section", section="Pitfalls", anchor="twice", content=""),
            "needs a reason",
        ),
        (Edit(op="add_section", section="workflow", content="x"), "already exists"),
        (
            Edit(op="add_section", section="New", anchor="Nope", content="x"),
            "section 'Nope' not found",
        ),
        (Edit(op="delete_section", section="Pitfalls"), "needs a reason"),
        (Edit(op="delete_section", section="Nope", reason="r"), "not found"),
        (
            Edit(op="create", path="references/refunds.md", content="x"),
            "no edit in this patch links",
        ),
        (Edit(op="delete_file", path="SKILL.md", reason="r"), "SKILL.md cannot be deleted"),
        (Edit(op="delete_file", path="references/refunds.md"), "needs a reason"),
        (
            Edit(op="append_to_section", section="Pitfalls", content="x\n\n## Sneaky\n\ny"),
            "'## ' heading",
        ),
        (
            Edit(op="append_to_section", path="scripts/lookup.py", section="x", content="x"),
            "allow_scripts",
        ),
    ],
)
def test_refusal_reasons(s0: Skill, edit: Edit, why: str) -> None:
    result = run(s0, edit)
    assert why in only_refusal(result)
    assert result.applied == []
    assert result.skill.skill_md() == s0.skill_md()
    assert result.skill.files == s0.files


def test_ambiguous_section_title_is_refused(s0: Skill) -> None:
    twice = s0.model_copy(
        update={
            "body": s0.body.model_copy(
                update={"sections": [*s0.body.sections, s0.body.sections[-1]]}
            )
        }
    )
    assert "ambiguous" in only_refusal(
        run(twice, Edit(op="append_to_section", section="Pitfalls", content="x"))
    )


def test_create_of_existing_file_refused_with_its_link(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="create", path="references/refunds.md", content="# New\n"),
        Edit(op="append_to_section", section="Pitfalls", content="- see references/refunds.md"),
    )
    assert [r.reason for r in result.refused] == [
        "references/refunds.md already exists",
        "links references/refunds.md, whose create was refused "
        "(references/refunds.md already exists)",
    ]
    assert result.skill.files == s0.files and result.skill.body == s0.body


# --- atomic create + link pairs ------------------------------------------------------


def test_create_refused_withdraws_link(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="create", path="references/huge.md", content="x" * 50),
        Edit(op="add_section", section="Huge", content="[huge](references/huge.md)"),
        Edit(op="append_to_section", section="Pitfalls", content="- unrelated"),
        max_edit_chars=40,
    )
    reasons = [r.reason for r in result.refused]
    assert reasons[0].startswith("content is 50 chars")
    assert reasons[1].startswith("links references/huge.md, whose create was refused")
    assert result.skill.body.find("Huge") is None
    assert "references/huge.md" not in result.skill.files
    assert [e.content for e in result.applied] == ["- unrelated"]


def test_link_refused_withdraws_create(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="create", path="references/new.md", content="# New\n"),
        Edit(op="append_to_section", section="Missing", content="see references/new.md"),
    )
    missing = "section 'Missing' not found in SKILL.md: closest title scores 26.7 (needs 85); no restatement available"
    reasons = [r.reason for r in result.refused]
    assert reasons == [f"the SKILL.md edit linking references/new.md was refused ({missing})", missing]
    assert "references/new.md" not in result.skill.files


def test_create_needs_only_one_surviving_link(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="create", path="references/new.md", content="# New\n"),
        Edit(op="append_to_section", section="Missing", content="see references/new.md"),
        Edit(op="append_to_section", section="Pitfalls", content="- see [new](references/new.md)"),
    )
    assert [r.edit.section for r in result.refused] == ["Missing"]
    assert "references/new.md" in result.skill.files


def test_link_in_reference_file_does_not_count(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="create", path="references/new.md", content="# New\n"),
        Edit(
            op="append_to_section",
            path="references/refunds.md",
            section="Eligibility",
            content="see references/new.md",
        ),
    )
    assert "no edit in this patch links references/new.md" in result.refused[0].reason


def test_withdrawal_cascades_through_shared_link(s0: Skill) -> None:
    # One link edit names two new files; when one create fails, the other loses its link.
    result = run(
        s0,
        Edit(op="create", path="references/a.md", content="# A\n"),
        Edit(op="create", path="references/refunds.md", content="# dup\n"),
        Edit(
            op="append_to_section",
            section="Pitfalls",
            content="- references/a.md and references/refunds.md",
        ),
    )
    assert len(result.refused) == 3
    assert result.refused[0].reason.startswith(
        "the SKILL.md edit linking references/a.md was refused"
    )
    assert result.skill.files == s0.files


def test_create_script_only_with_allow_scripts(s0: Skill) -> None:
    edit = Edit(op="create", path="scripts/check.py", content="print(1)\n")
    assert "allow_scripts" in only_refusal(run(s0, edit))
    assert run(s0, edit, allow_scripts=True).skill.files["scripts/check.py"] == "print(1)\n"


# --- conflicts -----------------------------------------------------------------------


def test_delete_section_plus_edit_in_it_both_withheld(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="delete_section", section="Pitfalls", reason="moved"),
        Edit(op="append_to_section", section="  PITFALLS ", content="- x"),
        Edit(op="append_to_section", section="Workflow", content="4. Close."),
    )
    assert [r.reason.split(":")[0] for r in result.refused] == ["conflict", "conflict"]
    assert "with edit #1" in result.refused[0].reason
    assert result.skill.body.titles() == ["When to use", "Workflow", "Pitfalls"]
    assert body(result, "Workflow").endswith("4. Close.\n\n")


def test_two_replacements_of_same_anchor_both_withheld(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="replace_in_section", section="Pitfalls", anchor="twice", content="2x"),
        Edit(op="replace_in_section", section="Pitfalls", anchor="refund twice", content="3x"),
    )
    assert all(r.reason.startswith("conflict") for r in result.refused) and len(result.refused) == 2
    assert body(result, "Pitfalls") == "\n- Never refund twice.\n"


def test_replacements_of_different_text_do_not_conflict(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="replace_in_section", section="Workflow", anchor="Find", content="Locate"),
        Edit(op="replace_in_section", section="Workflow", anchor="Issue", content="Send"),
    )
    assert result.refused == []


def test_two_creates_of_same_file_both_withheld(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="create", path="references/x.md", content="# one\n"),
        Edit(op="create", path="./references/x.md", content="# two\n"),
        Edit(op="append_to_section", section="Pitfalls", content="- references/x.md"),
    )
    reasons = [r.reason for r in result.refused]
    assert reasons[0].startswith("conflict") and reasons[1].startswith("conflict")
    assert reasons[2].startswith("links references/x.md, whose create was refused (conflict")
    assert result.applied == []


def test_delete_file_plus_edit_of_it_both_withheld(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="delete_file", path="references/refunds.md", reason="r"),
        Edit(
            op="append_to_section", path="references/refunds.md", section="Eligibility", content="x"
        ),
    )
    assert len(result.refused) == 2 and result.skill.files == s0.files


def test_new_sections_come_first_then_edits_apply_in_patch_order(s0: Skill) -> None:
    result = run(
        s0,
        Edit(op="add_section", section="Checks", content="- first"),
        Edit(op="insert_after", section="Checks", anchor="- first", content="- second"),
        Edit(op="insert_after", section="Checks", anchor="- first", content="- third"),
    )
    assert result.refused == []
    assert body(result, "Checks") == "\n- first\n- third\n- second\n"
    reordered = run(s0, *reversed(result.applied))  # an edit listed before its section's add_section still lands
    assert reordered.refused == [] and body(reordered, "Checks") == "\n- first\n- second\n- third\n"


# --- guards --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "../x.md",
        "/etc/passwd",
        "references/../../x.md",
        "C:\\x",
        "references\\x.md",
        "references/a/b.md",
        "references/x\x00.md",
        "LICENSE.txt",
    ],
)
def test_path_attacks_are_refused(s0: Skill, path: str) -> None:
    result = run(s0, Edit(op="create", path=path, content="x"))
    assert only_refusal(result).startswith("unsafe path")
    assert result.skill.files == s0.files


def test_protected_files_are_never_touched(s0: Skill) -> None:
    protected = protected_paths(s0)
    assert protected == frozenset({"scripts/lookup.py", "LICENSE.txt"})
    result = run(
        s0,
        Edit(op="delete_file", path="scripts/lookup.py", reason="r"),
        Edit(op="delete_file", path="references/refunds.md", reason="r"),
        protected=protected | {"references/refunds.md"},
        allow_scripts=True,
    )
    assert [r.reason for r in result.refused] == [
        "scripts/lookup.py is protected",
        "references/refunds.md is protected",
    ]
    assert result.skill.files == s0.files


def test_nul_in_content_refused(s0: Skill) -> None:
    result = run(s0, Edit(op="append_to_section", section="Pitfalls", content="a\x00b"))
    assert only_refusal(result) == "NUL character in content"


def test_edit_size_cap(s0: Skill) -> None:
    result = run(
        s0, Edit(op="append_to_section", section="Pitfalls", content="x" * 101), max_edit_chars=100
    )
    assert only_refusal(result) == "content is 101 chars, over the 100 limit"


def test_file_size_cap_refuses_growth_but_allows_shrinking(s0: Skill) -> None:
    size = len(s0.body.render())
    grow = Edit(op="append_to_section", section="Pitfalls", content="- more")
    assert "over the" in only_refusal(run(s0, grow, max_file_chars=size))
    shrink = Edit(op="delete_section", section="Pitfalls", reason="r")
    assert run(s0, shrink, max_file_chars=size - 10).refused == []


_TEXT = st.sampled_from(
    [
        "",
        " ",
        "x",
        "- item",
        "Find the order.",
        "refund",
        "twice",
        "## Head",
        "references/n.md",
        "see [n](references/n.md)",
        "\x00",
        "Pitfalls",
        "workflow",
        "../x.md",
    ]
)
_EDITS = st.builds(
    Edit,
    op=st.sampled_from(list(get_args(EditOp))),
    path=st.sampled_from(
        ["SKILL.md", "references/refunds.md", "references/n.md", "../x", "LICENSE.txt"]
    ),
    section=st.one_of(st.none(), st.sampled_from(["Workflow", "Pitfalls", "Eligibility", "New"])),
    anchor=st.one_of(st.none(), _TEXT),
    content=_TEXT,
    reason=st.sampled_from(["", "because"]),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(edits=st.lists(_EDITS, max_size=6))
def test_any_patch_yields_rows_never_exceptions(s0: Skill, edits: list[Edit]) -> None:
    before = s0.model_dump()
    result = run(s0, *edits)
    assert len(result.applied) + len(result.refused) == len(edits)
    assert all(r.reason for r in result.refused)
    assert s0.model_dump() == before
    assert result.skill.files.get("LICENSE.txt") == "Apache-2.0\n"
    for path in result.skill.reference_paths():
        if path not in s0.files:  # every new reference arrived with its link
            assert path in result.skill.body.render()
