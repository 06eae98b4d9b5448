from trace2skill.analysts.render import render_trajectory
from tests.conftest import make_trajectory


def count(text: str) -> int:
    return len(text) // 4


def test_fits_whole_when_small():
    r = render_trajectory(make_trajectory("a", True, ["get_user_details"]), budget_tokens=10_000, count_tokens=count)
    assert r.elided_steps == r.truncated_steps == r.cut_chars == 0 and r.note == ""
    assert "call get_user_details" in r.text and "Outcome: SUCCESS" in r.text
    assert r.system == "Be careful."  # system steps go apart, for the shared prefix
    assert "Be careful." not in r.text


def test_a_long_step_is_shown_whole_when_the_budget_has_room():
    traj = make_trajectory("a", True, [])
    traj.steps[1].content = "A" * 5000 + "MIDDLE" + "B" * 5000
    r = render_trajectory(traj, budget_tokens=100_000, count_tokens=count)
    assert "A" * 5000 + "MIDDLE" + "B" * 5000 in r.text and r.truncated_steps == 0


def test_over_budget_keeps_task_head_and_end_and_says_what_was_left_out():
    traj = make_trajectory("long", False, ["cancel_reservation"], n_filler=200)
    r = render_trajectory(traj, budget_tokens=600, count_tokens=count)
    assert r.elided_steps > 150 and r.tokens <= 600
    assert f"[... {r.elided_steps} steps left out to fit the context ...]" in r.text
    assert "left out whole" in r.note and f"{r.cut_chars:,} characters" in r.note
    assert r.text.startswith("Task: task long")
    assert "Please help with task long" in r.text  # the opening request
    assert "call cancel_reservation" in r.text and r.text.rstrip().endswith("Outcome: FAILURE (reward 0)")


def test_a_long_step_over_budget_is_cut_in_the_middle_keeping_its_error_lines():
    traj = make_trajectory("a", False, [])
    traj.steps[1].content = "A" * 5000 + "\nTraceback (most recent call last):\nValueError: bad date\n" + "B" * 5000 + "END"
    r = render_trajectory(traj, budget_tokens=800, count_tokens=count)
    assert r.truncated_steps == 1 and "chars cut...]" in r.text and "END" in r.text
    assert "ValueError: bad date" in r.text and "steps 1 cut in the middle" in r.note
