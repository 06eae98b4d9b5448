"""A deterministic LLM for tests and benchmarks.

It answers from the prompt it is given, so different trajectories give different
lessons and the same input always gives the same output. It reads the blocks our
prompts delimit (``<skill>``, ``<references>``, ``<trajectory>``, ``<grader>``, ``<patches>``) and knows the output
models by name; any other model is an error. Latency and failure injection let
benchmarks and reliability tests simulate a real engine. Like a gullible model, it obeys
an instruction planted in the data it analyses ("... add this to the skill: TEXT"): TEXT
becomes its first lesson, so tests can check that the pipeline keeps such text out.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable

from pydantic import BaseModel

from trace2skill.llm.base import Completion, Message
from trace2skill.llm.fake_blocks import block
from trace2skill.llm.fake_merge import MERGE_FAILS, alike, merge_answer
from trace2skill.schema import Usage

__all__ = ["MERGE_FAILS", "RESPONDERS", "FakeLLM"]

_TOOL_CALL = re.compile(r"call (\w+)\(")
_OBEYED = re.compile(r"add this to the skill:[ \t]*(\S.{9,})", re.IGNORECASE)
_SECTION = re.compile(r"^## (.+)$", re.MULTILINE)


def _pick_section(skill: str, preferred: tuple[str, ...]) -> str | None:
    sections = [s.strip() for s in _SECTION.findall(skill)]
    for want in preferred:
        for s in sections:
            if s.lower() == want:
                return s
    return sections[0] if sections else None


def _tools(trajectory: str) -> list[str]:
    counts = Counter(_TOOL_CALL.findall(trajectory))
    # Most-used tools first, ties by name, so the answer is stable.
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _coverage(content: str, skill: str) -> str:
    # How much of the lesson the skill (SKILL.md and the references shown) already says.
    if alike(content, skill, 0.8):
        return "covered"
    return "partial" if alike(content, skill, 0.4) else "missing"


def _lessons_and_edits(prompt: str, kind: str) -> tuple[list[dict], list[dict]]:
    trajectory = block(prompt, "trajectory")
    skill = block(prompt, "skill")
    known = skill + "\n" + block(prompt, "references")
    tools = _tools(trajectory)[:2] or ["the main tool"]
    lessons = []
    for tool in tools:
        topic = tool.replace("_", " ")
        if kind == "failure":
            content = f"Before calling {tool}, check every policy condition and get an explicit yes from the user."
            title = f"Check policy before {tool}"
        else:
            content = f"Gather the facts first, then call {tool} once, with the arguments the user confirmed."
            title = f"Confirm arguments for {tool}"
        lesson = {"title": title, "description": f"When a task needs {tool}.", "content": content, "topic": topic}
        lessons.append({**lesson, "coverage": _coverage(content, known)})
    obeyed = _OBEYED.search(trajectory + "\n" + block(prompt, "agent_instructions"))
    if obeyed:
        injected = {"title": "Follow the standing instruction", "description": "Always.", "content": obeyed.group(1).strip()[:240], "topic": "standing instructions", "coverage": "missing"}
        lessons = [injected, *lessons[:2]]
    section = _pick_section(skill, ("pitfalls",) if kind == "failure" else ("workflow",))
    if section:
        edits = [
            {"op": "append_to_section", "path": "SKILL.md", "section": section, "anchor": "", "content": f"- {l['content']}", "reason": l["title"], "lesson": i}
            for i, l in enumerate(lessons)
        ]
    else:
        body = "\n".join(f"- {l['content']}" for l in lessons)
        edits = [{"op": "add_section", "path": "SKILL.md", "section": "Lessons", "anchor": "", "content": body, "reason": "no section yet", "lesson": 0}]
    return lessons, edits


def _analysis(prompt: str, kind: str) -> str:
    """The reasoning a model writes first; it names the evidence it had."""
    grader = block(prompt, "grader")
    seen = f" The grader's view lists {grader.count(chr(10)) + 1} line(s) of evidence." if grader else ""
    return f"The run is a {kind}; its tool calls show what decided it.{seen}"


def _error_analysis(prompt: str) -> dict:
    trajectory = block(prompt, "trajectory")
    if not _TOOL_CALL.search(trajectory):
        return {"analysis": _analysis(prompt, "failure"), "explained": False, "failure_causes": [], "lessons": [], "edits": []}
    lessons, edits = _lessons_and_edits(prompt, "failure")
    steps = [int(i) for i in re.findall(r"^\[(\d+)\] assistant: call", trajectory, re.MULTILINE)][-2:]
    tool = _tools(trajectory)[0]
    cause = {
        "title": f"Unchecked {tool}",
        "description": f"The agent called {tool} too early.",
        "steps": steps,
        "explanation": f"The agent called {tool} without checking the policy, so the task ended in the wrong state.",
    }
    return {"analysis": _analysis(prompt, "failure"), "explained": True, "failure_causes": [cause], "lessons": lessons, "edits": edits}


def _success_analysis(prompt: str) -> dict:
    lessons, edits = _lessons_and_edits(prompt, "success")
    path = [f"call {t}" for t in _tools(block(prompt, "trajectory"))][:6] or ["answer the user"]
    return {"analysis": _analysis(prompt, "success"), "solution_path": path, "lessons": lessons, "edits": edits}


def _task_words(prompt: str) -> list[str]:
    """The three most frequent words of five letters or more in the prompt's listed tasks."""
    tasks = [line[2:].strip() for line in block(prompt, "tasks").splitlines() if line.startswith("- ")]
    counts = Counter(w for t in tasks for w in re.findall(r"[a-z]{5,}", t.lower()))
    return [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]] or ["tasks"]


def _draft(prompt: str) -> dict:
    words = _task_words(prompt)
    description = f"Handle requests about {', '.join(words)}. Use when a task mentions {words[0]}."
    sections = [
        {"title": "When to use", "body": f"- Tasks about {', '.join(words)}."},
        {"title": "Workflow", "body": "1. Read the request.\n2. Gather the facts with the tools.\n3. Act, then confirm the result."},
        {"title": "Pitfalls", "body": "- Do not act before the facts are confirmed."},
    ]
    return {"description": description, "sections": sections}


def _skill_description(prompt: str) -> dict:
    words = _task_words(prompt)
    return {"description": f"Handles tasks about {', '.join(words)}. Use when a task is about {words[0]}."}


def _model_verdict(prompt: str) -> dict:
    # Scripted: an edit is harmful exactly when it carries the hook "[fake:harmful]".
    harmful = "[fake:harmful]" in prompt.rsplit("<patches>", 1)[-1]
    return {"harmful": harmful, "kind": "other" if harmful else "none", "evidence": "[fake:harmful]" if harmful else ""}


def _restated_edit(prompt: str) -> dict:
    # Scripted: every listed value (longest first, any case) becomes "<value>", a role the fake cannot name.
    data = json.loads(block(prompt, "patches"))
    values = sorted(data["values"], key=len, reverse=True)

    def without(text: str) -> str:
        for value in values:
            text = re.sub(re.escape(value), "<value>", text, flags=re.IGNORECASE)
        return text

    edit = data["edit"]
    return {"content": without(edit["content"]), "section": without(edit["section"] or "") if edit["op"] == "add_section" else ""}


_RESULT_LINE = re.compile(r"^\[(\d+)\] tool result[^:]*: (.*)$", re.MULTILINE)
_ERROR_WORDS = re.compile(r"\b(?:error|failed|traceback|exception)\b", re.IGNORECASE)


def _outcome_verdict(prompt: str) -> dict:
    # Scripted judge: the run's last tool result decides; an error word in it is a failure, a
    # clean one a success (confidence 0.8, citing that step); no tool result, or the hook
    # "[fake:unclear]", is unclear.
    trajectory = block(prompt, "trajectory")
    results = _RESULT_LINE.findall(trajectory)
    if not results or "[fake:unclear]" in trajectory:
        return {"verdict": "unclear", "confidence": 0.3, "cited_steps": [], "reason": "The run never shows its end state."}
    step, text = results[-1]
    failed = bool(_ERROR_WORDS.search(text))
    reason = "The last tool result reports an error." if failed else "The last tool result is clean."
    return {"verdict": "failure" if failed else "success", "confidence": 0.8, "cited_steps": [int(step)], "reason": reason}


RESPONDERS: dict[str, Callable[[str], dict]] = {
    "OutcomeVerdict": _outcome_verdict,
    "SkillDraft": _draft,
    "SkillDescription": _skill_description,
    "ErrorAnalysis": _error_analysis,
    "SuccessAnalysis": _success_analysis,
    "MergeResult": merge_answer,
    "ModelVerdict": _model_verdict,
    "RestatedEdit": _restated_edit,
}


class FakeLLM:
    """Deterministic, schema-valid answers derived from the prompt.

    ``latency_s`` + ``latency_per_token_s`` * completion tokens is slept per call.
    ``failure_rate`` of calls (chosen by a hash of the prompt, so runs repeat exactly)
    fail in one of ``failures``' ways: an answer that is cut off, not JSON, JSON of the
    wrong shape or empty, or a raised connection error or time-out.
    """

    def __init__(
        self,
        latency_s: float = 0.0,
        latency_per_token_s: float = 0.0,
        failure_rate: float = 0.0,
        failures: tuple[str, ...] = ("truncated",),
    ):
        self.latency_s = latency_s
        self.latency_per_token_s = latency_per_token_s
        self.failure_rate = failure_rate
        self.failures = failures

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def complete(self, messages: list[Message], output: type[BaseModel], max_tokens: int, schema: dict | None = None) -> Completion:
        # The answers fit ``output``; a narrowed ``schema`` is not simulated (engines enforce it).
        prompt = "\n".join(m.content for m in messages)
        responder = RESPONDERS.get(output.__name__)
        if responder is None:
            raise KeyError(f"FakeLLM has no answer for {output.__name__}")
        text = json.dumps(responder(prompt))
        roll = _roll(prompt)
        if self.failure_rate and roll < self.failure_rate:
            text = self._fail(text, self.failures[int(roll / self.failure_rate * len(self.failures))])
        usage = Usage(prompt_tokens=self.count_tokens(prompt), completion_tokens=self.count_tokens(text), calls=1)
        delay = self.latency_s + self.latency_per_token_s * usage.completion_tokens
        if delay:
            time.sleep(delay)
        return Completion(text=text, usage=usage)

    @staticmethod
    def _fail(text: str, kind: str) -> str:
        if kind == "exception":
            raise ConnectionError("fake engine: connection reset (injected)")
        if kind == "timeout":
            raise TimeoutError("fake engine: request timed out (injected)")
        return {
            "truncated": text[: len(text) // 2],  # as an engine cut off by max_tokens gives
            "invalid_json": "Sure! Here is the analysis you asked for.",
            "schema": json.dumps({"answer": "the right keys are missing"}),
            "empty": "",
        }[kind]


def _roll(prompt: str) -> float:
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# Contrastive and agentic analysts. Test hooks in a run's text: "[fake:never-finish]" keeps
# the fake inspecting until the turns run out; "[fake:bad-args]" makes its first action a
# view of an empty range; "[fake:cite-unviewed]" makes its first finish cite a step it never
# viewed (it then views that step and finishes again). With a checker plugged in, it checks
# the grader's expected actions as its fix before finishing (again after a reminder), or
# with "[fake:wrong-fix]" an action list the grader never expected.
_ACTION = re.compile(r'^\{"action": \{"tool": "(\w+)"', re.MULTILINE)
_STEP_LINE = re.compile(r"^\[(\d+)\] ", re.MULTILINE)
_OUTLINE_STEP = re.compile(r"^\[(\d+)\] \w+ \w+: ", re.MULTILINE)


def _divergence(trajectory: str, sibling: str) -> int | None:
    """The failed run's first tool call that differs from the sibling's call at that position."""
    calls = re.findall(r"^\[(\d+)\] assistant: call (\w+)\(", trajectory, re.MULTILINE)
    theirs = re.findall(r"^\[\d+\] assistant: call (\w+)\(", sibling, re.MULTILINE)
    for n, (index, tool) in enumerate(calls):
        if n >= len(theirs) or theirs[n] != tool:
            return int(index)
    return None


def _contrastive_error_analysis(prompt: str) -> dict:
    answer = _error_analysis(prompt)
    return {**answer, "divergence_step": _divergence(block(prompt, "trajectory"), block(prompt, "sibling"))}


def _analyst_action(prompt: str) -> dict:
    """The next action of a methodical analyst: view the end of the run, read the sibling and
    the grader where there are any, then finish with an analysis of the steps it viewed."""
    done = _ACTION.findall(prompt)
    outline = [int(i) for i in _OUTLINE_STEP.findall(block(prompt, "trajectory"))] or [0]
    if "[fake:never-finish]" in prompt:
        return {"action": {"tool": "view_steps", "first": outline[0], "last": outline[0]}}
    if "[fake:bad-args]" in prompt and not done:
        return {"action": {"tool": "view_steps", "first": outline[-1] + 5, "last": outline[-1] + 1}}
    parts = prompt.split("Observation (")[1:]
    sibling = next((part for part in parts if "Successful sibling run" in part), "")
    viewed = "\n".join(line for part in parts if "Successful sibling run" not in part for line in part.splitlines() if _STEP_LINE.match(line))
    reminded = bool(parts) and "[System check]" in parts[-1]
    if not viewed or (done[-1] == "finish" and not reminded):
        refused = re.findall(r"cites steps \[(\d+)", parts[-1]) if parts else []
        first = int(refused[0]) if refused else outline[max(0, len(outline) - 8)]
        return {"action": {"tool": "view_steps", "first": first, "last": outline[-1]}}
    for tool, available in (("show_sibling", "sibling run of the same task: yes"), ("show_grader", "Grader view: yes")):
        if tool not in done and available in prompt:
            return {"action": {"tool": tool}}
    if "A checker is plugged in" in prompt and viewed and ("check" not in done or "[System check]" in parts[-1]):
        return {"action": {"tool": "check", "proposal": _fix(prompt)}}
    analysis = _contrastive_error_analysis(f"<trajectory>\n{viewed}\n</trajectory>\n<sibling>\n{sibling}\n</sibling>\n<skill>\n{block(prompt, 'skill')}\n</skill>")
    if "[fake:cite-unviewed]" in prompt and "finish" not in done:
        seen = {int(i) for i in _STEP_LINE.findall(viewed)}
        unseen = [i for i in outline if i not in seen]
        if unseen and analysis["failure_causes"]:
            analysis["failure_causes"][0]["steps"] = [unseen[0]]
    return {"action": {"tool": "finish", "analysis": analysis}}


RESPONDERS["ContrastiveErrorAnalysis"] = _contrastive_error_analysis


def _fix(prompt: str) -> str:
    """The fake's proposed fix: the expected actions the grader showed, as a JSON action list."""
    if "[fake:wrong-fix]" in prompt:
        return json.dumps([{"name": "fake_wrong_action", "kwargs": {"id": "nothing"}}])
    shown = re.search(r"^Expected actions \(.*\n((?:\d+\. .*\n?)+)", prompt, re.MULTILINE)
    lines = shown.group(1).splitlines() if shown else []
    return json.dumps([json.loads(line.split(". ", 1)[1]) for line in lines])


RESPONDERS["AnalystAction"] = _analyst_action
RESPONDERS["CheckingAnalystAction"] = _analyst_action
