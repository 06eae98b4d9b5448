"""The one rule of what a task is (``schema.task_key``), which pairing, the holdout split
and the sampling strata all group runs by."""

from trace2skill.schema import TEXT_KEY_PREFIX, task_key


def test_the_stored_key_wins_over_the_text():
    assert task_key("instance_id:django__django-1", "anything") == "instance_id:django__django-1"
    assert task_key("task_id:retail/3", "Book a flight") != task_key("task_id:airline/3", "Book a flight")


def test_without_a_stored_key_identical_text_is_one_task():
    assert task_key(None, "Book  a\nflight ") == task_key("", "Book a flight") != task_key(None, "book a flight")
    assert task_key(None, "Book a flight").startswith(TEXT_KEY_PREFIX)


def test_no_key_and_no_text_is_no_task():
    assert task_key(None, "  ") is None and task_key(None, None) is None
