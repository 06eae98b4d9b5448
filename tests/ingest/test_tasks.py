"""What adapters store as a run's task key, and the source's own task id (``ingest.tasks``)."""

from trace2skill.ingest.tasks import source_task_id, task_key_of


def test_task_key_is_the_recorded_task_or_instance_scoped_by_domain():
    assert task_key_of({"task_id": 3, "trial": 1}) == "task_id:3"
    assert task_key_of({"instance_id": "django__django-1"}) == "instance_id:django__django-1"
    assert task_key_of({"task_id": 3, "domain": "retail"}) == "task_id:retail/3" != task_key_of({"task_id": 3, "domain": "airline"})
    assert task_key_of({"task_id": " "}) is None and task_key_of({}) is None


def test_source_task_id_is_the_bare_id_a_runner_knows():
    assert source_task_id({"task_id": 3, "domain": "retail"}) == "3"
    assert source_task_id({"instance_id": "django__django-1"}) == "django__django-1"
    assert source_task_id({"task_id": " "}) is None and source_task_id({}) is None
