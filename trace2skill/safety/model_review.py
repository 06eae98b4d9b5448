"""A model reviewer as the second layer of the safety review.

Each edit the rules did not withhold is shown to the run's model with the operator's S0, as
fenced data, and answered with a typed ``ModelVerdict``. A harmful verdict withholds the
edit (rule ``model-reviewer``, high); the model never un-withholds what a rule withheld,
because it only sees what the rules kept. A call that yields no valid verdict after the
bounded retry is recorded as a flag with its reason, and the edit is kept (the rules stand).

Whether it runs is ``SafetyConfig.model_review``: unset, it is on for the ``openai`` and
``vllm`` backends and off for ``embedded`` and ``fake`` (``model_review_on``). The model is
reached through a ``ModelReviewer`` (a plain callable: in a distill, a call of the Serve
analyst; ``partial(ask_model, client)`` in one process); consolidation runs ``model_check``
on each part ``SafetyReview.screen`` kept, and on each part a fix call returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from trace2skill.llm.base import LLMClient, LLMError, Message
from trace2skill.llm.structured import generate
from trace2skill.prompting import fence_data, load_prompt
from trace2skill.safety.review import Finding, SafetyReview, WithheldEdit
from trace2skill.safety.rules import SafetyConfig
from trace2skill.schema import Edit, Patch, Usage

MODEL_RULE = "model-reviewer"
BACKENDS_ON_BY_DEFAULT = frozenset({"openai", "vllm"})
Kind = Literal[
    "none", "download-and-execute", "exfiltration", "hidden-text", "instructions-to-the-model", "misleading-link",
    "privilege-or-persistence", "untrusted-install", "policy-manipulation", "destructive", "test-or-ci-sabotage", "other",
]


class ModelVerdict(BaseModel):
    """The model's answer about one edit."""

    model_config = ConfigDict(extra="forbid")

    harmful: bool
    kind: Kind = Field(description='The kind of harm, "none" when not harmful.')
    evidence: str = Field(default="", max_length=300, description="The words of the edit that make it harmful, quoted.")


# The model's verdict on an edit against S0's text, with the call's usage; ``LLMError`` when
# there is none (``ask_model`` bound to a client, or a call of the Serve analyst).
ModelReviewer = Callable[[str, Edit], tuple[ModelVerdict, Usage]]


def model_review_on(config: SafetyConfig, backend: str) -> bool:
    """Whether the model reviewer runs: the recipe's switch, else on for openai/vllm only."""
    return config.model_review if config.model_review is not None else backend in BACKENDS_ON_BY_DEFAULT


def ask_model(client: LLMClient, s0_text: str, edit: Edit, max_tokens: int = 256) -> tuple[ModelVerdict, Usage]:
    """The model's verdict on ``edit`` against the operator's ``s0_text`` (bounded retry; ``LLMError`` after it)."""
    prompt = load_prompt("trace2skill.safety", "model_review").substitute(s0=fence_data(s0_text), edit=fence_data(f"{edit.op} {edit.path} {edit.section or ''}\n{edit.content}"))
    return generate(client, [Message(role="user", content=prompt)], ModelVerdict, max_tokens=max_tokens)


def model_screen(review: SafetyReview, kept: Patch, ask: ModelReviewer, s0_text: str) -> tuple[Patch, Usage]:
    """``kept`` (a part the rules passed) without the edits the model calls harmful; those go
    to ``review.withheld``, failed calls to ``review.flagged``."""
    usage, passed = Usage(), []
    for edit in kept.edits:
        try:
            verdict, used = ask(s0_text, edit)
        except LLMError as exc:
            usage = usage + exc.usage
            review.flagged.append(_finding(edit, "medium", f"no verdict from the model reviewer: {exc}"))
            passed.append(edit)
            continue
        usage = usage + used
        if verdict.harmful:
            finding = _finding(edit, "high", f"{verdict.kind}: {verdict.evidence}")
            review.withheld.append(WithheldEdit(edit=edit, findings=[finding], lesson_ids=kept.lesson_ids, trajectory_ids=kept.trajectory_ids))
        else:
            passed.append(edit)
    return kept.model_copy(update={"edits": passed}), usage


def model_check(review: SafetyReview, ask: ModelReviewer | None, s0_text: str) -> Callable[[Patch], Patch]:
    """What consolidation calls on each part the rules kept: ``model_screen`` with ``ask``,
    its usage added to ``review.model_usage`` (no reviewer: the part as it is)."""

    def check(kept: Patch) -> Patch:
        if ask is None or not kept.edits:
            return kept
        passed, used = model_screen(review, kept, ask, s0_text)
        review.model_usage = review.model_usage + used
        return passed

    return check


def _finding(edit: Edit, severity: str, evidence: str) -> Finding:
    first = next((line for line in edit.content.splitlines() if line.strip()), "")
    return Finding(
        rule=MODEL_RULE, severity=severity, explanation="The run's model, shown the edit as data with S0, judged it harmful or could not judge it.",
        evidence=evidence[:200], line=first.strip()[:300], path=edit.path, section=edit.section or "", line_no=1,
    )
