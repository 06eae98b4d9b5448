"""Render a trajectory as prompt text that fits a token budget."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from trace2skill.analysts.fit import FittedSteps, StepText, fit_steps
from trace2skill.prompting import fence_data
from trace2skill.schema import GraderCheck, GraderView, Step, Trajectory

TokenCounter = Callable[[str], int]

MAX_PASSED_CHECKS = 10  # passing checks are context; failing ones are the evidence
SYSTEM_CHARS = 6000  # the agent's instructions, at least, when the budget is small
FIT_TRIES = 4  # measure, fit, measure again: the token count of cut text is only known after


class RenderedTrajectory(BaseModel):
    """Prompt text of one trajectory, plus what was cut to fit the budget."""

    system: str  # the agent's own instructions (often shared by many runs)
    text: str  # the task, the steps, the outcome
    tokens: int
    elided_steps: int = 0  # steps left out whole
    truncated_steps: int = 0  # steps shown with some of their text cut
    cut_chars: int = 0
    note: str = ""  # what was cut, in words, for the prompt ("" when nothing was)


def step_text(step: Step) -> StepText:
    """A step as the prompt shows it: ``[i] who: `` then its whole text."""
    if step.kind == "tool_call":
        body = f"call {step.tool_name}({step.tool_args or ''})"
    else:
        body = step.content
    label = step.role if step.kind != "observation" else f"tool result{f' ({step.tool_name})' if step.tool_name else ''}"
    if step.kind == "reasoning":
        label = f"{step.role} (thinking)"
    return StepText(index=step.index, prefix=fence_data(f"[{step.index}] {label}: "), body=fence_data(body), output=step.role == "tool")


def render_step(step: Step) -> str:
    """One step, whole, as one prompt line (or more, when its text has line breaks)."""
    text = step_text(step)
    return text.prefix + text.body


def task_line(traj: Trajectory) -> str:
    """The task, unless a user step says it word for word (then it is shown once, there)."""
    said = next((s.index for s in traj.steps if s.role == "user" and s.content.strip() == (traj.task or "").strip()), None)
    if not traj.task or said is not None:
        return f"Task: (the user message of step {said})" if said is not None else "Task: (see the first user message)"
    return fence_data(f"Task: {traj.task}")


RULES = {"tests": "the agent's last test run", "patch": "the submitted patch", "user": "the user's last turn"}


def outcome_caveat(metadata: dict) -> str:
    """What the analyst is told about an outcome nobody graded: the signal or the judge's verdict it rests on."""
    source = metadata.get("outcome_source")
    if source == "signal":
        signal = metadata.get("outcome_signal") or {}
        said = f"{RULES.get(signal.get('rule'), 'a signal')} at step {signal.get('step')}: {signal.get('evidence', '')}"
        return fence_data(f" (not graded: inferred from {said})")
    if source == "judged":
        judged = metadata.get("outcome_judgement") or {}
        steps = ", ".join(str(i) for i in judged.get("cited_steps") or [])
        return fence_data(
            f" (not graded: an outcome judge inferred it with confidence {judged.get('confidence', 0):.2f} from steps {steps}: "
            f"{str(judged.get('reason', '')).rstrip('.')}. Treat it as likely, not certain: draw lessons only from what the run itself shows.)"
        )
    return ""


def outcome_line(traj: Trajectory) -> str:
    if traj.success is None:
        verdict = "unknown"
    else:
        verdict = "SUCCESS" if traj.success else "FAILURE"
    reward = f" (reward {traj.reward:g})" if traj.reward is not None else ""
    return f"Outcome: {verdict}{reward}{outcome_caveat(traj.metadata)}"


def system_text(traj: Trajectory, max_chars: int = SYSTEM_CHARS) -> str:
    """The agent's own instructions (its system messages), capped at ``max_chars``."""
    system = "\n".join(s.content for s in traj.steps if s.role == "system")
    if len(system) > max_chars:
        system = system[:max_chars] + f"\n[...{len(system) - max_chars} chars of instructions cut...]"
    return fence_data(system)


def render_trajectory(traj: Trajectory, *, budget_tokens: int, count_tokens: TokenCounter, max_system_chars: int = SYSTEM_CHARS) -> RenderedTrajectory:
    """Render ``traj`` within ``budget_tokens``, its steps fitted by the rule of
    ``trace2skill.analysts.fit``: whole when they fit, else the least informative text cut
    first, and ``note`` says what was cut.

    System steps are returned apart, so callers can put them before the trajectory
    (engines with prefix caching then reuse them across runs that share them).
    """
    steps = [step_text(s) for s in traj.steps if s.role != "system"]
    header = task_line(traj)
    footer = outcome_line(traj)

    def assemble(fitted: FittedSteps) -> str:
        return "\n".join([header, *fitted.lines(), footer])

    fitted = FittedSteps(steps=steps)
    text = assemble(fitted)
    tokens = count_tokens(text)
    room = sum(s.size() for s in steps)
    for _ in range(FIT_TRIES):
        if tokens <= budget_tokens:
            break
        # characters a token, as measured on the text itself (code and logs are denser than prose)
        room = max(int(room * budget_tokens / tokens * 0.97) - len(header) - len(footer), 0)
        fitted = fit_steps(steps, room)
        text = assemble(fitted)
        tokens = count_tokens(text)
    left_out = {c.index for c in fitted.cuts if c.how == "left out"}
    return RenderedTrajectory(
        system=system_text(traj, max_system_chars),
        text=text,
        tokens=tokens,
        elided_steps=len(left_out),
        truncated_steps=fitted.steps_cut() - len(left_out),
        cut_chars=sum(c.chars for c in fitted.cuts),
        note=fitted.note(),
    )


def _check_line(check: GraderCheck) -> str:
    mark = {True: "PASS", False: "FAIL", None: "----"}[check.passed]
    score = f" (score {check.score:g})" if check.score is not None else ""
    detail = f": {check.detail}" if check.detail else ""
    return f"- [{mark}] {check.kind} {check.name}{score}{detail}"


def render_grader(grader: GraderView, max_chars: int) -> str:
    """The grader's view as prompt text of at most about ``max_chars`` characters.

    Failing checks come first and are all listed; passing ones up to
    ``MAX_PASSED_CHECKS`` (then a count); the test output is cut in the middle.
    """
    lines = [f"Source: {grader.source}"]
    if grader.verdict:
        lines.append(f"Verdict: {grader.verdict}")
    if grader.expected_actions:
        lines.append("Expected actions (what a correct run does, in order):")
        lines += [f"{i}. {a}" for i, a in enumerate(grader.expected_actions, 1)]
    if grader.reference_answers:
        lines.append("Reference answers (what a correct run outputs or tells the user):")
        lines += [f"- {a}" for a in grader.reference_answers]
    failing = [c for c in grader.checks if c.passed is not True]
    passing = [c for c in grader.checks if c.passed is True]
    if grader.checks:
        lines.append("Checks:")
        lines += [_check_line(c) for c in failing + passing[:MAX_PASSED_CHECKS]]
        if len(passing) > MAX_PASSED_CHECKS:
            lines.append(f"- ... and {len(passing) - MAX_PASSED_CHECKS} more passing checks")
    text = "\n".join(lines)
    if grader.test_output:
        room = max(max_chars - len(text) - 40, 200)
        output = grader.test_output
        if len(output) > room:
            output = f"{output[: room // 4]}\n[...{len(output) - room} chars cut...]\n{output[-(room - room // 4):]}"
        text += f"\nTest output:\n{output}"
    if len(text) > max_chars:
        text = text[:max_chars] + f"\n[...{len(text) - max_chars} chars of the grader's view cut...]"
    return fence_data(text)
