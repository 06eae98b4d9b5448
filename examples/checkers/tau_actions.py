"""A checker (``distill --checker``) for tau-bench style tasks: a proposed action list
against the grader's expected actions, judged the way tau-bench scores a run.

``python tau_actions.py TASK_FILE PROPOSAL_FILE OUT_DIR`` prints ``{"pass": bool, "detail": str}``.

tau-bench replays the task's expected actions on a fresh copy of its database and passes a
run when the run leaves the same database (its ``r_actions``, a hash of the data): tools
that only read change nothing, so only the state-changing calls count, each with exactly
the expected name and arguments; the order of independent writes does not change the
data. Its ``r_outputs`` then requires every expected output to appear in what the agent
told the user (``respond`` actions, lower case, commas removed). Without the database this
checker compares the calls themselves: the proposal's write calls must equal the expected
write calls as a multiset of (name, arguments), and every expected output must appear in
its ``respond`` contents.

The proposal is a JSON list of ``{"name": ..., "kwargs": {...}}`` (``arguments`` is read as
``kwargs``). The expected actions and outputs come from the task file's ``grader``
(``expected_actions``, ``reference_answers``), else from ``task.actions`` / ``task.outputs``
when the task object is tau-bench's own.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# tau-bench's tools that read or talk and change no data (airline and retail domains).
READ_ONLY = {
    "calculate",
    "think",
    "transfer_to_human_agents",
    "respond",
    "list_all_airports",
    "list_all_product_types",
}
READ_PREFIXES = ("get_", "find_", "search_", "list_")
RESPOND = "respond"


def is_write(name: str) -> bool:
    """Whether a tool changes the database (everything but tau-bench's read-only tools)."""
    return name not in READ_ONLY and not name.startswith(READ_PREFIXES)


def normalized(action: Any) -> tuple[str, dict[str, Any]]:
    """(name, arguments) of one action object; a ValueError for anything else."""
    if isinstance(action, str):
        action = json.loads(action)
    if not isinstance(action, dict) or not isinstance(action.get("name"), str):
        raise ValueError(f"an action must be an object with a 'name', got {json.dumps(action)[:120]}")
    kwargs = action.get("kwargs", action.get("arguments", {}))
    if isinstance(kwargs, str):
        kwargs = json.loads(kwargs)
    if not isinstance(kwargs, dict):
        raise ValueError(f"the arguments of {action['name']} must be an object")
    return action["name"], kwargs


def key(name: str, kwargs: dict[str, Any]) -> str:
    return f"{name}({json.dumps(kwargs, sort_keys=True, ensure_ascii=False)})"


def expected(task: dict[str, Any]) -> tuple[list[tuple[str, dict]], list[str]]:
    """The expected actions and outputs of the task file."""
    grader = task.get("grader") or {}
    inner = task.get("task") if isinstance(task.get("task"), dict) else task
    actions = grader.get("expected_actions") or inner.get("actions") or []
    outputs = grader.get("reference_answers") or inner.get("outputs") or []
    return [normalized(a) for a in actions], [str(o) for o in outputs]


def judge(task: dict[str, Any], proposal_text: str) -> dict[str, Any]:
    """The verdict on one proposal."""
    try:
        proposal = json.loads(proposal_text)
    except json.JSONDecodeError as exc:
        return {"pass": False, "detail": f"the proposal is not JSON ({exc.msg}); write a JSON list of actions"}
    if not isinstance(proposal, list):
        return {"pass": False, "detail": "the proposal must be a JSON list of actions"}
    try:
        proposed = [normalized(a) for a in proposal]
        wanted, outputs = expected(task)
    except (ValueError, json.JSONDecodeError) as exc:
        return {"pass": False, "detail": str(exc)}
    if not wanted and not outputs:
        return {"pass": False, "detail": "the task has no expected actions or outputs to check against"}
    got = Counter(key(n, k) for n, k in proposed if is_write(n))
    need = Counter(key(n, k) for n, k in wanted if is_write(n))
    said = [str(k.get("content", "")).lower().replace(",", "") for n, k in proposed if n == RESPOND]
    unsaid = [o for o in outputs if not any(o.lower().replace(",", "") in s for s in said)]
    problems = [f"missing write call: {a}" for a in (need - got).elements()]
    problems += [f"unexpected write call: {a}" for a in (got - need).elements()]
    problems += [f"expected output not told to the user: {o!r}" for o in unsaid]
    if problems:
        return {"pass": False, "detail": "; ".join(problems)}
    return {"pass": True, "detail": f"{sum(need.values())} write call(s) match by name and arguments; {len(outputs)} output(s) told"}


def main(argv: list[str]) -> int:
    task_file, proposal_file, out_dir = argv[1:4]
    verdict = judge(json.loads(Path(task_file).read_text(encoding="utf-8")), Path(proposal_file).read_text(encoding="utf-8"))
    Path(out_dir, "verdict.json").write_text(json.dumps(verdict), encoding="utf-8")
    print(json.dumps(verdict))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
