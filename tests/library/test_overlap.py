"""Descriptions that claim each other's tasks are flagged; distinct ones are not."""

from __future__ import annotations

import pytest

from tests.library.families import DATA, airline
from trace2skill.consolidate.embed import make_embedder
from trace2skill.library.models import SkillRoute
from trace2skill.library.overlap import overlaps
from trace2skill.library.thresholds import THRESHOLDS

CLAIM = THRESHOLDS["hashing"].claim
AIRLINE = "Use when a user wants to cancel or change a flight reservation, add checked bags or get a refund."


@pytest.fixture(scope="module")
def embed():
    return make_embedder("hashing").embed


def skill(name: str, description: str) -> SkillRoute:
    return SkillRoute(skill=name, group=name, description=description, trajectory_ids=[name])


def test_two_near_identical_descriptions_over_alike_tasks_are_flagged(embed):
    tasks = list(dict.fromkeys(r.task for r in airline()))
    cancel = [t for t in tasks if "cancel" in t]
    change = [t for t in tasks if "cancel" not in t]
    a, b = skill("airline-cancel", AIRLINE), skill("airline-change", AIRLINE.replace("wants to", "would like to"))
    (found,) = overlaps([a, b], {"airline-cancel": cancel, "airline-change": change}, embed=embed, claim=CLAIM)
    assert (found.a, found.b) == ("airline-cancel", "airline-change") and found.share >= 0.5
    assert "'airline-cancel''s description claims" in found.reason and "of 'airline-cancel''s" in found.reason


def test_distinct_descriptions_are_not_flagged(embed):
    tasks = {"airline": [r.task for r in airline()], "data": DATA}
    data = skill("data", "Use when a task asks for a SQL query over a table, an aggregate or a metric.")
    assert overlaps([skill("airline", AIRLINE), data], tasks, embed=embed, claim=CLAIM) == []
    assert overlaps([data], tasks, embed=embed, claim=CLAIM) == []
