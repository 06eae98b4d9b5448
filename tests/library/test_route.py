"""Routing a mixed pool: the families found (purity), given groups, small leftovers, existing skills."""

from __future__ import annotations

import pytest

from tests.library.families import (
    BROWSING,
    CODING,
    DATA,
    REAL_SAMPLES,
    airline,
    purity,
    real_coding,
    records,
)
from trace2skill.consolidate.embed import make_embedder
from trace2skill.library.models import ExistingSkill, TaskRecord
from trace2skill.library.route import route

AIRLINE_SKILL = ExistingSkill(
    name="airline-support",
    description="Airline customer service: cancel or change a flight reservation, add checked bags, refunds and compensation. Use when a user wants to cancel or change a reservation.",
)
CODING_SKILL = ExistingSkill(
    name="fix-code",
    description="Fix the code of a repository so its failing tests pass. Use when a task reports a failing test or a bug in the repository code.",
)


@pytest.fixture(scope="module")
def hashing():
    return make_embedder("hashing")


def pool(*extra: list[TaskRecord]) -> list[TaskRecord]:
    """The airline runs (real) with the handwritten data (two runs a task), browsing and coding families."""
    return [*airline(), *records(DATA, "data", runs=2), *records(BROWSING, "browsing"), *records(CODING, "coding"), *(r for e in extra for r in e)]


def family_of(recs: list[TaskRecord]) -> dict[str, str]:
    return {r.id: r.fields["family"] for r in recs}


def check_every_id_once(recs, routing) -> None:
    ids = [i for s in routing.skills for i in s.trajectory_ids] + [u.trajectory_id for u in routing.unrouted]
    assert sorted(ids) == sorted(r.id for r in recs)


def test_four_families_make_four_skills_with_high_purity(hashing):
    recs = pool()
    routing = route(recs, embed=hashing.embed)
    check_every_id_once(recs, routing)
    assert len(routing.skills) == 4 and not routing.unrouted
    assert purity(routing.skill_of(), family_of(recs)) >= 0.9
    assert routing.criterion.startswith("k=4 of 2..12 by silhouette") and "min group size 3" in routing.criterion
    data_skill = next(s for s in routing.skills if "query" in s.keywords)
    assert len(data_skill.trajectory_ids) == 24  # every run, not only each unique task


@pytest.mark.skipif(not REAL_SAMPLES.is_dir(), reason="the real SWE-agent/OpenHands/Claude Code samples are in /work/shared only")
def test_the_real_coding_samples_join_the_coding_family(hashing):
    recs = pool(real_coding())
    routing = route(recs, embed=hashing.embed)
    check_every_id_once(recs, routing)
    assert len(routing.skills) == 4 and purity(routing.skill_of(), family_of(recs)) >= 0.9
    # "what's 1+1?" has no word of two letters or more: the hashing embedder gives it no vector.
    assert [u.reason for u in routing.unrouted] == ["cannot be clustered: its task text has no word the embedder knows"]


def test_minilm_finds_the_families_and_matches_the_existing_skills_too():
    recs, embed = pool(), make_embedder("minilm", threads=1).embed
    routing = route(recs, embed=embed)
    assert len(routing.skills) == 4 and purity(routing.skill_of(), family_of(recs)) >= 0.9
    deepened = route(recs, embed=embed, existing=[AIRLINE_SKILL, CODING_SKILL])
    matched = {s.matched: family_of(recs)[s.trajectory_ids[0]] for s in deepened.skills if s.matched}
    assert matched == {"airline-support": "airline", "fix-code": "coding"} and len(deepened.skills) == 4


def test_routing_is_deterministic_for_a_seed(hashing):
    recs = pool()
    first, again = route(recs, embed=hashing.embed, seed=3), route(recs, embed=hashing.embed, seed=3)
    assert first == again


def test_a_sole_small_group_is_kept_whatever_its_size(hashing):
    routing = route(records(DATA[:2], "data"), embed=hashing.embed)
    assert routing.criterion.startswith("1 group:") and [len(s.trajectory_ids) for s in routing.skills] == [2] and not routing.unrouted


def test_group_by_format_and_by_field(hashing):
    recs = pool()
    by_format = route(recs, embed=hashing.embed, group_by="format")
    assert {s.group for s in by_format.skills} == {"openai_chat", "tau_bench"}
    assert by_format.criterion.startswith("group-by the source format")
    by_field = route(recs, embed=hashing.embed, group_by="family")
    assert purity(by_field.skill_of(), family_of(recs)) == 1.0 and len(by_field.skills) == 4
    assert "metadata field 'family'" in by_field.criterion


def test_a_missing_field_leaves_the_run_unrouted_with_the_field_named(hashing):
    recs = pool()
    recs[0] = recs[0].model_copy(update={"fields": {}})
    routing = route(recs, embed=hashing.embed, group_by="family")
    check_every_id_once(recs, routing)
    assert [(u.trajectory_id, u.reason) for u in routing.unrouted] == [(recs[0].id, "no value for the group-by field 'family'")]


def test_a_small_group_joins_the_nearest_group_or_is_unrouted_with_the_reason(hashing):
    recs = pool()
    # Two data questions labelled apart: they join the data group (their tasks are alike).
    relabelled = [r.model_copy(update={"fields": {"family": "sql"}}) if r.id in ("data-0-0", "data-2-0") else r for r in recs]
    unrelated = [TaskRecord(id=f"odd-{i}", task=t, source_format="openai_chat", fields={"family": "poetry"}) for i, t in enumerate(["Compose a haiku about autumn leaves.", "Compose a sonnet about the ocean."])]
    routing = route(relabelled + unrelated, embed=hashing.embed, group_by="family")
    check_every_id_once(relabelled + unrelated, routing)
    data = next(s for s in routing.skills if s.group == "data")
    assert {"data-0-0", "data-2-0"} <= set(data.trajectory_ids) and "group 'sql' (2 trajectories" in data.note
    assert {u.trajectory_id for u in routing.unrouted} == {"odd-0", "odd-1"}
    reason = routing.unrouted[0].reason
    assert "group 'poetry' has 2 trajectories, fewer than the minimum group size 3" in reason and "best cosine to a larger group" in reason


def test_two_existing_skills_are_deepened_and_the_others_created(hashing):
    recs = pool()
    routing = route(recs, embed=hashing.embed, existing=[AIRLINE_SKILL, CODING_SKILL])
    matched = {s.matched: family_of(recs)[s.trajectory_ids[0]] for s in routing.skills if s.matched}
    assert matched == {"airline-support": "airline", "fix-code": "coding"}
    deepened = next(s for s in routing.skills if s.matched == "airline-support")
    assert deepened.skill == "airline-support" and deepened.description == AIRLINE_SKILL.description and deepened.match_score >= 0.12
    new = [s for s in routing.skills if not s.matched]
    assert len(new) == 2 and all("no existing description fits" in s.note for s in new)
    assert not {s.skill for s in new} & {"airline-support", "fix-code"}


def test_an_existing_skill_takes_one_group_and_the_loser_is_a_new_skill(hashing):
    recs = pool()
    routing = route(recs, embed=hashing.embed, existing=[CODING_SKILL], group_by="family", match_threshold=0.0)
    takers = [s for s in routing.skills if s.matched == "fix-code"]
    assert len(takers) == 1 and family_of(recs)[takers[0].trajectory_ids[0]] == "coding"
    losers = [s for s in routing.skills if "but group 'coding' fits it better" in s.note]
    assert len(losers) == 3 and all(s.matched is None for s in losers)


def test_bad_input_gets_a_clear_error(hashing):
    recs = records(DATA[:3], "data")
    with pytest.raises(ValueError, match="trajectory ids must be unique; repeated: data-0-0"):
        route([*recs, recs[0]], embed=hashing.embed)
    with pytest.raises(ValueError, match="min_group_size and max_groups must be at least 1"):
        route(recs, embed=hashing.embed, min_group_size=0)
    with pytest.raises(ValueError, match="no routing thresholds for embedder 'bert'"):
        route(recs, embed=hashing.embed, embedder="bert")
