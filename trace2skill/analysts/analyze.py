"""Error and success analysts: one trajectory + the frozen skill S0 -> lessons and one patch."""

from __future__ import annotations

from functools import cache
from string import Template
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trace2skill.analysts.check import CheckerConfig
from trace2skill.analysts.context import SkillContext, SkillFit, render_skill
from trace2skill.analysts.contrast import ContrastiveErrorAnalysis, Pairing, sibling_block, sibling_chars, with_contrast
from trace2skill.analysts.models import (
    ROOMY_EDIT_CHARS,
    AnalysisResult,
    AnalystEdit,
    EditDraft,
    ErrorAnalysis,
    LessonDraft,
    OutputLimits,
    SuccessAnalysis,
    default_limits,
    engine_schema,
)
from trace2skill.analysts.render import render_grader, render_trajectory, system_text
from trace2skill.llm.base import LLMClient, LLMError, Message
from trace2skill.llm.config import SamplingConfig
from trace2skill.llm.structured import generate
from trace2skill.prompting import load_prompt, prompt_version
from trace2skill.schema import Edit, Lesson, Patch, Trajectory, Usage, stable_id

PACKAGE = "trace2skill.analysts"  # where the analysts' prompt files live
MARGIN_TOKENS = 64  # chat-template tokens around the messages
MIN_INSTRUCTION_CHARS = 2000  # of the agent's own instructions, however small the context
# Output cap for real models when the recipe sets none: the analysis and three full-size edits fit.
LONG_OUTPUT_TOKENS = 4096


RunView = Literal["whole", "tools"]
# What the error analyst's instructions say of how it sees the run and the grader's view, per view.
RUN_SHOWN: dict[str, tuple[str, str]] = {
    "whole": (
        "Below is one run of that agent that FAILED, between <trajectory> tags: whole, or, when it is too long for the context, cut as the note after it says.",
        "If there is a <grader> block, it holds",
    ),
    "tools": (
        "The user message outlines one run of that agent that FAILED, one line per step; you read its steps with the tools described at the end.",
        "If the user message says a grader view is recorded, show_grader shows",
    ),
}


class AnalystConfig(BaseModel):
    """The ``analyst`` section of a recipe: budgets of one analyst call, and how much room its answer gets."""

    model_config = ConfigDict(extra="forbid")

    max_output_tokens: int = Field(1024, description=f"Cap on generated tokens per call (unset: 1024 on embedded, {LONG_OUTPUT_TOKENS} on other backends).")
    retries: int = Field(2, description="Extra attempts after an invalid answer.")
    reference_share: float = Field(
        0.5, ge=0.0, le=0.9, description="Share of the prompt room left after SKILL.md that S0's reference files may fill (the trajectory gets the rest)."
    )
    grader_tokens: int = Field(1500, ge=0, description="Most tokens the grader's view takes in an error analyst's prompt.")
    limits: OutputLimits | None = Field(
        None, description="Characters per lesson/edit/anchor and the analysis field; default per backend (embedded: short, no analysis; others: long, with analysis)."
    )
    mode: Literal["single", "agentic"] = Field("single", description="Error analyst: single (one call) or agentic (a bounded loop of tool calls over the run).")
    max_turns: int = Field(20, ge=1, le=128, description="Agentic mode: turns at most per failed run (the method's reference: 20).")
    contrast: bool = Field(True, description="Pair each failure with a successful run of the same task, when there is one.")
    judge: bool = Field(True, description="Infer an outcome no label, grader or trace signal gave with the outcome judge (not on the embedded backend, too small to judge).")
    judge_min_confidence: float = Field(
        0.6, ge=0.0, le=1.0, description="A judged outcome counts (and its run is analysed, with the caveat) only at this confidence or more."
    )
    checker: CheckerConfig = Field(default_factory=CheckerConfig, description="Agentic mode's check tool, and what failed and unchecked diagnoses weigh.")

    @model_validator(mode="after")
    def _checker_needs_agentic(self) -> AnalystConfig:
        if self.checker.command and self.mode != "agentic":
            raise ValueError("the checker is the agentic analyst's check tool: set analyst.mode agentic (--analyst-mode agentic)")
        return self

    def for_backend(self, engine: SamplingConfig) -> AnalystSettings:
        """The settings the analysts run with on ``engine``: its context window, ``limits`` (the
        recipe's, else the engine's defaults) and, when the recipe left it unset, an output cap
        that fits long limits."""
        limits = self.limits or default_limits(engine.backend)
        update: dict = {"limits": limits, "context_tokens": engine.answer_context_tokens()}  # a reasoning model's thinking room kept apart
        if engine.backend == "embedded":
            update["judge"] = False
        if "max_output_tokens" not in self.model_fields_set and limits.edit_chars >= ROOMY_EDIT_CHARS:
            update["max_output_tokens"] = LONG_OUTPUT_TOKENS
        return AnalystSettings.model_validate(self.model_dump(exclude_unset=True) | update)


class AnalystSettings(AnalystConfig):
    """An analyst section resolved for one engine (``AnalystConfig.for_backend``): what the
    analysts and merges read, the engine's context window included."""

    context_tokens: int = Field(
        SamplingConfig.model_fields["context_tokens"].default, description="The prompt's and answer's share of the engine's context window (backend.context_tokens less its reasoning_tokens)."
    )

    def output_limits(self) -> OutputLimits:
        return self.limits or default_limits("openai")


def normalize_topic(topic: str) -> str:
    return " ".join(topic.lower().replace("_", " ").replace("-", " ").split()) or "general"


@cache
def _template(prompt_name: str) -> Template:
    """The prompt without its version line, the shared edit rules filled in."""
    body = load_prompt(PACKAGE, prompt_name).template.split("\n", 1)[1]
    rules = load_prompt(PACKAGE, "edit_rules").template.split("\n", 1)[1].rstrip()
    return Template(Template(body).safe_substitute(edit_rules=rules))


def prompt_versions(prompt_name: str) -> str:
    """The versions of the prompt files one analyst call uses, e.g. ``error_analyst v4 + edit_rules v2``."""
    return f"{prompt_version(PACKAGE, prompt_name)} + {prompt_version(PACKAGE, 'edit_rules')}"


def room_text(limits: OutputLimits) -> str:
    """What the prompt says about the size of the answer, from the run's limits."""
    if limits.edit_chars < ROOMY_EDIT_CHARS:
        text = f"Keep each lesson's content under {limits.lesson_chars} characters and each edit's content under {limits.edit_chars}: one or two lines."
    else:
        text = (
            f"Each lesson's content may take up to {limits.lesson_chars} characters and each edit's content up to {limits.edit_chars}: "
            "room for a short code block, a wrong/right example or a small table where that makes the guidance exact. "
            "Shorter is better when it says the same."
        )
    if limits.analysis:
        text = f'Think first: write your reasoning in "analysis" (at most {limits.analysis_chars} characters), then the rest of the answer. ' + text
    return text


def _grader_block(traj: Trajectory, budget_tokens: int, llm: LLMClient) -> str:
    """The ``<grader>`` block of a failed run, within ``budget_tokens`` ("" when there is none)."""
    if traj.grader is None or budget_tokens <= 0:
        return ""

    def block(max_chars: int) -> str:
        text = render_grader(traj.grader, max_chars)
        return f"What the benchmark's grader checked (the agent never saw this):\n<grader>\n{text}\n</grader>"

    text = block(budget_tokens * 4)
    tokens = llm.count_tokens(text)
    if tokens > budget_tokens:  # denser text than 4 characters a token: cut to the measured ratio
        text = block(max(int(len(text) * budget_tokens / tokens) - 200, 200))
    return text


# The kinds of analyst call, each with its prompt file and how it shows the run.
AnalystKind = Literal["error_analyst", "success_analyst", "agentic_error_analyst"]
KINDS: dict[str, tuple[str, RunView]] = {
    "error_analyst": ("error_analyst", "whole"),
    "success_analyst": ("success_analyst", "whole"),
    "agentic_error_analyst": ("error_analyst", "tools"),
}


def instructions(kind: AnalystKind, config: AnalystSettings) -> Template:
    """The instructions of one kind of analyst call, with ``$skill`` where S0 goes: the
    prompt file with the run's answer room and how the run is shown, and for the agentic
    analyst the tools' guide. They depend on the run's settings only."""
    name, view = KINDS[kind]
    values = dict(zip(("run_shown", "grader_shown"), RUN_SHOWN[view])) | {"room": room_text(config.output_limits())}
    text = _template(name).safe_substitute(values).rstrip()
    if kind == "agentic_error_analyst":
        text += "\n\n" + load_prompt(PACKAGE, "agentic_error_analyst").template.split("\n", 1)[1].strip()
    return Template(Template(text).safe_substitute(max_turns=config.max_turns))


def skill_prompt(skill: SkillContext, llm: LLMClient, config: AnalystSettings) -> tuple[str, SkillFit]:
    """S0 as every analyst call of a run shows it. Its references are fitted to a share of
    the room the longest instructions leave in the context: a budget of the run, never of
    one trajectory, analyst kind or sibling, so S0 is the same text in every call."""
    budget = config.context_tokens - config.max_output_tokens - MARGIN_TOKENS
    titles_only, _ = render_skill(skill, reference_budget_tokens=0, count_tokens=llm.count_tokens)
    fixed = max(llm.count_tokens(instructions(kind, config).safe_substitute(skill=titles_only)) for kind in KINDS)
    return render_skill(skill, reference_budget_tokens=int(max(budget - fixed, 0) * config.reference_share), count_tokens=llm.count_tokens)


def shared_prefix(kind: AnalystKind, skill: SkillContext, llm: LLMClient, config: AnalystSettings) -> str:
    """The text every analyst call of ``kind`` in a run begins with, byte for byte: S0, then
    the instructions. Engines with prefix caching compute it once a run; the calls of all
    kinds share S0. What follows it (the agent's own instructions, the run) is per trajectory."""
    return instructions(kind, config).safe_substitute(skill=skill_prompt(skill, llm, config)[0])


def build_messages(
    prompt_name: str, skill: SkillContext, traj: Trajectory, llm: LLMClient, config: AnalystSettings, view: RunView = "whole", reserved_tokens: int = 0
) -> tuple[list[Message], dict]:
    """Prompt for one analyst call. The system message is the kind's :func:`shared_prefix`
    (S0, then the instructions, which say how the run is shown: ``view``, whole in the user
    message or by tools), then the agent's own instructions. The user message holds the
    trajectory and, for a failure, the grader's view, fitted to what the context leaves
    less ``reserved_tokens`` (what the caller adds, e.g. a sibling's steps)."""
    kind = "agentic_error_analyst" if view == "tools" else prompt_name
    budget = config.context_tokens - config.max_output_tokens - MARGIN_TOKENS
    skill_text, skill_fit = skill_prompt(skill, llm, config)
    prefix = instructions(kind, config).safe_substitute(skill=skill_text)
    # The agent's instructions are context, not evidence: a quarter of what the instructions and S0
    # leave (in characters, at ~4 a token), so a small context still has room for the run.
    agent = system_text(traj, max(MIN_INSTRUCTION_CHARS, budget - llm.count_tokens(prefix)))
    system = f"{prefix}\n\nThe agent's instructions:\n<agent_instructions>\n{agent}\n</agent_instructions>" if agent else prefix
    left = budget - reserved_tokens - llm.count_tokens(system)
    grader = _grader_block(traj, min(config.grader_tokens, left // 3), llm) if prompt_name == "error_analyst" else ""
    left -= llm.count_tokens(grader) if grader else 0
    rendered = render_trajectory(traj, budget_tokens=max(left, 256), count_tokens=llm.count_tokens)
    user = f"<trajectory>\n{rendered.text}\n</trajectory>" + (f"\n{rendered.note}" if rendered.note else "") + (f"\n\n{grader}" if grader else "")
    fit = {
        "elided_steps": rendered.elided_steps,
        "truncated_steps": rendered.truncated_steps,
        "cut_chars": rendered.cut_chars,
        "trajectory_tokens": rendered.tokens,
        "skill_tokens": skill_fit.tokens,
        "references_shown": len(skill_fit.references_shown),
        "references_titles_only": len(skill_fit.references_titles_only),
        "grader_shown": bool(grader),
    }
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
            coverage=d.coverage,
            metadata=fit,
        )
        for i, d in enumerate(drafts)
    ]


def to_edit(draft: EditDraft, lesson_ids: list[str] | None = None) -> Edit:
    return Edit(
        op=draft.op,
        path=draft.path or "SKILL.md",
        section=draft.section or None,
        anchor=draft.anchor or None,
        content=draft.content,
        reason=draft.reason,
        lesson_ids=lesson_ids or [],
    )


def _patch(lessons: list[Lesson], edits: list[AnalystEdit], traj: Trajectory) -> Patch | None:
    """The trajectory's patch; each edit carries the id of the lesson its index names (none
    when the index names no lesson: consolidation then attributes it by content)."""
    if not edits:
        return None
    return Patch(
        id=stable_id(traj.id, prefix="p-"),
        edits=[to_edit(e, [lessons[e.lesson].id] if e.lesson < len(lessons) else []) for e in edits],
        lesson_ids=[lesson.id for lesson in lessons],
        trajectory_ids=[traj.id],
        support=1,
        topic=lessons[0].topic if lessons else "general",
    )


def analyze(
    traj: Trajectory, skill: SkillContext, llm: LLMClient, config: AnalystSettings | None = None, pairing: Pairing | None = None
) -> AnalysisResult:
    """Run the error analyst on a failure or the success analyst on a success.

    A trajectory with an unknown outcome is analysed by neither (``no_lesson``); an
    LLM that gives no valid answer within the retries makes it ``failed`` with the
    last reason. A failure with a successful sibling in ``pairing`` is analysed against
    the sibling's decisive steps (``trace2skill.analysts.contrast``).
    """
    config = config or AnalystSettings()
    base = {"trajectory_id": traj.id, "source_file": traj.source_file}
    if traj.success is None:
        return AnalysisResult(**base, status="no_lesson", reason="outcome unknown: no success or reward")
    prompt_name, output = ("success_analyst", SuccessAnalysis) if traj.success else ("error_analyst", ErrorAnalysis)
    block = sibling_block(pairing, sibling_chars(config.context_tokens, config.max_output_tokens)) if not traj.success else ""
    if block:
        output = ContrastiveErrorAnalysis
    # the sibling's steps take their room from the trajectory's budget, not S0's (the shared prefix stays the same)
    messages, fit = build_messages(prompt_name, skill, traj, llm, config, reserved_tokens=llm.count_tokens(block) if block else 0)
    if block:
        messages[-1] = Message(role="user", content=f"{messages[-1].content}\n\n{block}")
    schema = engine_schema(output, config.output_limits(), skill.skill_md)
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
    if answer.analysis:
        evidence["analysis"] = answer.analysis
    tokens = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens, "llm_calls": usage.calls}
    lessons = _lessons(answer.lessons, traj, kind, {**fit, **tokens, **evidence, "prompt": prompt_versions(prompt_name)})
    patch = _patch(lessons, answer.edits, traj)
    if not lessons and patch is None:
        return AnalysisResult(**base, status="no_lesson", reason=f"{prompt_name} proposed no lesson", usage=usage)
    return AnalysisResult(**base, status="analyzed", lessons=lessons, patch=patch, usage=usage)
