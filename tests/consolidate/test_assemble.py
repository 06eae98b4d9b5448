from trace2skill.consolidate.assemble import assemble
from trace2skill.consolidate.merge import merge_patches
from trace2skill.llm.fake import FakeLLM
from trace2skill.schema import Edit
from trace2skill.skill.apply import apply_patch
from trace2skill.skill.folder import minimal_skill
from trace2skill.skill.validate import validate_skill
from tests.consolidate.helpers import append, cluster

S0 = minimal_skill("demo-skill", "Demo skill for tests. Use in tests.")


def add(title: str, content: str) -> Edit:
    return Edit(op="add_section", section=title, content=content)


def test_sections_by_support_then_references_with_links():
    clusters = [
        cluster(0, "identity", "skill", 5, [add("Identity", "- Verify the user id first.")]),
        cluster(1, "refunds", "skill", 9, [add("Refunds", "- Refund to the original payment method.")]),
        cluster(2, "pets", "reference", 2, [append("Pitfalls", "- Offer the pet form."), Edit(op="replace_in_section", section="Workflow", anchor="Read the task", content="Read it twice")], description="When an animal travels."),
        cluster(3, "visa", "drop", 1, [add("Visa", "- Check visas.")]),
    ]
    out = assemble(S0, clusters, max_skill_lines=480)
    assert [p.tier for p in out.parts] == ["skill", "skill", "scaffold", "reference"]
    assert [p.label for p in out.parts][:2] == ["refunds", "identity"]
    skill = apply_patch(S0, out.patch).skill
    assert skill.body.titles()[-3:] == ["Refunds", "Identity", "References"]
    ref = skill.files["references/pets.md"]
    assert "Offer the pet form" in ref and "Read this when an animal travels." in ref
    assert "[references/pets.md](references/pets.md)" in skill.body.find("References").body
    assert validate_skill(skill) == []
    assert [d.reason.split(" ")[0] for d in out.dropped] == ["replace_in_section"]  # changing S0 text needs skill-level support
    assert "Visa" not in str(out.patch.edits)


def test_cross_section_conflicts_go_to_one_merge_and_are_recorded():
    clusters = [
        cluster(0, "confirmation", "skill", 8, [append("Pitfalls", "- Wait for an explicit yes before any write action.")]),
        cluster(1, "speed", "skill", 3, [append("Pitfalls", "- Do not wait for an explicit yes before a write action.")]),
        cluster(2, "bags", "skill", 4, [append("Pitfalls", "- Compute the bag fee first.")]),
    ]
    llm = FakeLLM()
    out = assemble(S0, clusters, merge=lambda ps: merge_patches(ps, "", llm))
    assert out.stats.merge_calls - out.whole_skill_calls == 1 and out.whole_skill_calls == 1  # the clash merge, then the whole-skill pass
    text = str(out.patch.edits)
    assert "Do not wait" not in text and "explicit yes" in text and "bag fee" in text
    assert any("across topics" in r and "contradicting" in r for r in out.resolutions)
    merged = next(c for c in out.clusters if c.label == "confirmation")
    assert merged.support == 11


def test_the_line_budget_moves_the_lowest_support_sections_to_references():
    long = "\n".join(f"- rule {i}" for i in range(60))
    clusters = [cluster(i, f"topic {i}", "skill", 10 + i, [add(f"Topic {i}", long)]) for i in range(3)]
    out = assemble(S0, clusters, max_skill_lines=150)
    assert out.demoted == [0, 1] and out.skill_md_lines <= 150
    assert [p.tier for p in out.parts] == ["skill", "scaffold", "reference", "reference"]
    assert out.parts[-1].note.startswith("moved to references/")
    assert validate_skill(apply_patch(S0, out.patch).skill) == []


def test_an_existing_reference_section_and_file_name_are_respected():
    s0 = minimal_skill("demo-skill", "Demo. Use in tests.")
    s0 = apply_patch(s0, cluster(9, "x", "skill", 1, [add("Further reading", "- [references/pets.md](references/pets.md)"), Edit(op="create", path="references/pets.md", content="# Pets\n")]).patches[0]).skill
    out = assemble(s0, [cluster(2, "pets", "reference", 2, [append("Pitfalls", "- Offer the pet form.")])])
    assert [p.tier for p in out.parts] == ["reference"]
    skill = apply_patch(s0, out.patch).skill
    assert "references/pets-2.md" in skill.files and "references/pets-2.md" in skill.body.find("Further reading").body


def test_a_reference_file_takes_blocks_up_to_its_line_budget_and_the_rest_is_dropped_with_why():
    blocks = [append("Pitfalls", f"- Pet rule {i}: carriers of size {i} need form {i}.") for i in range(200)]
    out = assemble(S0, [cluster(2, "pets", "reference", 2, blocks)], max_reference_lines=120)
    skill = apply_patch(S0, out.patch).skill
    lines = skill.files["references/pets.md"].splitlines()
    assert 100 < len(lines) <= 120
    assert out.dropped and all(d.reason == "references/pets.md would pass its 120-line budget" for d in out.dropped)
    kept = sum("Pet rule" in line for line in lines)
    assert kept + len(out.dropped) == 200  # every block is in the file or on record


def test_new_reference_files_stop_at_the_cap_highest_support_first():
    s0 = apply_patch(S0, cluster(9, "x", "skill", 1, [add("References", "- [references/old.md](references/old.md)"), Edit(op="create", path="references/old.md", content="# Old\n")]).patches[0]).skill
    topics = ["pets", "visas", "meals", "seats"]
    clusters = [cluster(i, topic, "reference", 2 + i, [append("Pitfalls", f"- Rule of {topic}.")]) for i, topic in enumerate(topics)]
    out = assemble(s0, clusters, max_reference_files=3)
    skill = apply_patch(s0, out.patch).skill
    assert skill.reference_paths() == ["references/meals.md", "references/old.md", "references/seats.md"]
    assert sorted(d.cluster_id for d in out.dropped) == [0, 1]
    assert all(d.reason == "reference budget full: at most 3 reference files (S0 has 1)" for d in out.dropped)
    assert validate_skill(skill) == []


def test_additions_that_would_pass_an_existing_reference_files_budget_are_dropped_lowest_support_first():
    s0 = apply_patch(S0, cluster(9, "x", "skill", 1, [add("References", "- [references/old.md](references/old.md)"), Edit(op="create", path="references/old.md", content="# Old\n\n## Notes\n\nx\n")]).patches[0]).skill
    big = "\n".join(f"- note {i}" for i in range(40))
    clusters = [cluster(i, f"topic {i}", "skill", 5 + i, [Edit(op="append_to_section", path="references/old.md", section="Notes", content=big.replace("note", f"note{i}"))]) for i in range(3)]
    out = assemble(s0, clusters, max_reference_lines=100)
    skill = apply_patch(s0, out.patch).skill
    assert len(skill.files["references/old.md"].splitlines()) <= 100
    assert [d.cluster_id for d in out.dropped] == [0] and out.dropped[0].reason == "references/old.md would pass its 100-line budget"


def test_reference_files_are_named_and_described_from_the_topic_never_from_instance_text():
    code = cluster(4, "k7wq2m", "reference", 2, [append("Notes", "- Reservation K7WQ2M: confirm the new date with the user before rebooking.")], description="When K7WQ2M is moved.")
    code.patches.append(code.patches[0].model_copy(update={"id": "m-4b", "topic": "rebooking", "edits": []}))
    person = cluster(5, "kenshi tanaka", "reference", 2, [append("Notes", "- Kenshi Tanaka wanted a refund: check the fare rules first.")], description="When Kenshi Tanaka calls about a refund")
    out = assemble(S0, [code, person])
    skill = apply_patch(S0, out.patch).skill
    assert sorted(p for p in skill.files if p.startswith("references/")) == ["references/notes.md", "references/rebooking.md"]
    index = skill.body.find("References").body
    assert "Read it when a task involves rebooking." in index and "Read it when a task involves notes." in index
    assert "K7WQ2M" not in index and "Kenshi" not in index
    notes = {p.label: p.note for p in out.parts if p.tier == "reference"}
    assert "'k7wq2m' has digits" in notes["k7wq2m"] and "proper name" in notes["kenshi tanaka"]
