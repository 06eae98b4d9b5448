import pytest
from hypothesis import given
from hypothesis import strategies as st

from trace2skill.analysts.models import ErrorAnalysis
from trace2skill.consolidate.models import MergeResult
from trace2skill.llm.base import Message
from trace2skill.llm.embedded import GRAMMAR_MAX_CHARS, json_gbnf, render_prompt
from trace2skill.llm.structured import schema_of


def test_grammar_keeps_control_characters_out_of_strings():
    gbnf = json_gbnf(schema_of(ErrorAnalysis))
    assert 'char ::= [^"\\\\\\x7F\\x00-\\x1F]' in gbnf
    assert 'char ::= [^"\\\\] |' not in gbnf


def test_strict_schema_requires_every_field_in_order():
    schema = schema_of(MergeResult)
    assert schema["required"] == ["analysis", "resolutions", "dropped", "edits"]  # reasoning first
    assert schema["additionalProperties"] is False
    edit = schema["$defs"]["EditDraft"]
    assert edit["required"] == list(edit["properties"])
    root = json_gbnf(schema_of(ErrorAnalysis)).split("root ::= ", 1)[1].splitlines()[0]
    assert root.index("explained") < root.index("failure-causes") < root.index("lessons") < root.index("edits")
    assert "?" not in root.replace('"?"', "")  # no optional fields at the top


def test_prompt_is_framed_for_a_base_model():
    prompt = render_prompt([Message(role="system", content="S"), Message(role="user", content="U")])
    assert prompt.startswith("S\n\nU") and prompt.endswith("Answer as one JSON object:\n")


def test_edit_paths_are_constrained_by_the_grammar():
    from pydantic import ValidationError

    from trace2skill.analysts.models import EditDraft

    gbnf = json_gbnf(schema_of(ErrorAnalysis))
    assert '"references" "/"' in gbnf  # the path pattern became grammar rules
    EditDraft(op="create", path="references/refund-rules.md", section="", content="x")
    for bad in ("ticket.booking", "../SKILL.md", "references/a/b.md", "scripts/x.py"):
        with pytest.raises(ValidationError):
            EditDraft(op="create", path=bad, section="", content="x")


@pytest.mark.embedded
def test_the_real_model_can_only_name_s0_sections_under_the_narrowed_schema():
    from pydantic import BaseModel, Field

    from trace2skill.analysts.models import SHORT_LIMITS, EditDraft, engine_schema
    from trace2skill.llm.embedded import EmbeddedLLM
    from trace2skill.skill.folder import load_skill, skill_prompt_view, skill_md_titles
    from tests.conftest import ROOT

    class OneEdit(BaseModel):
        edits: list[EditDraft] = Field(min_length=1, max_length=1)

    view = skill_prompt_view(load_skill(ROOT / "examples" / "skills" / "airline-support"))
    example = (
        '{"edits": [{"op": "append_to_section", "path": "SKILL.md", "section": "ticket-booking-details", "anchor": "", '
        '"content": "- Confirm the ticket number before booking.", "reason": "confirm first"}]}'
    )
    messages = [Message(role="system", content=view), Message(role="user", content=f"Example answer: {example}\nWrite the same answer.")]
    llm = EmbeddedLLM(context_tokens=4096, threads=2)
    plain, narrowed = (
        OneEdit.model_validate_json(llm.complete(messages, OneEdit, 200, schema=schema).text).edits[0]
        for schema in (schema_of(OneEdit), engine_schema(OneEdit, SHORT_LIMITS, view))
    )
    assert (plain.op, plain.section) == ("append_to_section", "ticket-booking-details")  # copied: apply would refuse it
    assert narrowed.op == "append_to_section" and narrowed.section in skill_md_titles(view)


@given(st.integers(min_value=1, max_value=20_000))
def test_no_string_in_a_grammar_is_longer_than_llama_cpp_parses(limit):
    # Past ~1,000 nested char rules llama.cpp refuses the grammar and the process segfaults.
    schema = {"type": "object", "properties": {"a": {"type": "string", "maxLength": limit}, "b": {"type": "array", "items": {"type": "string", "maxLength": limit}}}, "required": ["a", "b"]}
    gbnf = json_gbnf(schema)
    for rule in ("a ::= ", "b-item ::= "):
        body = next(line for line in gbnf.splitlines() if line.startswith(rule))
        assert body.count("char") == min(limit, GRAMMAR_MAX_CHARS)


@pytest.mark.embedded
def test_the_real_model_answers_under_a_grammar_whose_limit_llama_cpp_would_refuse():
    # SkillDescription allows 1,024 characters: uncapped, this call killed the process.
    from trace2skill.library.describe import describe_skill
    from trace2skill.llm.embedded import EmbeddedLLM

    llm = EmbeddedLLM(context_tokens=1024, threads=1)
    description, usage, note = describe_skill("Answers data questions.", "data-questions", ["How many orders were placed in March?"], llm, max_tokens=64)
    assert usage.calls >= 1 and description and note
