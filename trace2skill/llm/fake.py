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
from trace2skill.schema import Usage

_TOOL_CALL = re.compile(r"call (\w+)\(")
_OBEYED = re.compile(r"add this to the skill:[ \t]*(\S.{9,})", re.IGNORECASE)
_SECTION = re.compile(r"^## (.+)$", re.MULTILINE)


def _block(text: str, tag: str) -> str:
    # A block opens and closes on lines of their own; mentions of the tag in prose do not
    # count. (str.find, not a lazy multiline regex: this ran on every prompt, 25% of the fake's time.)
    opening, closing = f"<{tag}>\n", f"</{tag}>"
    at = 0 if text.startswith(opening) else text.find("\n" + opening) + 1
    if at == 0 and not text.startswith(opening):
        return ""
    start = at + len(opening)
    if text.startswith(closing, start):
        return ""
    end = text.find("\n" + closing, start)
    return text[start : end + 1] if end >= 0 else ""


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
    if _alike(content, skill, 0.8):
        return "covered"
    return "partial" if _alike(content, skill, 0.4) else "missing"


def _lessons_and_edits(prompt: str, kind: str) -> tuple[list[dict], list[dict]]:
    trajectory = _block(prompt, "trajectory")
    skill = _block(prompt, "skill")
    known = skill + "\n" + _block(prompt, "references")
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
    obeyed = _OBEYED.search(trajectory + "\n" + _block(prompt, "agent_instructions"))
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
    grader = _block(prompt, "grader")
    seen = f" The grader's view lists {grader.count(chr(10)) + 1} line(s) of evidence." if grader else ""
    return f"The run is a {kind}; its tool calls show what decided it.{seen}"


def _error_analysis(prompt: str) -> dict:
    trajectory = _block(prompt, "trajectory")
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
    path = [f"call {t}" for t in _tools(_block(prompt, "trajectory"))][:6] or ["answer the user"]
    return {"analysis": _analysis(prompt, "success"), "solution_path": path, "lessons": lessons, "edits": edits}


_NEGATIONS = frozenset({"never", "not", "no", "dont", "don't", "avoid", "cannot"})
_LINE_OPS = ("append_to_section", "add_section")
_EDIT_FIELDS = ("op", "path", "section", "anchor", "content", "reason")
MERGE_FAILS = "[fake:merge-fails]"  # a patch containing this makes every merge call it is in fail


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_']+", text.lower())


def _stems(text: str) -> set[str]:
    return {w[:5] for w in _words(text) if len(w) > 3 and w not in _NEGATIONS}


def _negated(text: str) -> bool:
    return bool(set(_words(text)) & _NEGATIONS)


def _alike(a: str, b: str, share: float = 0.5) -> bool:
    # Paraphrase test: ``share`` of the content-word stems of the shorter text occur in the
    # longer one (a contradiction needs fewer: the negation rewords the rest).
    sa, sb = _stems(a), _stems(b)
    if not sa or not sb:
        return a.strip().lower() == b.strip().lower()
    return len(sa & sb) / min(len(sa), len(sb)) >= share


def _merge(prompt: str) -> dict:
    """Merge like a careful model would, deterministically: patches in order of support; a line
    that paraphrases a kept line is dropped, one that contradicts it (same words, opposite
    polarity) loses to it and the resolution is written down; lines for the same section (same
    or paraphrased title, or paraphrased content) are gathered under one heading and split
    into edits that fit the schema's caps. Other edits are deduplicated exactly. An answer
    over the edit cap fails validation, as a real engine's would."""
    block = _block(prompt, "patches")
    patches = json.loads(block or "[]")
    if MERGE_FAILS in block:
        return {"edits": "merge failed on purpose (test hook)"}
    order = sorted(range(len(patches)), key=lambda i: -int(patches[i].get("support") or 0))
    homes: list[dict] = []  # one per target section: the first edit's fields, kept lines, support
    others: list[dict] = []
    resolutions: list[str] = []
    for i in order:
        weight = int(patches[i].get("support") or 0)
        for raw in patches[i].get("edits", []):
            edit = {k: raw.get(k) or "" for k in _EDIT_FIELDS}
            if edit["op"] not in _LINE_OPS:
                if edit not in others:
                    others.append(edit)
                continue
            lines = [line for line in edit["content"].split("\n") if line.strip()]
            home = next((h for h in homes if h["path"] == edit["path"] and _same_home(h, edit, lines)), None)
            if home is None:
                home = {**edit, "lines": [], "seen": [], "support": weight}
                homes.append(home)
            for line in lines:
                if any(_alike(k, line) and _negated(k) == _negated(line) for k in home["lines"]):
                    home["seen"].append(line)  # a paraphrase of a kept line
                    continue
                twin = next((k for k in home["seen"] if _negated(k) != _negated(line) and _alike(k, line, 0.35)), None)
                if twin is None:
                    home["lines"].append(line)
                    home["seen"].append(line)
                else:
                    resolutions.append(
                        f"kept {twin.strip()[:60]!r} (support {home['support']}) over the contradicting {line.strip()[:60]!r} (support {weight})"
                    )
    edits = [e for h in homes for e in _home_edits(h)] + others
    if len(resolutions) > 6:
        resolutions = resolutions[:5] + [f"{len(resolutions) - 5} more contradictions resolved the same way"]
    return {"edits": edits, "resolutions": resolutions}


def _same_home(home: dict, edit: dict, lines: list[str]) -> bool:
    if _alike(home["section"], edit["section"]):
        return True
    both_new = home["op"] == edit["op"] == "add_section"
    return both_new and any(_alike(k, line) for k in home["lines"] for line in lines)


def _home_edits(home: dict, cap: int = 300) -> list[dict]:
    chunks: list[str] = []
    for line in home["lines"]:
        if chunks and len(chunks[-1]) + 1 + len(line) <= cap:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line[:cap])
    base = {k: home[k] for k in _EDIT_FIELDS}
    return [{**base, "content": c} if n == 0 else {**base, "op": "append_to_section", "anchor": "", "content": c} for n, c in enumerate(chunks)]


def _draft(prompt: str) -> dict:
    tasks = [line[2:].strip() for line in _block(prompt, "tasks").splitlines() if line.startswith("- ")]
    counts = Counter(w for t in tasks for w in re.findall(r"[a-z]{5,}", t.lower()))
    words = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]] or ["tasks"]
    description = f"Handle requests about {', '.join(words)}. Use when a task mentions {words[0]}."
    sections = [
        {"title": "When to use", "body": f"- Tasks about {', '.join(words)}."},
        {"title": "Workflow", "body": "1. Read the request.\n2. Gather the facts with the tools.\n3. Act, then confirm the result."},
        {"title": "Pitfalls", "body": "- Do not act before the facts are confirmed."},
    ]
    return {"description": description, "sections": sections}


def _model_verdict(prompt: str) -> dict:
    # Scripted: an edit is harmful exactly when it carries the hook "[fake:harmful]".
    harmful = "[fake:harmful]" in prompt.rsplit("<patches>", 1)[-1]
    return {"harmful": harmful, "kind": "other" if harmful else "none", "evidence": "[fake:harmful]" if harmful else ""}


def _restated_edit(prompt: str) -> dict:
    # Scripted: every listed value (longest first, any case) becomes "<value>", a role the fake cannot name.
    data = json.loads(_block(prompt, "patches"))
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
    trajectory = _block(prompt, "trajectory")
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
    "ErrorAnalysis": _error_analysis,
    "SuccessAnalysis": _success_analysis,
    "MergeResult": _merge,
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
# viewed (it then views that step and finishes again).
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
    return {**answer, "divergence_step": _divergence(_block(prompt, "trajectory"), _block(prompt, "sibling"))}


def _analyst_action(prompt: str) -> dict:
    """The next action of a methodical analyst: view the end of the run, read the sibling and
    the grader where there are any, then finish with an analysis of the steps it viewed."""
    done = _ACTION.findall(prompt)
    outline = [int(i) for i in _OUTLINE_STEP.findall(_block(prompt, "trajectory"))] or [0]
    if "[fake:never-finish]" in prompt:
        return {"action": {"tool": "view_steps", "first": outline[0], "last": outline[0]}}
    if "[fake:bad-args]" in prompt and not done:
        return {"action": {"tool": "view_steps", "first": outline[-1] + 5, "last": outline[-1] + 1}}
    parts = prompt.split("Observation (")[1:]
    sibling = next((part for part in parts if "Successful sibling run" in part), "")
    viewed = "\n".join(line for part in parts if "Successful sibling run" not in part for line in part.splitlines() if _STEP_LINE.match(line))
    if not viewed or done[-1] == "finish":
        refused = re.findall(r"cites steps \[(\d+)", parts[-1]) if parts else []
        first = int(refused[0]) if refused else outline[max(0, len(outline) - 8)]
        return {"action": {"tool": "view_steps", "first": first, "last": outline[-1]}}
    for tool, available in (("show_sibling", "sibling run of the same task: yes"), ("show_grader", "Grader view: yes")):
        if tool not in done and available in prompt:
            return {"action": {"tool": tool}}
    analysis = _contrastive_error_analysis(f"<trajectory>\n{viewed}\n</trajectory>\n<sibling>\n{sibling}\n</sibling>\n<skill>\n{_block(prompt, 'skill')}\n</skill>")
    if "[fake:cite-unviewed]" in prompt and "finish" not in done:
        seen = {int(i) for i in _STEP_LINE.findall(viewed)}
        unseen = [i for i in outline if i not in seen]
        if unseen and analysis["failure_causes"]:
            analysis["failure_causes"][0]["steps"] = [unseen[0]]
    return {"action": {"tool": "finish", "analysis": analysis}}


RESPONDERS["ContrastiveErrorAnalysis"] = _contrastive_error_analysis
RESPONDERS["AnalystAction"] = _analyst_action
