"""Harbor's Agent Trajectory Interchange Format (ATIF v1.x): one ``trajectory.json`` per run.

``{schema_version: "ATIF-v1.N", session_id, trajectory_id?, agent{name, version,
model_name}, steps[{step_id, source: system|user|agent, message, reasoning_content,
tool_calls[{tool_call_id, function_name, arguments}], observation{results[{source_call_id,
content, subagent_trajectory_ref}]}, metrics}], final_metrics?, extra?}``. From v1.6
``message`` and result ``content`` may be lists of text/image parts. ATIF has no outcome
field: a flag, verdict or reward in the root ``extra``, ``final_metrics.extra`` or the last
step's ``extra`` that states one is used (:mod:`outcomes`), else the Harbor trial's
``result.json`` next to the ``agent/`` folder, else a labels file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from trace2skill.ingest import jsonhead
from trace2skill.ingest.base import (
    Format,
    Outcome,
    Record,
    RecordError,
    Source,
    as_object,
    as_reward,
    make_trajectory,
    optional_list,
    optional_str,
    resolve_outcome,
)
from trace2skill.ingest.jsonfile import read_document, read_sidecar_json
from trace2skill.ingest.outcomes import OUTCOME_FIELD, first_outcome
from trace2skill.ingest.steps import add_assistant_text, add_named_calls, add_result, content_text, objects
from trace2skill.schema import Step, Trajectory

NAME = "atif"
VERSION_PREFIX = "ATIF-"


def _result_steps(result: dict[str, Any], where: str, names: dict[str, str], steps: list[Step]) -> None:
    call_id = optional_str(result, "source_call_id", where)
    text = content_text(result.get("content"), where)
    refs = result.get("subagent_trajectory_ref") or []
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict):
            who = ref.get("trajectory_id") or ref.get("session_id") or ref.get("trajectory_path")
            text = "\n".join(t for t in (text, f"[subagent trajectory {who}]") if t)
    add_result(steps, names, text, call_id)


def _agent_step(step: dict[str, Any], text: str, where: str, names: dict[str, str], steps: list[Step]) -> None:
    reasoning = step.get("reasoning_content")
    calls = optional_list(step, "tool_calls", where)
    add_assistant_text(steps, text, reasoning if isinstance(reasoning, str) else None, calls)
    add_named_calls(steps, names, calls, where, "function_name", "tool_call_id")


def atif_steps(items: Any) -> list[Step]:
    """Steps of the ATIF ``steps`` array, in order."""
    steps: list[Step] = []
    names: dict[str, str] = {}
    for where, step in objects(items, "'steps' is", "step"):
        source = step.get("source")
        text = content_text(step.get("message"), where)
        if source == "agent":
            _agent_step(step, text, where, names, steps)
        elif source in ("system", "user"):
            steps.append(Step(index=len(steps), role=source, content=text))
        else:
            raise RecordError(f"{where} has unknown source {source!r}")
        observation = step.get("observation")
        if observation is not None:
            results = observation.get("results") if isinstance(observation, dict) else None
            if not isinstance(results, list):
                raise RecordError(f"{where} observation has no 'results' array")
            for rwhere, result in objects(results, f"{where} 'results' is", f"{where} result"):
                _result_steps(result, rwhere, names, steps)
    return steps


def _outcome(doc: dict[str, Any], source: Source, metadata: dict[str, Any]) -> Outcome:
    """The run's outcome by the rules of :mod:`outcomes`: the root ``extra``, ``final_metrics.extra``, the last
    step whose ``extra`` states one (a verifier step's ``passed``), else the Harbor trial's ``result.json``."""
    final = as_object(doc.get("final_metrics"))
    steps = doc.get("steps") if isinstance(doc.get("steps"), list) else []
    blocks = [("extra", doc.get("extra")), ("final_metrics.extra", final.get("extra"))]
    blocks += [(f"steps[{i}].extra", as_object(steps[i]).get("extra")) for i in reversed(range(len(steps)))]
    found = first_outcome(blocks, source.success_threshold)
    if found is not None:
        metadata[OUTCOME_FIELD] = found.field
        return found.success, found.reward
    if source.path.parent.name == "agent":  # a Harbor trial folder: <trial>/agent/trajectory.json
        trial = read_sidecar_json(source.path.parent.parent / "result.json")
        verifier = trial.get("verifier_result")
        if isinstance(verifier, dict):
            rewards = verifier.get("rewards")
            value = rewards.get("reward") if isinstance(rewards, dict) else verifier.get("reward")
            if isinstance(value, int | float) and not isinstance(value, bool):
                metadata.update({k: trial[k] for k in ("task_name", "trial_name") if trial.get(k)})
                metadata[OUTCOME_FIELD] = "../result.json verifier_result." + ("rewards.reward" if isinstance(rewards, dict) else "reward")
                reward = as_reward(value, "verifier_result reward")
                return resolve_outcome(None, reward, source.success_threshold)
    return None, None


def doc_to_trajectory(doc: dict[str, Any], source: Source) -> Trajectory:
    """Convert a parsed ATIF document; raises RecordError with the quarantine reason."""
    if "steps" not in doc:
        raise RecordError("file has no 'steps'")
    steps = atif_steps(doc["steps"])
    session_id = optional_str(doc, "session_id", "root")
    raw_id = optional_str(doc, "trajectory_id", "root") or session_id or source.path.stem
    metadata: dict[str, Any] = {
        k: doc[k]
        for k in (
            "schema_version",
            "session_id",
            "trajectory_id",
            "agent",
            "final_metrics",
            "notes",
            "continued_trajectory_ref",
        )
        if doc.get(k) is not None
    }
    subagents = doc.get("subagent_trajectories")
    if isinstance(subagents, list) and subagents:
        metadata["subagent_trajectories"] = [
            s.get("trajectory_id") or s.get("session_id") for s in subagents if isinstance(s, dict)
        ]
    result = _outcome(doc, source, metadata)
    return make_trajectory(source, raw_id=raw_id, location="file", steps=steps, outcome=result, metadata=metadata)


def read(source: Source) -> Iterator[Record]:
    """Yield the one record of the file (location ``file``)."""
    return read_document(source, doc_to_trajectory)


def sniff(head: str) -> bool:
    """A JSON object whose ``schema_version`` starts with ``ATIF-``, or with ``session_id``, ``agent`` and ``steps``."""
    doc = jsonhead.view(head).document
    if doc is None:
        return False
    version = doc.get("schema_version")
    return (isinstance(version, str) and version.startswith(VERSION_PREFIX)) or doc.has("session_id", "agent", "steps")


FORMAT = Format(
    name=NAME,
    description="Harbor ATIF v1.x trajectory.json: {schema_version, session_id, agent, steps: [...]}",
    suffixes=(".json",),
    sniff=sniff,
    read=read,
)
