"""Render a trajectory as prompt text that fits a token budget."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

from trace2skill.prompting import fence_data
from trace2skill.schema import GraderCheck, GraderView, Step, Trajectory

TokenCounter = Callable[[str], int]

HEAD_STEPS = 2  # the opening user request is what the task was; always keep it
MAX_PASSED_CHECKS = 10  # passing checks are context; failing ones are the evidence


class RenderedTrajectory(BaseModel):
    """Prompt text of one trajectory, plus what was left out to fit the budget."""

    system: str  # the agent's own instructions (often shared by many runs)
    text: str  # the task, the steps, the outcome
    tokens: int
    elided_steps: int = 0
    truncated_steps: int = 0


def render_step(step: Step, max_chars: int) -> tuple[str, bool]:
    """One line per step; long contents are cut in the middle. Returns (line, was_cut)."""
    if step.kind == "tool_call":
        body = f"call {step.tool_name}({step.tool_args or ''})"
    else:
        body = step.content
    label = step.role if step.kind != "observation" else f"tool result{f' ({step.tool_name})' if step.tool_name else ''}"
    if step.kind == "reasoning":
        label = f"{step.role} (thinking)"
    cut = len(body) > max_chars
    if cut:
        half = max_chars // 2
        body = f"{body[:half]} [...{len(body) - max_chars} chars cut...] {body[-half:]}"
    return fence_data(f"[{step.index}] {label}: {body}"), cut


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


def system_text(traj: Trajectory, max_chars: int = 6000) -> str:
    """The agent's own instructions (its system messages), capped at ``max_chars``."""
    system = "\n".join(s.content for s in traj.steps if s.role == "system")
    if len(system) > max_chars:
        system = system[:max_chars] + f"\n[...{len(system) - max_chars} chars of instructions cut...]"
    return fence_data(system)


def render_trajectory(
    traj: Trajectory,
    *,
    budget_tokens: int,
    count_tokens: TokenCounter,
    max_step_chars: int = 1200,
    max_system_chars: int = 6000,
) -> RenderedTrajectory:
    """Render ``traj`` within ``budget_tokens``.

    System steps are returned apart, so callers can put them before the trajectory
    (engines with prefix caching then reuse them across runs that share them). Over
    budget, the opening steps and as many final steps as fit are kept, and a marker
    says how many steps in the middle were elided.
    """
    system = system_text(traj, max_system_chars)

    lines, truncated = [], 0
    for step in traj.steps:
        if step.role == "system":
            continue
        line, cut = render_step(step, max_step_chars)
        lines.append(line)
        truncated += cut

    header = fence_data(f"Task: {traj.task}") if traj.task else "Task: (see the first user message)"
    footer = outcome_line(traj)

    def assemble(kept: list[str]) -> str:
        return "\n".join([header, *kept, footer])

    text = assemble(lines)
    tokens = count_tokens(text)
    elided = 0
    if tokens > budget_tokens and len(lines) > HEAD_STEPS + 1:
        head = lines[:HEAD_STEPS]
        fixed = count_tokens(assemble(head)) + 16  # the marker line
        tail: list[str] = []
        used = fixed
        for line in reversed(lines[HEAD_STEPS:]):
            cost = count_tokens(line) + 1
            if used + cost > budget_tokens and tail:
                break
            tail.insert(0, line)
            used += cost
        elided = len(lines) - HEAD_STEPS - len(tail)
        if elided:
            marker = f"[... {elided} steps elided to fit the context ...]"
            text = assemble([*head, marker, *tail])
            tokens = count_tokens(text)
    return RenderedTrajectory(
        system=system, text=text, tokens=tokens, elided_steps=elided, truncated_steps=truncated
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
