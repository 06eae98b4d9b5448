"""What adapters store as a run's task key (``ingest.base.task_key_of``)."""

from trace2skill.ingest.base import task_key_of


def test_task_key_is_the_recorded_task_or_instance_scoped_by_domain():
    assert task_key_of({"task_id": 3, "trial": 1}) == "task_id:3"
    assert task_key_of({"instance_id": "django__django-1"}) == "instance_id:django__django-1"
    assert task_key_of({"task_id": 3, "domain": "retail"}) == "task_id:retail/3" != task_key_of({"task_id": 3, "domain": "airline"})
    assert task_key_of({"task_id": " "}) is None and task_key_of({}) is None
