"""Whatever the records, each trajectory ends in exactly one skill or in unrouted."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trace2skill.consolidate.embed import make_embedder
from trace2skill.library.models import ExistingSkill, TaskRecord
from trace2skill.library.route import route
from trace2skill.skill.folder import minimal_skill
from trace2skill.skill.validate import validate_skill

EMBED = make_embedder("hashing").embed
EXISTING = [ExistingSkill(name="sql-query", description="Use when a task asks for a SQL query over a table."), ExistingSkill(name="tasks", description="Use when a task is any task.")]
WORDS = ["cancel reservation flight", "sql query table", "website page search", "fix failing test", "", "42", "refund bags"]
record = st.builds(
    lambda i, task, fmt, fam: (i, task, fmt, fam),
    st.integers(0, 10_000),
    st.sampled_from(WORDS),
    st.sampled_from(["openai_chat", "tau_bench"]),
    st.sampled_from(["a", "b", None]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record, max_size=30, unique_by=lambda r: r[0]), st.sampled_from([None, "format", "family"]), st.integers(1, 4), st.booleans())
def test_every_id_appears_exactly_once_and_every_skill_is_valid(rows, group_by, min_size, with_existing):
    recs = [TaskRecord(id=f"t{i}", task=task, source_format=fmt, fields={"family": fam} if fam else {}) for i, task, fmt, fam in rows]
    routing = route(recs, embed=EMBED, group_by=group_by, min_group_size=min_size, max_groups=4, existing=EXISTING if with_existing else ())
    ids = [i for s in routing.skills for i in s.trajectory_ids] + [u.trajectory_id for u in routing.unrouted]
    assert sorted(ids) == sorted(r.id for r in recs)
    assert len({s.skill for s in routing.skills}) == len(routing.skills)
    assert len([s.matched for s in routing.skills if s.matched]) == len({s.matched for s in routing.skills if s.matched})
    for s in routing.skills:
        assert validate_skill(minimal_skill(s.skill, s.description)) == []
    assert all(u.reason for u in routing.unrouted) and routing.criterion
