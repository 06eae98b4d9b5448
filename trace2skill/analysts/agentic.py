"""The agentic error analyst: a bounded loop of tool calls over one failed run.

Instead of one call over a fitted transcript, the analyst sees an outline of the run (one
line per step, no contents) and inspects it with tools: view steps ``i..j``, search the
run's text, show the successful sibling's steps, show the grader's view, and ``finish``
with the analysis. Every turn is one :class:`AnalystAction`, a union of the tools'
argument models, so one code path serves every engine:

- engines with tool calling (OpenAI-compatible ``tools``, vLLM's tool parsers) get the
  union as tool definitions (:func:`tool_definitions`) and their tool call is mapped back
  to an action (``trace2skill.llm.openai.OpenAILLM.complete_tools``);
- the others (llama.cpp, the fake backend) write the action as structured output under
  the union's JSON schema (a grammar for llama.cpp).

Either way pydantic validates the action. Bad arguments, an invalid answer, or a
``finish`` that cites a step the analyst never viewed get an error message back inside the
loop (counted in ``tool_errors``), never a crash; a model that never finishes ends at
``max_turns`` as ``failed`` with that reason.
"""

from __future__ import annotations

from typing import Annotated, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, ValidationError

from trace2skill.analysts.agentic_check import (
    CHECK_REMINDER,
    CheckFix,
    FixChecks,
    with_check_guide,
)
from trace2skill.analysts.analyze import (
    PACKAGE,
    AnalystSettings,
    analysis_result,
    analyze,
    build_messages,
)
from trace2skill.analysts.check import Checker, task_object
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.contrast import CHARS_PER_TOKEN, ContrastiveErrorAnalysis, Pairing, render_sibling, with_contrast
from trace2skill.analysts.fit import fit_steps
from trace2skill.analysts.models import AnalysisResult, engine_schema
from trace2skill.analysts.render import outcome_line, render_grader, step_text
from trace2skill.llm.base import Completion, LLMClient, Message
from trace2skill.llm.structured import RETRYABLE
from trace2skill.prompting import fence_data, prompt_version
from trace2skill.schema import Trajectory, Usage

MAX_VIEW = 10  # steps one view_steps call shows
MAX_HITS = 12  # matching lines one search shows
OUTLINE_CHARS = 60  # of a step's text in the outline
GRADER_CHARS = 6000  # of the grader view one show_grader call returns
OBSERVATION_SHARE = 0.25  # of the prompt's room (context less the answer's) one observation may fill


class ViewSteps(BaseModel):
    """Show the run's steps first..last (at most 10), whole when they fit; a cut step says so, and read_step pages through it."""

    tool: Literal["view_steps"]
    first: int = Field(description="Index of the first step to show.")
    last: int = Field(description="Index of the last step to show (inclusive).")


class ReadStep(BaseModel):
    """Show one step's text from character offset on, length characters: a page of a long step."""

    tool: Literal["read_step"]
    index: int = Field(description="Index of the step.")
    offset: int = Field(0, ge=0, description="First character to show (0: the start).")
    length: int = Field(4000, ge=100, description="How many characters to show (more than fits an observation is cut to what fits).")


class SearchRun(BaseModel):
    """Find the lines of the run that contain a phrase (case-insensitive), each with the lines around it."""

    tool: Literal["search"]
    query: str = Field(min_length=2, max_length=80, description="The phrase to look for.")
    context_lines: int = Field(2, ge=0, le=10, description="Lines shown before and after each matching line.")


class ShowSibling(BaseModel):
    """Show the decisive steps of the successful run of the same task, if there is one."""

    tool: Literal["show_sibling"]


class ShowGrader(BaseModel):
    """Show what the grader knew about this run: expected actions, checks, verdict."""

    tool: Literal["show_grader"]


class Finish(BaseModel):
    """End the inspection with the analysis; cite only steps you viewed."""

    tool: Literal["finish"]
    analysis: ContrastiveErrorAnalysis


class AnalystAction(BaseModel):
    """One turn of the agentic analyst."""

    action: Annotated[ViewSteps | ReadStep | SearchRun | ShowSibling | ShowGrader | Finish, Field(discriminator="tool")]


class CheckingAnalystAction(BaseModel):
    """One turn of the agentic analyst when a checker is plugged in: the tools plus ``check``."""

    action: Annotated[ViewSteps | SearchRun | ShowSibling | ShowGrader | CheckFix | Finish, Field(discriminator="tool")]


@runtime_checkable
class ToolCallingLLM(Protocol):
    """A backend with native tool calling: returns the chosen tool call as an action's JSON."""

    def complete_tools(self, messages: list[Message], tools: list[dict], max_tokens: int) -> Completion: ...


def tool_definitions(schema: dict) -> list[dict]:
    """OpenAI-style tool definitions, one per member of the action union in ``schema`` (the
    schema of :class:`AnalystAction`, possibly narrowed), each with the shared ``$defs``."""
    defs = schema.get("$defs", {})
    tools = []
    for ref in schema["properties"]["action"]["oneOf"]:
        member = defs[ref["$ref"].rsplit("/", 1)[1]]
        name = member["properties"]["tool"]["const"]
        properties = {k: v for k, v in member["properties"].items() if k != "tool"}
        parameters = {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False, "$defs": defs}
        tools.append({"type": "function", "function": {"name": name, "description": member.get("description", ""), "parameters": parameters}})
    return tools


def grader_text(traj: Trajectory) -> str:
    """The grader's view of the run as text ("" when the source had none)."""
    return fence_data(render_grader(traj.grader, GRADER_CHARS)) if traj.grader is not None else ""


def outline(traj: Trajectory) -> str:
    """One short line per step (index, who, what), so the analyst knows what to look at."""
    lines = []
    for step in traj.steps:
        if step.role == "system":
            continue
        what = f"call {step.tool_name}" if step.kind == "tool_call" else " ".join(step.content.split())[:OUTLINE_CHARS]
        lines.append(f"[{step.index}] {step.role} {step.kind}: {what}")
    return fence_data("\n".join(lines))


# What a chat template adds around each message (role markers, turn delimiters): counted so a
# conversation that fits by its contents alone does not overflow the engine's context.
TEMPLATE_TOKENS = 8
ELIDED_ACTION_CHARS = 200  # what an elided observation's action keeps


def observation_chars(config: AnalystSettings) -> int:
    """Characters one observation may fill: ``OBSERVATION_SHARE`` of the prompt's room."""
    return int(max(config.context_tokens - config.max_output_tokens, 0) * OBSERVATION_SHARE) * CHARS_PER_TOKEN


class RunTools:
    """The tools over one run; remembers which of its steps the analyst has seen. An
    observation fills at most ``room_chars``: steps are fitted to it by the rule of
    ``trace2skill.analysts.fit``."""

    def __init__(self, traj: Trajectory, pairing: Pairing | None, room_chars: int):
        self.traj, self.pairing, self.room_chars = traj, pairing, room_chars
        self.by_index = {s.index: s for s in traj.steps if s.role != "system"}
        self.viewed: set[int] = set()

    def run(self, action: BaseModel) -> tuple[str, bool]:
        """The observation for ``action`` and whether it was an error."""
        if isinstance(action, ViewSteps):
            return self._view(action.first, action.last)
        if isinstance(action, ReadStep):
            return self._read(action.index, action.offset, action.length)
        if isinstance(action, SearchRun):
            return self._search(action.query, action.context_lines)
        if isinstance(action, ShowSibling):
            sibling = self.pairing.sibling if self.pairing else None
            return (render_sibling(sibling, self.room_chars), False) if sibling else ("error: this run has no successful sibling", True)
        text = grader_text(self.traj)
        return (text, False) if text else ("error: the source recorded no grader view for this run", True)

    def _span(self) -> str:
        indices = sorted(self.by_index)
        return f"{indices[0]}..{indices[-1]}" if indices else "none"

    def _view(self, first: int, last: int) -> tuple[str, bool]:
        indices = sorted(self.by_index)
        shown = [i for i in indices if first <= i <= last][:MAX_VIEW]
        if not shown or first > last:
            return f"error: no steps {first}..{last}; the run's steps are {self._span()}", True
        self.viewed.update(shown)
        fitted = fit_steps([step_text(self.by_index[i]) for i in shown], self.room_chars)
        lines = fitted.lines()
        if fitted.cuts:
            lines.append(f"({fitted.note()} read_step shows a cut step page by page.)")
        if shown[-1] < min(last, indices[-1]):
            lines.append(f"(showing {len(shown)} steps; view the rest with another call)")
        return "\n".join(lines), False

    def _read(self, index: int, offset: int, length: int) -> tuple[str, bool]:
        step = self.by_index.get(index)
        if step is None:
            return f"error: no step {index}; the run's steps are {self._span()}", True
        text = step_text(step)
        body = text.body
        if offset >= len(body):
            return f"error: step {index} has {len(body)} characters; offset {offset} is past its end", True
        end = min(offset + min(length, self.room_chars), len(body))
        self.viewed.add(index)
        more = f"; the next page starts at offset {end}" if end < len(body) else "; the end of the step"
        return f"{text.prefix}(characters {offset}..{end} of {len(body)}{more})\n{body[offset:end]}", False

    def _search(self, query: str, context_lines: int) -> tuple[str, bool]:
        needle, hits, blocks, used = query.lower(), 0, [], 0
        for index, step in self.by_index.items():
            text = step_text(step)
            lines = text.body.split("\n")
            for n, line in enumerate(lines):
                if needle not in line.lower():
                    continue
                hits += 1
                block = "\n".join([f"{text.prefix}line {n + 1} of {len(lines)}:", *lines[max(0, n - context_lines) : n + context_lines + 1]])
                if hits > MAX_HITS or used + len(block) > self.room_chars:
                    continue
                blocks.append(block)
                used += len(block)
                self.viewed.add(index)
        if not hits:
            return f"no step contains {fence_data(query)!r}", False
        more = f"\n({hits - len(blocks)} more matching lines not shown; search a longer phrase)" if hits > len(blocks) else ""
        return "\n---\n".join(blocks) + more, False

    def unviewed_citations(self, analysis: ContrastiveErrorAnalysis) -> list[int]:
        """Steps ``analysis`` rests on that the analyst never viewed."""
        cited = {i for cause in analysis.failure_causes for i in cause.steps}
        if analysis.divergence_step is not None:
            cited.add(analysis.divergence_step)
        return sorted(cited - self.viewed)


def next_action(llm: LLMClient, convo: list[Message], schema: dict, max_tokens: int, output: type[BaseModel] = AnalystAction) -> tuple[str, Usage]:
    """The model's next action as JSON text, through tool calling where the backend has it."""
    if isinstance(llm, ToolCallingLLM):
        completion = llm.complete_tools(convo, tool_definitions(schema), max_tokens)
    else:
        completion = llm.complete(convo, output, max_tokens, schema=schema)
    return completion.text, completion.usage


def analyze_agentic(
    traj: Trajectory, skill: SkillContext, llm: LLMClient, config: AnalystSettings, pairing: Pairing | None = None, checker: Checker | None = None
) -> AnalysisResult:
    """Analyse the failed run ``traj`` in at most ``config.max_turns`` turns of tool calls;
    with a ``checker``, the analyst also checks its proposed fix (``check``), and the result's
    lessons record whether one passed."""
    base = {"trajectory_id": traj.id, "source_file": traj.source_file}
    tools = RunTools(traj, pairing, observation_chars(config))
    checks = FixChecks(checker, task_object(traj)) if checker else None
    convo = with_check_guide(opening(traj, skill, llm, config, pairing), checks)
    output = CheckingAnalystAction if checks else AnalystAction
    schema = engine_schema(output, config.output_limits(), skill.skill_md)
    usage, errors = Usage(), 0
    for turn in range(1, config.max_turns + 1):
        try:
            text, used = next_action(llm, fitted(convo, llm, config), schema, config.max_output_tokens, output)
        except RETRYABLE as exc:
            usage, errors = usage + Usage(calls=1), errors + 1
            convo += [Message(role="assistant", content="(no answer)"), Message(role="user", content=f"Observation: the engine failed ({type(exc).__name__}); act again.")]
            continue
        except ValueError as exc:  # e.g. a prompt longer than the engine's context
            failed = AnalysisResult(**base, status="failed", reason=f"agentic analyst: {type(exc).__name__}: {exc}", usage=usage, turns=turn, tool_errors=errors)
            return with_contrast(failed, pairing)
        usage = usage + used
        try:
            action = output.model_validate_json(text).action
        except ValidationError as exc:
            observation, failed = f"error: invalid action ({exc.error_count()} problem(s), first: {exc.errors()[0]['msg']}); answer with one valid action", True
        else:
            if isinstance(action, Finish):
                unviewed = tools.unviewed_citations(action.analysis)
                if unviewed:
                    observation, failed = f"refused: the analysis cites steps {unviewed} that you never viewed; view them first or cite only viewed steps", True
                elif checks and checks.remind(turn < config.max_turns):  # the reference's one reminder when the model stops without a pass
                    observation, failed = CHECK_REMINDER, False
                else:
                    result = analysis_result(action.analysis, traj, "error_analyst", {"mode": "agentic", "agentic_prompt": prompt_version(PACKAGE, "agentic_error_analyst")}, usage)
                    result = with_contrast(result.model_copy(update={"turns": turn, "tool_errors": errors}), pairing)
                    return checks.settle(result, config.checker) if checks else result
            elif isinstance(action, CheckFix):
                observation, failed = checks.run(action.proposal), False
            else:
                observation, failed = tools.run(action)
        errors += failed
        convo += [Message(role="assistant", content=text[:4000]), Message(role="user", content=f"Observation ({turn}/{config.max_turns} turns used):\n{observation}")]
    reason = f"agentic analyst: no finish within {config.max_turns} turns ({errors} tool error(s))"
    return with_contrast(AnalysisResult(**base, status="failed", reason=reason, usage=usage, turns=config.max_turns, tool_errors=errors), pairing)


def opening(traj: Trajectory, skill: SkillContext, llm: LLMClient, config: AnalystSettings, pairing: Pairing | None) -> list[Message]:
    """S0, the analyst's instructions (the single call's, so both modes follow the same rules)
    and the tools' guide, then the agent's own instructions; and the run's outline."""
    system = build_messages("error_analyst", skill, traj, llm, config, view="tools")[0][0].content
    has_sibling = "yes: show_sibling shows it" if pairing and pairing.sibling else "no"
    has_grader = "yes: show_grader shows it" if grader_text(traj) else "no"
    user = "\n".join(
        [
            f"Task: {fence_data(traj.task)}" if traj.task else "Task: (see the first user message)",
            outcome_line(traj),
            f"Successful sibling run of the same task: {has_sibling}. Grader view: {has_grader}.",
            "Outline of the run (one line per step; view steps to read them):",
            "<trajectory>",
            outline(traj),
            "</trajectory>",
        ]
    )
    return [Message(role="system", content=system), Message(role="user", content=user)]


def fitted(convo: list[Message], llm: LLMClient, config: AnalystSettings) -> list[Message]:
    """``convo`` within the context budget: the oldest observations are elided first, with
    the actions that asked for them cut short (the steps they showed stay viewed; the analyst
    can view them again)."""
    budget = config.context_tokens - config.max_output_tokens
    convo = list(convo)
    for i in range(3, len(convo), 2):  # observations: the user turns after the opening
        if sum(llm.count_tokens(m.content) + TEMPLATE_TOKENS for m in convo) <= budget:
            break
        convo[i] = Message(role="user", content="Observation: (elided to fit the context; view the steps again if needed)")
        if len(convo[i - 1].content) > ELIDED_ACTION_CHARS:  # the action that asked for it: its start says which
            convo[i - 1] = Message(role="assistant", content=convo[i - 1].content[:ELIDED_ACTION_CHARS] + " ...(elided)")
    return convo



def run_analyst(
    traj: Trajectory, skill: SkillContext, llm: LLMClient, config: AnalystSettings, pairing: Pairing | None = None, checker: Checker | None = None
) -> AnalysisResult:
    """The analyst ``config.mode`` asks for: failures go to the agentic loop in agentic mode
    (with the check tool when there is a ``checker``); successes, unknown outcomes and
    single mode to the single call."""
    if config.mode == "agentic" and traj.success is False:
        return analyze_agentic(traj, skill, llm, config, pairing, checker)
    return analyze(traj, skill, llm, config, pairing)
