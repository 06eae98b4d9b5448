"""What the Serve analyst's merge asks the engine for (the replica class, called in-process)."""

from trace2skill.consolidate.merge import answer_tokens
from trace2skill.llm.fake import FakeLLM
from trace2skill.schema import Edit, Patch
from trace2skill.serve.analyst import Analyst


def test_a_merge_on_the_replica_gets_room_for_its_inputs_edits_only():
    seen, tokens = [], []

    class Recording(FakeLLM):
        def complete(self, messages, output, max_tokens, schema=None):
            seen.append(schema)
            tokens.append(max_tokens)
            return super().complete(messages, output, max_tokens, schema=schema)

    replica = Analyst.func_or_class(backend={"backend": "fake"}, analyst={})
    replica.llm = Recording()
    patches = [
        Patch(id=f"p{i}", edits=[Edit(op="append_to_section", section="Pitfalls", content=f"- tip {i}")], lesson_ids=[f"l{i}"], trajectory_ids=[f"t{i}"], support=1, topic="t")
        for i in range(3)
    ]
    view = "---\nname: s\ndescription: A skill. Use for tests.\n---\n# S\n\n## Pitfalls\n- a\n"
    replica.merge([p.model_dump_json() for p in patches], view)
    assert seen[0]["properties"]["edits"]["maxItems"] == 3
    assert seen[0]["$defs"]["InputDrop"]["properties"]["input"]["enum"] == [1, 2, 3]
    assert tokens[0] == answer_tokens(patches, seen[0]["properties"]["analysis"]["maxLength"]) < replica.config.context_tokens  # the answer's room follows the inputs, not a fixed cap
