"""The schema engines decode the analysts' answers against (``engine_schema``): narrowed to the
starting skill's sections and to the run's limits per backend."""

from __future__ import annotations

import jsonschema
import pytest
from pydantic import BaseModel, Field

from trace2skill.analysts.models import (
    LONG_LIMITS,
    SHORT_LIMITS,
    EditDraft,
    ErrorAnalysis,
    OutputLimits,
    SuccessAnalysis,
    default_limits,
    engine_schema,
)
from trace2skill.llm.embedded import json_gbnf
from trace2skill.llm.structured import schema_of
from trace2skill.skill.folder import load_skill, skill_prompt_view
from tests.conftest import ROOT

VIEW = skill_prompt_view(load_skill(ROOT / "examples" / "skills" / "airline-support"))


def answer(lesson_chars: int = 20, **edit) -> dict:
    draft = {"op": "append_to_section", "path": "SKILL.md", "section": "Workflow", "anchor": "", "content": "x", "reason": "", "lesson": 0}
    lesson = {"title": "Check first", "description": "d", "content": "y" * lesson_chars, "topic": "checks", "coverage": "missing"}
    return {"analysis": "why", "explained": True, "failure_causes": [], "lessons": [lesson], "edits": [{**draft, **edit}]}


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
        ({"lesson": 3}, False),  # at most 3 lessons: indices 0..2
    ],
)
def test_edits_of_existing_skill_md_sections_name_a_title_of_s0(edit, ok):
    schema = engine_schema(ErrorAnalysis, LONG_LIMITS, VIEW)
    if ok:
        jsonschema.validate(answer(**edit), schema)
        ErrorAnalysis.model_validate(answer(**edit))  # what the engine may write, pydantic accepts
    else:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(answer(**edit), schema)


def test_the_titles_are_s0s_and_only_the_edits_and_caps_change():
    schema = engine_schema(SuccessAnalysis, LONG_LIMITS, VIEW)
    variants = schema["$defs"]["AnalystEdit"]["anyOf"]
    assert variants[0]["properties"]["section"]["enum"] == ["When to use", "Workflow", "Policies", "Pitfalls"]
    plain = schema_of(SuccessAnalysis)
    assert schema["$defs"].keys() == plain["$defs"].keys()
    assert all(v["required"] == plain["$defs"]["AnalystEdit"]["required"] and v["additionalProperties"] is False for v in variants)


def test_caps_per_backend_embedded_short_openai_long():
    assert default_limits("embedded") == SHORT_LIMITS and default_limits("openai") == default_limits("vllm") == LONG_LIMITS
    short, long = (engine_schema(ErrorAnalysis, limits, VIEW) for limits in (SHORT_LIMITS, LONG_LIMITS))
    lesson = lambda s: s["$defs"]["LessonDraft"]["properties"]["content"]["maxLength"]  # noqa: E731
    edit = lambda s: s["$defs"]["AnalystEdit"]["anyOf"][0]["properties"]["content"]["maxLength"]  # noqa: E731
    assert (lesson(short), edit(short)) == (240, 300)
    assert lesson(long) >= 600 and edit(long) >= 2000
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(answer(lesson_chars=400), short)
    jsonschema.validate(answer(lesson_chars=400), long)


def test_the_analysis_field_comes_first_and_only_when_the_limits_ask_for_it():
    on = engine_schema(ErrorAnalysis, LONG_LIMITS)
    assert list(on["properties"])[0] == on["required"][0] == "analysis"
    assert list(engine_schema(SuccessAnalysis, LONG_LIMITS)["properties"])[0] == "analysis"
    off = engine_schema(ErrorAnalysis, SHORT_LIMITS)
    assert "analysis" not in off["properties"] and "analysis" not in off["required"]
    assert ErrorAnalysis.model_validate({"explained": False}).analysis == ""  # an engine without it still validates


def test_any_output_model_with_edits_gets_the_same_caps():
    class Merged(BaseModel):  # shaped like consolidation's MergeResult
        edits: list[EditDraft] = Field(max_length=12)

    limits = OutputLimits(edit_chars=1500, anchor_chars=200, analysis=False)
    variants = engine_schema(Merged, limits, VIEW)["$defs"]["EditDraft"]["anyOf"]
    assert {v["properties"]["content"]["maxLength"] for v in variants} == {1500}
    assert {v["properties"]["anchor"]["maxLength"] for v in variants} == {200}


def test_a_skill_without_sections_keeps_the_plain_schema_but_its_caps():
    view = "---\nname: s\ndescription: d\n---\n# S\n\nNo sections yet.\n\n(no other files in this skill)\n"
    schema = engine_schema(ErrorAnalysis, LONG_LIMITS, view)
    assert "anyOf" not in schema["$defs"]["AnalystEdit"]
    assert schema["$defs"]["AnalystEdit"]["properties"]["content"]["maxLength"] == LONG_LIMITS.edit_chars


def test_the_narrowed_schema_becomes_a_grammar_of_the_titles():
    gbnf = json_gbnf(engine_schema(ErrorAnalysis, SHORT_LIMITS, VIEW))
    assert '"\\"Workflow\\""' in gbnf and '"\\"Pitfalls\\""' in gbnf


def test_an_edits_lesson_index_is_an_enum_the_engine_enforces():
    """llama.cpp's grammar holds an enum but not an integer's bounds (a real run wrote 3)."""
    from typing import get_args

    from trace2skill.analysts.models import MAX_LESSONS, AnalystEdit, LessonIndex, SuccessAnalysis, SHORT_LIMITS, engine_schema

    assert list(get_args(LessonIndex)) == list(range(MAX_LESSONS))
    schema = engine_schema(SuccessAnalysis, SHORT_LIMITS)
    assert schema["$defs"]["AnalystEdit"]["properties"]["lesson"]["enum"] == [0, 1, 2]
    with pytest.raises(ValueError):
        AnalystEdit(op="append_to_section", section="Pitfalls", content="- x", lesson=3)
