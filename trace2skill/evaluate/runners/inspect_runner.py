"""An ``evaluate`` runner for Inspect AI (``pip install "trace2skill[inspect]"``).

Runs one task as a one-sample Inspect task with the skill's SKILL.md as the system
message, and writes Inspect's JSON eval log to ``--out-dir``, where ``evaluate`` reads
it with the ``inspect_ai`` ingest adapter (the sample's score is the run's outcome)::

    trace2skill evaluate --runner "python -m trace2skill.evaluate.runners.inspect_runner \\
        --skill-dir {skill_dir} --task-file {task_file} --out-dir {out_dir} --model openai/gpt-4o-mini" ...

The task file is ``{"id", "input", "target"}`` (``target`` a string or a list of
strings); ``--scorer`` is ``includes`` (default), ``match`` or ``exact``. ``--model
mockllm/model`` runs offline: Inspect's mock model, made to answer with the instructions
it was given, so a skill that states the target passes and one that does not fails,
through Inspect's own solver, scorer and log. The exit code is 0 when Inspect finished
the eval (whatever the score), 1 when the eval itself failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from inspect_ai import Task, eval as inspect_eval
from inspect_ai.dataset import Sample
from inspect_ai.model import ChatMessage, ChatMessageSystem, GenerateConfig, Model, ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import Scorer, exact, includes, match
from inspect_ai.solver import Generate, Solver, TaskState, generate, solver

SCORERS = {"includes": includes, "match": match, "exact": exact}
MOCK_MODEL = "mockllm/model"


@solver
def skill_system_message(skill_text: str) -> Solver:
    """Put the skill first in the conversation, as the system message (taken literally, no templating)."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        state.messages.insert(0, ChatMessageSystem(content=skill_text))
        return state

    return solve


def repeat_instructions(messages: list[ChatMessage], tools: Any, tool_choice: Any, config: GenerateConfig) -> ModelOutput:
    """The offline mock's answer: the system instructions it was given, with token counts by characters."""
    content = "\n".join(m.text for m in messages if m.role == "system") or "no instructions"
    output = ModelOutput.from_content(model="mockllm", content=content)
    prompt = sum(len(m.text) for m in messages) // 4
    output.usage = ModelUsage(input_tokens=prompt, output_tokens=len(content) // 4, total_tokens=prompt + len(content) // 4)
    return output


def model_for(name: str) -> Model:
    """The Inspect model ``name``; the mock answers with its instructions (see the module doc)."""
    return get_model(name, custom_outputs=repeat_instructions) if name == MOCK_MODEL else get_model(name)


def build_task(task: dict[str, Any], skill_text: str, scorer: Scorer) -> Task:
    """A one-sample Inspect task: the skill as system message, one generation, ``scorer``."""
    sample = Sample(id=str(task["id"]), input=str(task["input"]), target=task.get("target", ""))
    return Task(dataset=[sample], solver=[skill_system_message(skill_text), generate()], scorer=scorer, name=f"trace2skill-{task['id']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skill-dir", type=Path, required=True)
    parser.add_argument("--task-file", type=Path, required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--model", default=MOCK_MODEL, help="Inspect model name (default: the offline mock).")
    parser.add_argument("--scorer", choices=sorted(SCORERS), default="includes")
    args = parser.parse_args(argv)
    task = json.loads(args.task_file.read_text(encoding="utf-8"))
    skill_text = (args.skill_dir / "SKILL.md").read_text(encoding="utf-8")
    logs = inspect_eval(
        build_task(task, skill_text, SCORERS[args.scorer]()), model=model_for(args.model), log_dir=str(args.out_dir), log_format="json", display="none"
    )
    ok = all(log.status == "success" for log in logs)
    if not ok:
        print(f"inspect eval failed: {[str(log.error.message) if log.error else log.status for log in logs]}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
