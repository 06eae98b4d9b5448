"""tau2-bench results: ``{"info", "tasks", "simulations": [SimulationRun, ...]}`` or one SimulationRun per file.

A SimulationRun is ``{id, task_id, trial, messages, reward_info{reward, ...},
termination_reason, agent_cost, ...}``; its messages have roles ``system``/``user``/
``assistant``/``tool``, tool calls ``{id, name, arguments (object), requestor}`` and tool
results ``{id, role: "tool", content, requestor, error}`` (several results may be grouped
in ``{"role": "tool", "tool_messages": [...]}``). In the directory layout, results.json
holds the tasks and ``simulations/<id>.json`` one run each; a run file read alone takes
its task text from that results.json when it is there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trace2skill.ingest import jsonhead
from trace2skill.ingest.base import (
    Format,
    Record,
    RecordError,
    Source,
    as_reward,
    first_user_text,
    guarded,
    id_value,
    json_type,
    make_trajectory,
    optional_int,
    optional_list,
    optional_object,
    optional_str,
)
from trace2skill.ingest.grader import as_passed, as_score, json_texts, non_empty, reward_checks
from trace2skill.ingest.jsonfile import (
    load_json_document,
    read_items,
    read_sidecar_json,
    record_object,
    stream_array,
    top_level_event,
    top_level_value,
)
from trace2skill.ingest.steps import add_call, add_result, objects
from trace2skill.schema import GraderCheck, GraderView, Role, Step, Trajectory

NAME = "tau2_bench"

# tau2 leaves runs that ended this way out of its metrics: the agent was never graded.
NON_EVALUABLE = frozenset({"infrastructure_error", "context_window_exceeded"})
INFO_KEYS = ("agent_info", "user_info", "environment_info")


def _tool_result(msg: dict[str, Any], where: str, names: dict[str, str], steps: list[Step]) -> None:
    call_id = optional_str(msg, "id", where)
    content = msg.get("content")
    if content is not None and not isinstance(content, str):
        raise RecordError(f"{where} content is {json_type(content)}, expected a string")
    add_result(steps, names, content or "", call_id)


def _participant(msg: dict[str, Any], role: Role, where: str, names: dict[str, str], steps: list[Step]) -> None:
    content = msg.get("content")
    if content is not None and not isinstance(content, str):
        raise RecordError(f"{where} content is {json_type(content)}, expected a string")
    if msg.get("is_audio"):
        content = "[audio]"
    calls = optional_list(msg, "tool_calls", where)
    if content or not calls:
        steps.append(Step(index=len(steps), role=role, content=content or ""))
    for j, call in enumerate(calls):
        cwhere = f"{where} tool call {j}"
        if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not call["name"]:
            raise RecordError(f"{cwhere} has no 'name'")
        arguments = call.get("arguments")
        if not isinstance(arguments, dict | str | None):
            raise RecordError(f"{cwhere} arguments are {json_type(arguments)}, expected an object")
        args = arguments if isinstance(arguments, str) else json.dumps(arguments or {}, ensure_ascii=False)
        # In dual-control domains (telecom) the simulated user calls tools on their own device.
        requestor: Role = (
            "user" if call.get("requestor") == "user" else "assistant" if call.get("requestor") == "assistant" else role
        )
        add_call(steps, names, call["name"], args, optional_str(call, "id", cwhere), requestor)


def messages_to_steps(messages: Any) -> list[Step]:
    """Convert tau2 messages to Steps; RecordError (the quarantine reason) on an unknown role."""
    steps: list[Step] = []
    names: dict[str, str] = {}
    for where, msg in objects(messages, "'messages' is", "message"):
        role = msg.get("role")
        if role == "tool" and isinstance(msg.get("tool_messages"), list):
            for sub_where, sub in objects(msg["tool_messages"], f"{where} 'tool_messages' is", f"{where} tool message"):
                _tool_result(sub, sub_where, names, steps)
        elif role == "tool":
            _tool_result(msg, where, names, steps)
        elif role in ("user", "assistant"):
            _participant(msg, role, where, names, steps)
        elif role == "system":
            steps.append(Step(index=len(steps), role="system", content=str(msg.get("content") or "")))
        else:
            raise RecordError(f"{where} has unknown role {role!r}")
    return steps


def task_text(task: dict[str, Any]) -> str:
    """What the simulated user was told to do (``user_scenario.instructions``), as text."""
    scenario = task.get("user_scenario")
    instructions = scenario.get("instructions") if isinstance(scenario, dict) else None
    if isinstance(instructions, str):
        return instructions
    if not isinstance(instructions, dict):
        return ""
    parts = [
        f"{label}: {instructions[key]}"
        for key, label in (
            ("reason_for_call", "Reason for call"),
            ("known_info", "Known info"),
            ("unknown_info", "Unknown info"),
            ("task_instructions", "Task instructions"),
        )
        if isinstance(instructions.get(key), str) and instructions[key]
    ]
    return "\n".join(parts)


def _objects(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _checks(reward_info: dict[str, Any]) -> list[GraderCheck]:
    """Every check of tau2's ``reward_info``: database, actions, environment and natural-language
    assertions, information to communicate, and the reward per component."""
    checks: list[GraderCheck] = []
    db = reward_info.get("db_check")
    if isinstance(db, dict):
        checks.append(GraderCheck(kind="db", name="database state", passed=as_passed(db.get("db_match")), score=as_score(db.get("db_reward"))))
    for check in _objects(reward_info.get("action_checks")):
        action = check.get("action") if isinstance(check.get("action"), dict) else {}
        name = action.get("name") if isinstance(action.get("name"), str) else ""
        detail = json.dumps(action, ensure_ascii=False, sort_keys=True) if action else ""
        checks.append(GraderCheck(kind="action", name=name, passed=as_passed(check.get("action_match")), score=as_score(check.get("action_reward")), detail=detail))
    for key, kind, field in (
        ("env_assertions", "env_assertion", "env_assertion"),
        ("nl_assertions", "assertion", "nl_assertion"),
        ("communicate_checks", "communicate", "info"),
    ):
        for check in _objects(reward_info.get(key)):
            what = check.get(field)
            name = what if isinstance(what, str) else json.dumps(what, ensure_ascii=False, sort_keys=True)
            justification = check.get("justification")
            detail = justification if isinstance(justification, str) else ""
            checks.append(GraderCheck(kind=kind, name=name, passed=as_passed(check.get("met")), score=as_score(check.get("reward")), detail=detail))
    return checks + reward_checks(reward_info.get("reward_breakdown"))


def grader_view(task: dict[str, Any], reward_info: dict[str, Any] | None) -> GraderView | None:
    """What tau2's evaluator knew: the task's ``evaluation_criteria`` (expected actions, information
    to communicate) and the run's ``reward_info`` checks."""
    criteria = task.get("evaluation_criteria") if isinstance(task.get("evaluation_criteria"), dict) else {}
    view = GraderView(
        source="tau2_bench evaluation",
        expected_actions=json_texts(criteria.get("actions")),
        reference_answers=json_texts(criteria.get("communicate_info")),
        checks=_checks(reward_info or {}),
    )
    return non_empty(view)


def _task_metadata(task: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    description = task.get("description")
    if isinstance(description, dict) and description.get("purpose"):
        meta["task_purpose"] = description["purpose"]
    return meta


def _run_metadata(sim: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {
        k: sim[k]
        for k in ("id", "task_id", "trial", "termination_reason", "agent_cost", "user_cost", "duration", "seed", "mode")
        if sim.get(k) is not None
    }
    meta["simulation_id"] = meta.pop("id", None)
    env = info.get("environment_info")
    if isinstance(env, dict) and env.get("domain_name"):
        meta["domain"] = env["domain_name"]
    for who in ("agent", "user"):
        who_info = info.get(f"{who}_info")
        if isinstance(who_info, dict) and who_info.get("llm"):
            meta[f"{who}_llm"] = who_info["llm"]
    return meta


def simulation_to_trajectory(
    sim: Any, source: Source, location: str, tasks: dict[str, dict[str, Any]], info: dict[str, Any]
) -> Trajectory:
    """Convert one SimulationRun; raises RecordError with the quarantine reason."""
    record_object(sim, "simulation")
    task_id = id_value(sim, "task_id")
    trial = optional_int(sim, "trial")
    if sim.get("messages") is None:
        raise RecordError("simulation has no 'messages' (full-duplex 'ticks' are not read)")
    steps = messages_to_steps(sim["messages"])
    reward_info = optional_object(sim, "reward_info")
    reward = as_reward(reward_info.get("reward"), "reward_info.reward")
    termination = sim.get("termination_reason")
    success = None if reward is None or termination in NON_EVALUABLE else reward >= source.success_threshold
    task = tasks.get(task_id, {})
    metadata = {**_task_metadata(task), **_run_metadata(sim, info)}
    trajectory = make_trajectory(
        source,
        raw_id=task_id if trial is None else f"{task_id}:{trial}",
        location=location,
        steps=steps,
        task=task_text(task) or first_user_text(steps),
        outcome=(success, reward),
        metadata=metadata,
    )
    return trajectory.model_copy(update={"grader": grader_view(task, reward_info)})


def _tasks_by_id(tasks: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(tasks, list):
        return {}
    return {str(t["id"]): t for t in tasks if isinstance(t, dict) and t.get("id") is not None}


def _sibling_results(results_path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    doc = read_sidecar_json(results_path)
    info = doc.get("info")
    return _tasks_by_id(doc.get("tasks")), info if isinstance(info, dict) else {}


def read(source: Source) -> Iterator[Record]:
    """Yield one record per simulation (``item N``, from 0), or one for a single-run file (``file``).

    A results document's ``simulations`` are streamed one at a time, so a multi-GB file is
    never whole in memory; ``info`` and ``tasks`` are read first in passes of their own
    (they precede the simulations in tau2's own files, which makes those passes short).
    """
    if top_level_event(source.path, "simulations") == "start_array":
        info = top_level_value(source.path, "info")
        tasks = _tasks_by_id(top_level_value(source.path, "tasks"))
        yield from stream_array(
            source, simulation_to_trajectory, tasks, info if isinstance(info, dict) else {}, key="simulations"
        )
        return
    doc, bad = load_json_document(source, dict)
    if bad is not None:
        yield bad
        return
    if doc is None:
        return
    if "simulations" in doc:
        sims = doc["simulations"]
        if not isinstance(sims, list):
            yield source.quarantine("file", f"'simulations' is {json_type(sims)}, expected an array")
            return
        info = doc.get("info") if isinstance(doc.get("info"), dict) else {}
        tasks = _tasks_by_id(doc.get("tasks"))
        yield from read_items(source, sims, simulation_to_trajectory, tasks, info)
        return
    tasks, info = {}, {}
    if source.path.parent.name == "simulations":
        tasks, info = _sibling_results(source.path.parent.parent / "results.json")
    yield guarded(source, "file", doc, simulation_to_trajectory, doc, source, "file", tasks, info)


def sniff(head: str) -> bool:
    """A results document (``simulations``, or an ``info`` with agent/user/environment info) or one SimulationRun."""
    doc = jsonhead.view(head).document
    if doc is None:
        return False
    info = doc.get("info")
    if doc.has("simulations") or (isinstance(info, dict) and any(k in info for k in INFO_KEYS)):
        return True
    return doc.has("task_id", "termination_reason")


FORMAT = Format(
    name=NAME,
    description="tau2-bench results JSON: {info, tasks, simulations: [{task_id, trial, messages, reward_info}]}",
    suffixes=(".json",),
    sniff=sniff,
    read=read,
)
