"""The fitting rule (analysts.fit): whole when it fits, the least informative text cut first."""

from hypothesis import given, settings
from hypothesis import strategies as st

from trace2skill.analysts.fit import (
    ERROR_LINE,
    INFORMATIVE,
    MIN_STEP_CHARS,
    StepText,
    cut_middle,
    fit_steps,
    informative,
)


def step(i: int, body: str) -> StepText:
    return StepText(index=i, prefix=f"[{i}] tool result: ", body=body)


def run(*bodies: str) -> list[StepText]:
    return [step(i, b) for i, b in enumerate(bodies)]


def size(steps) -> int:
    return len("\n".join(steps.lines())) + 1


FOOTER = "(Open file: /repo/a.py)\n(Current directory: /repo)\nbash-$"
DUMP = "\n".join(f"{n}: unchanged line of the file {n}" for n in range(200))


def test_everything_fits_whole():
    steps = run("task", "x" * 10_000, "done")
    fitted = fit_steps(steps, 20_000)
    assert fitted.steps == steps and fitted.cuts == [] and fitted.note() == ""


def test_repeated_lines_go_first_and_error_lines_stay():
    steps = run(
        "task",
        "ok",
        f"{DUMP}\n{FOOTER}",
        "edit",
        f"{DUMP}\nValueError: boom\n{FOOTER}",
        "x",
        "y",
        "z",
        "w",
    )
    full = sum(s.size() for s in steps)
    fitted = fit_steps(steps, full - 1000)
    fourth = fitted.steps[4].body
    assert (
        "ValueError: boom" in fourth
        and "lines repeated from earlier steps cut" in fourth
    )
    assert fitted.steps[2].body == steps[2].body  # the first showing stays whole
    assert {c.how for c in fitted.cuts} == {
        "repeated lines"
    } and "steps 4 lines repeated" in fitted.note()


def test_ordinary_steps_are_capped_before_those_with_error_output():
    failing = (
        "collecting ...\n"
        + "E   AssertionError: expected 3, got 4\n" * 3
        + "FAILED tests/test_a.py::test_x"
    )
    steps = run(
        "task",
        "start",
        "a" * 6000,
        failing + "q" * 3000,
        "b" * 6000,
        "m",
        "n",
        "o",
        "p",
    )
    fitted = fit_steps(steps, 9000)
    assert size(fitted) <= 9000
    assert fitted.steps[3].body == steps[3].body  # error output whole
    assert (
        len(fitted.steps[2].body) < 6000 and len(fitted.steps[2].body) >= MIN_STEP_CHARS
    )
    assert [c.index for c in fitted.cuts] == [
        2,
        4,
    ] and "steps 2, 4 cut in the middle" in fitted.note()


def test_the_cap_derives_from_the_room():
    steps = run("task", "start", "a" * 6000, "b" * 6000, "m", "n", "o", "p")
    small, large = fit_steps(steps, 3000), fit_steps(steps, 10_000)
    assert len(small.steps[2].body) < len(large.steps[2].body) < 6000


def test_cut_middle_keeps_the_error_lines_of_the_middle():
    body = (
        "head " * 400
        + "\nTraceback (most recent call last):\n  File \"a.py\", line 3, in f\nKeyError: 'x'\n"
        + "tail " * 400
    )
    cut = cut_middle(body, 1000)
    assert (
        cut.startswith("head")
        and cut.endswith("tail ")
        and "KeyError: 'x'" in cut
        and 'File "a.py", line 3' in cut
    )
    assert len(cut) < 1100 and "chars cut" in cut


def test_a_small_cut_keeps_the_exception_that_closes_a_traceback():
    frames = "".join(f'  File "m{i}.py", line {i}, in f{i}\n    raise ValueError(msg)\n' for i in range(8))
    after = "".join(f"cleanup step {i} done\n" for i in range(8))
    body = f"Traceback (most recent call last):\n{frames}KeyError: 'PixelRepresentation'\n{after}bash-$"
    cut = cut_middle(body, MIN_STEP_CHARS)
    assert "KeyError: 'PixelRepresentation'" in cut and len(cut) < len(body)


def test_tool_error_output_is_left_out_last():
    def said(i: int, body: str) -> StepText:  # the agent's own text, not a tool's output
        return StepText(index=i, prefix=f"[{i}] assistant: ", body=body)

    steps = [
        said(0, "task " * 60),
        said(1, "plan " * 60),
        *[said(i, f"step {i} " + "x" * 400) for i in range(2, 6)],
        StepText(index=6, prefix="[6] tool result: ", body="x" * 300 + "\nValueError: boom", output=True),
        *[said(i, f"step {i} " + "x" * 400) for i in range(7, 14)],
        said(14, "It ran without error. " + "y" * 400),  # prose near the end that mentions an error
        said(15, "submitted " * 30),
    ]
    fitted = fit_steps(steps, 1200)
    assert size(fitted) <= 1200
    assert fitted.steps[6] is not None and "ValueError: boom" in fitted.steps[6].body
    assert fitted.steps[14] is None and fitted.steps[0] and fitted.steps[1] and fitted.steps[-1]


def test_last_resort_leaves_out_middle_steps_and_keeps_head_and_end():
    steps = run(*[f"step {i} " + "x" * 400 for i in range(60)])
    fitted = fit_steps(steps, 4000)
    assert size(fitted) <= 4000
    assert fitted.steps[0] and fitted.steps[1] and fitted.steps[-1]
    left = [c.index for c in fitted.cuts if c.how == "left out"]
    assert left and min(left) > 1 and max(left) < 59
    assert any("steps left out to fit the context" in line for line in fitted.lines())
    assert "left out whole" in fitted.note()


def test_what_counts_as_informative():
    for line in (
        "Traceback (most recent call last):",
        "E   assert 3 == 4",
        "FAILED test_x",
        "Process exited with exit code 2",
        "+    return a / b",
        "@@ -1,7 +1,7 @@",
    ):
        assert informative(line), line
    for line in ("Found 1 matches", "bash-$", "10:    print(x)"):
        assert not informative(line), line


# Pieces of text near what the patterns look for, joined at random: the screen in front of a
# pattern must never turn away a text the pattern matches, whatever the case and the lines.
PIECES = [
    "Traceback", "tRACEBACK", "Error", "error:", "ErrorCode", "Exception", "exceptions", "FAIL", "fail", "assert", "ASSERT",
    "exit code 2", "exit status: 1", "Exit Code 0", "exit", "non-zero", "NON-ZERO", 'File "a.py", line 3', '  file "x", line 12',
    "+", "-", "---", "+++", "@@", "@@ ", "+-", "-+", "\n", " ", "\t", "a", "b", "1", "é", "K", "ſ", "ı", "İ",
]  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
def test_the_screen_never_hides_a_match_of_the_pattern(text):
    for screened in (ERROR_LINE, INFORMATIVE):
        assert screened.search(text) == (screened.pattern.search(text) is not None), (screened.pattern.pattern, text)
