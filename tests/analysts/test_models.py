"""The analysts' output schema narrowed to the starting skill (``edit_schema``)."""

from __future__ import annotations

import jsonschema
import pytest

from trace2skill.analysts.models import ErrorAnalysis, SuccessAnalysis, edit_schema
from trace2skill.llm.embedded import json_gbnf
from trace2skill.llm.structured import schema_of
from trace2skill.skill.folder import load_skill, skill_prompt_view
from tests.conftest import ROOT

VIEW = skill_prompt_view(load_skill(ROOT / "examples" / "skills" / "airline-support"))


def answer(**edit) -> dict:
    draft = {"op": "append_to_section", "path": "SKILL.md", "section": "Workflow", "anchor": "", "content": "x", "reason": ""}
    return {"explained": True, "failure_causes": [], "lessons": [], "edits": [{**draft, **edit}]}


@pytest.mark.parametrize(
    ("edit", "ok"),
    [
        ({}, True),
        ({"section": "Pitfalls"}, True),
        ({"section": "ticket-booking-details"}, False),  # no such section in S0: the engine cannot write it
        ({"op": "insert_before", "section": "Refunds"}, False),
        ({"op": "add_section", "section": "Refunds"}, True),  # a new section keeps a free title
        ({"op": "create", "path": "references/refunds.md", "section": ""}, True),
        ({"op": "append_to_section", "path": "references/refunds.md", "section": "Anything"}, True),
        ({"op": "delete_file", "section": "Workflow"}, False),
        ({"path": "scripts/run.sh"}, False),
    ],
)
def test_edits_of_existing_skill_md_sections_name_a_title_of_s0(edit, ok):
    schema = edit_schema(ErrorAnalysis, VIEW)
    if ok:
        jsonschema.validate(answer(**edit), schema)
        ErrorAnalysis.model_validate(answer(**edit))  # what the engine may write, pydantic accepts
    else:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(answer(**edit), schema)


def test_the_titles_are_s0s_and_only_the_edits_change():
    schema = edit_schema(SuccessAnalysis, VIEW)
    variants = schema["$defs"]["EditDraft"]["anyOf"]
    assert variants[0]["properties"]["section"]["enum"] == ["When to use", "Workflow", "Policies", "Pitfalls"]
    plain = schema_of(SuccessAnalysis)
    assert {k: v for k, v in schema["$defs"].items() if k != "EditDraft"} == {k: v for k, v in plain["$defs"].items() if k != "EditDraft"}
    assert all(v["required"] == plain["$defs"]["EditDraft"]["required"] and v["additionalProperties"] is False for v in variants)


def test_a_skill_without_sections_keeps_the_plain_schema():
    view = "---\nname: s\ndescription: d\n---\n# S\n\nNo sections yet.\n\n(no other files in this skill)\n"
    assert edit_schema(ErrorAnalysis, view) == schema_of(ErrorAnalysis)


def test_the_narrowed_schema_becomes_a_grammar_of_the_titles():
    gbnf = json_gbnf(edit_schema(ErrorAnalysis, VIEW))
    assert '"\\"Workflow\\""' in gbnf and '"\\"Pitfalls\\""' in gbnf
