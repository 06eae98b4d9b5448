from trace2skill.consolidate.finalize import finalize
from trace2skill.consolidate.fix import llm_fixer
from trace2skill.llm.fake import FakeLLM
from trace2skill.schema import Edit, Patch
from trace2skill.skill.folder import minimal_skill


def test_patches_apply_in_order_and_refusals_are_kept():
    s0 = minimal_skill("demo-skill", "Demo skill. Use for tests.")
    good = Patch(id="a", edits=[Edit(op="append_to_section", section="Pitfalls", content="- Ask before acting.")])
    bad = Patch(id="b", edits=[Edit(op="create", path="../escape.md", content="x")])
    result = finalize(s0, [good, bad])
    assert not result.fell_back and result.applied == 1
    assert "Ask before acting." in result.skill.skill_md()
    assert len(result.refused) == 1 and result.refused[0].edit.path == "../escape.md"


def test_invalid_result_falls_back_to_s0():
    s0 = minimal_skill("demo-skill", "Demo skill. Use for tests.")
    huge = "\n".join(f"- line {i}" for i in range(600))
    result = finalize(s0, [Patch(id="a", edits=[Edit(op="append_to_section", section="Pitfalls", content=huge)])])
    assert result.fell_back and result.skill == s0 and result.problems == []
    assert any("500" in w for w in result.withheld_parts)
    assert all(r.reason.startswith("withheld") for r in result.refused)


def test_a_part_that_breaks_validation_gets_fix_rounds_then_is_withheld_alone():
    from trace2skill.consolidate.merge import MergeOutcome

    s0 = minimal_skill("demo-skill", "Demo skill. Use for tests.")
    good = Patch(id="good", edits=[Edit(op="append_to_section", section="Pitfalls", content="- Ask before acting.")])
    huge = "\n".join(f"- line {i}" for i in range(600))
    bad = Patch(id="bad", edits=[Edit(op="append_to_section", section="Pitfalls", content=huge)])
    seen = []

    def shorten(patch, problems, state):  # a repair that works on the second round
        seen.append(problems)
        n = 490 if len(seen) == 1 else 5
        return MergeOutcome(patch=patch.model_copy(update={"edits": [Edit(op="append_to_section", section="Pitfalls", content="\n".join(f"- line {i}" for i in range(n)))]}))

    fixed = finalize(s0, [good, bad], fixer=shorten)
    assert fixed.fell_back and fixed.fix_rounds == 2 and fixed.withheld_parts == []
    assert "Ask before acting." in fixed.skill.skill_md() and "- line 4" in fixed.skill.skill_md()
    assert all("500" in p[0] for p in seen)

    failing = finalize(s0, [good, bad], fixer=lambda p, problems, state: MergeOutcome(error="no valid MergeResult"))
    assert failing.fix_rounds == 1 and failing.withheld_parts[0].startswith("bad:")
    assert "Ask before acting." in failing.skill.skill_md() and failing.problems == []  # the last valid state


class RecordingLLM(FakeLLM):
    """The fake engine, keeping every prompt it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.prompts: list[str] = []

    def complete(self, messages, output, max_tokens, schema=None):
        self.prompts.append("\n".join(m.content for m in messages))
        return super().complete(messages, output, max_tokens, schema)


def test_the_fixer_is_shown_the_state_the_failing_part_was_applied_to():
    s0 = minimal_skill("demo-skill", "Demo skill. Use for tests.")
    earlier = Patch(id="earlier", edits=[Edit(op="append_to_section", section="Pitfalls", content="- Ask the customer before acting.")])
    huge = "\n".join(f"- line {i}" for i in range(600))
    failing = Patch(id="failing", edits=[Edit(op="append_to_section", section="Pitfalls", content=huge)])
    llm = RecordingLLM()
    result = finalize(s0, [earlier, failing], fixer=llm_fixer(llm, retries=0), fix_rounds=1)
    assert result.fix_rounds == 1 and len(llm.prompts) == 1
    (prompt,) = llm.prompts
    skill_block = prompt.split("<skill>", 1)[1].split("</skill>", 1)[0]
    assert "Ask the customer before acting." in skill_block  # the current state, not S0
    assert "Ask the customer before acting." not in s0.skill_md()
    assert "500" in prompt  # the problem it is asked to fix
