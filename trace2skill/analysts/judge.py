"""The outcome judge: a typed verdict on a run that no label, grader or trace signal settled.

It runs on the analyst's engine, just before the analysis of such a run (``analysts.batch``):
one call with the trajectory, answered as :class:`OutcomeVerdict`. A ``success`` or
``failure`` verdict with at least ``judge_min_confidence`` and at least one cited step that
exists becomes the run's outcome, source ``judged``, the verdict kept in
``metadata["outcome_judgement"]`` (the analyst is shown it as a caveat); anything else leaves
the outcome unknown, with the judge's reason.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from trace2skill.analysts.render import render_trajectory
from trace2skill.llm.base import LLMClient, Message
from trace2skill.llm.structured import generate
from trace2skill.prompting import load_prompt, prompt_version
from trace2skill.schema import OUTCOME_JUDGEMENT, OUTCOME_SOURCE, Trajectory, Usage

PACKAGE = "trace2skill.analysts"
PROMPT = "outcome_judge"
JUDGE_OUTPUT_TOKENS = 256
MAX_CITED_STEPS = 5


class OutcomeVerdict(BaseModel):
    """The judge's answer: a verdict, how sure it is, and the steps it rests on."""

    verdict: Literal["success", "failure", "unclear"]
    confidence: float = Field(ge=0.0, le=1.0)
    cited_steps: list[int] = Field(default_factory=list, max_length=MAX_CITED_STEPS)
    reason: str = Field("", max_length=400)


def judge_messages(traj: Trajectory, llm: LLMClient, context_tokens: int) -> list[Message]:
    """The judge's prompt: its instructions, then the trajectory fitted to what the context leaves."""
    system = load_prompt(PACKAGE, PROMPT).template.split("\n", 1)[1]
    budget = context_tokens - JUDGE_OUTPUT_TOKENS - llm.count_tokens(system) - 64
    rendered = render_trajectory(traj, budget_tokens=max(budget, 256), count_tokens=llm.count_tokens)
    return [Message(role="system", content=system), Message(role="user", content=f"<trajectory>\n{rendered.text}\n</trajectory>")]


def judged(traj: Trajectory, verdict: OutcomeVerdict, min_confidence: float) -> tuple[Trajectory, str]:
    """``traj`` with the verdict as its outcome when it counts, else unchanged; and why it does not count ("" when it does)."""
    known = {s.index for s in traj.steps}
    cited = [i for i in verdict.cited_steps if i in known]
    if verdict.verdict == "unclear":
        return traj, f"outcome judge: unclear ({verdict.reason})"
    if verdict.confidence < min_confidence:
        return traj, f"outcome judge: {verdict.verdict} at confidence {verdict.confidence:.2f}, below {min_confidence:.2f}"
    if not cited:
        return traj, f"outcome judge: {verdict.verdict} without a cited step of the run"
    judgement = {**verdict.model_dump(), "cited_steps": cited, "prompt": prompt_version(PACKAGE, PROMPT)}
    metadata = {**traj.metadata, OUTCOME_SOURCE: "judged", OUTCOME_JUDGEMENT: judgement}
    return traj.model_copy(update={"success": verdict.verdict == "success", "metadata": metadata}), ""


def judge_outcome(traj: Trajectory, llm: LLMClient, *, context_tokens: int, min_confidence: float, retries: int = 2) -> tuple[Trajectory, Usage, str]:
    """Ask the judge about ``traj`` (whose outcome is unknown): the trajectory, judged when the
    verdict counts; the call's usage; why the outcome stays unknown ("" when it was judged).
    An engine that gives no valid verdict raises ``LLMError``."""
    verdict, usage = generate(llm, judge_messages(traj, llm, context_tokens), OutcomeVerdict, max_tokens=JUDGE_OUTPUT_TOKENS, retries=retries)
    traj, why = judged(traj, verdict, min_confidence)
    return traj, usage, why
