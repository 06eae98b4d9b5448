"""Error and success analysts: one trajectory + the frozen skill S0 -> lessons and one patch."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from trace2skill.analysts.contrast import ContrastiveErrorAnalysis, Pairing, sibling_block, with_contrast
from trace2skill.analysts.models import EditDraft, ErrorAnalysis, LessonDraft, SuccessAnalysis, edit_schema
from trace2skill.analysts.render import render_trajectory, system_text
from trace2skill.llm.base import LLMClient, LLMError, Message, Usage
from trace2skill.llm.structured import generate
from trace2skill.prompting import load_prompt, prompt_version
from trace2skill.schema import Edit, Lesson, Patch, Status, Trajectory, stable_id

PACKAGE = "trace2skill.analysts"  # where the analysts' prompt files live


class AnalystConfig(BaseModel):
    """Budgets of one analyst call."""

    context_tokens: int = Field(8192, description="Context window of the model.")
    max_output_tokens: int = Field(1024, description="Cap on generated tokens per call.")
    retries: int = Field(2, description="Extra attempts after an invalid answer.")
    mode: Literal["single", "agentic"] = Field("single", description="Error analyst: one call, or a bounded loop of tool calls over the run.")
    max_turns: int = Field(8, ge=1, le=64, description="Agentic mode: turns at most per failed run.")
    contrast: bool = Field(True, description="Pair each failure with a successful run of the same task, when there is one.")


class AnalysisResult(BaseModel):
    """What one trajectory yielded; ``status`` is its manifest status."""

    trajectory_id: str
    source_file: str = ""
    status: Status
    reason: str = ""
    lessons: list[Lesson] = Field(default_factory=list)
    patch: Patch | None = None
    usage: Usage = Field(default_factory=Usage)
    sibling_id: str = ""  # the successful run of the same task the failure was contrasted with
    turns: int = 0  # agentic mode: turns of the loop
    tool_errors: int = 0  # agentic mode: actions answered with an error
    verdict: str = ""  # verifier hook: "verified" / "unverified"
    notes: list[str] = Field(default_factory=list)  # e.g. siblings skipped, with the reason


def normalize_topic(topic: str) -> str:
    return " ".join(topic.lower().replace("_", " ").replace("-", " ").split()) or "general"


def build_messages(prompt_name: str, skill_view: str, traj: Trajectory, llm: LLMClient, config: AnalystConfig) -> tuple[list[Message], dict]:
    """Prompt for one analyst call: static instructions and S0 first (a prefix engines can cache)."""
    template = load_prompt(PACKAGE, prompt_name)
    probe = template.safe_substitute(skill=skill_view, shared_context="")
    budget = config.context_tokens - config.max_output_tokens - llm.count_tokens(probe) - 64
    instructions = system_text(traj)
    shared = f"The agent's instructions:\n<agent_instructions>\n{instructions}\n</agent_instructions>" if instructions else ""
    rendered = render_trajectory(traj, budget_tokens=max(budget - llm.count_tokens(shared), 256), count_tokens=llm.count_tokens)
    system = template.safe_substitute(skill=skill_view, shared_context=shared)
    user = f"<trajectory>\n{rendered.text}\n</trajectory>"
    fit = {"elided_steps": rendered.elided_steps, "truncated_steps": rendered.truncated_steps, "trajectory_tokens": rendered.tokens}
    return [Message(role="system", content=system), Message(role="user", content=user)], fit


def _lessons(drafts: list[LessonDraft], traj: Trajectory, kind: str, fit: dict) -> list[Lesson]:
    return [
        Lesson(
            id=stable_id(traj.id, str(i), d.title, prefix="l-"),
            trajectory_id=traj.id,
            kind=kind,
            title=d.title.strip(),
            description=d.description.strip(),
            content=d.content.strip(),
            topic=normalize_topic(d.topic),
            metadata=fit,
        )
        for i, d in enumerate(drafts)
    ]


def to_edit(draft: EditDraft) -> Edit:
    return Edit(
        op=draft.op,
        path=draft.path or "SKILL.md",
        section=draft.section or None,
        anchor=draft.anchor or None,
        content=draft.content,
        reason=draft.reason,
    )


def _patch(lessons: list[Lesson], edits: list[EditDraft], traj: Trajectory) -> Patch | None:
    if not edits:
        return None
    return Patch(
        id=stable_id(traj.id, prefix="p-"),
        edits=[to_edit(e) for e in edits],
        lesson_ids=[lesson.id for lesson in lessons],
        trajectory_ids=[traj.id],
        support=1,
        topic=lessons[0].topic if lessons else "general",
    )


def analyze(traj: Trajectory, skill_view: str, llm: LLMClient, config: AnalystConfig | None = None, pairing: Pairing | None = None) -> AnalysisResult:
    """Run the error analyst on a failure or the success analyst on a success.

    A trajectory with an unknown outcome is analysed by neither (``no_lesson``); an
    LLM that gives no valid answer within the retries makes it ``failed`` with the
    last reason. A failure with a successful sibling in ``pairing`` is analysed against
    the sibling's decisive steps (``trace2skill.analysts.contrast``).
    """
    config = config or AnalystConfig()
    base = {"trajectory_id": traj.id, "source_file": traj.source_file}
    if traj.success is None:
        return AnalysisResult(**base, status="no_lesson", reason="outcome unknown: no success or reward")
    prompt_name, output = ("success_analyst", SuccessAnalysis) if traj.success else ("error_analyst", ErrorAnalysis)
    block = sibling_block(pairing) if not traj.success else ""
    if block:  # the sibling's steps take their room from the trajectory's budget
        output = ContrastiveErrorAnalysis
        config = config.model_copy(update={"context_tokens": config.context_tokens - llm.count_tokens(block)})
    messages, fit = build_messages(prompt_name, skill_view, traj, llm, config)
    if block:
        messages[-1] = Message(role="user", content=f"{messages[-1].content}\n\n{block}")
    schema = edit_schema(output, skill_view)
    try:
        answer, usage = generate(llm, messages, output, max_tokens=config.max_output_tokens, retries=config.retries, schema=schema)
    except LLMError as exc:
        result = AnalysisResult(**base, status="failed", reason=f"{prompt_name}: {exc}", usage=exc.usage)
    except ValueError as exc:  # e.g. a prompt longer than the engine's context
        result = AnalysisResult(**base, status="failed", reason=f"{prompt_name}: {type(exc).__name__}: {exc}")
    else:
        result = analysis_result(answer, traj, prompt_name, fit, usage)
    return with_contrast(result, pairing) if not traj.success else result


def analysis_result(answer: ErrorAnalysis | SuccessAnalysis, traj: Trajectory, prompt_name: str, fit: dict, usage: Usage) -> AnalysisResult:
    """The result of one valid answer: lessons and a patch, or ``no_lesson`` with the reason."""
    base = {"trajectory_id": traj.id, "source_file": traj.source_file}
    kind = "failure" if isinstance(answer, ErrorAnalysis) else "success"
    if isinstance(answer, ErrorAnalysis):
        if not answer.explained:
            said = "; ".join(c.explanation for c in answer.failure_causes)
            return AnalysisResult(**base, status="no_lesson", reason=f"failure not explained{': ' + said if said else ''}", usage=usage)
        evidence = {"failure_causes": [c.model_dump() for c in answer.failure_causes]}
        if getattr(answer, "divergence_step", None) is not None:
            evidence["divergence_step"] = answer.divergence_step
    else:
        evidence = {"solution_path": answer.solution_path}
    tokens = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens, "llm_calls": usage.calls}
    lessons = _lessons(answer.lessons, traj, kind, {**fit, **tokens, **evidence, "prompt": prompt_version(PACKAGE, prompt_name)})
    patch = _patch(lessons, answer.edits, traj)
    if not lessons and patch is None:
        return AnalysisResult(**base, status="no_lesson", reason=f"{prompt_name} proposed no lesson", usage=usage)
    return AnalysisResult(**base, status="analyzed", lessons=lessons, patch=patch, usage=usage)
