"""Build a :class:`GraderView` from what benchmark graders write (shared by the adapters and labels).

Each reader keeps only what the grader knew about the run and the error analyst can use:
expected actions, reference answers, per-check results, test output. Shapes that are not
what a grader writes are ignored (the trajectory keeps its metadata), never an error:
the grader view is evidence, not something a record needs to be read.
"""

from __future__ import annotations

import json
from typing import Any

from trace2skill.schema import GraderCheck, GraderView

MAX_TEST_OUTPUT_CHARS = 20_000  # the tail of a test log holds the failures; more is noise
# SWE-bench's test categories: which tests had to start passing, which had to keep passing.
# Keys of an agent's ``info`` block that :func:`info_grader` moves into the grader view.
GRADER_INFO_KEYS = frozenset({"report", "tests_status", "test_output"})
SWEBENCH_CATEGORIES = ("FAIL_TO_PASS", "PASS_TO_PASS", "FAIL_TO_FAIL", "PASS_TO_FAIL")


def json_texts(items: Any) -> list[str]:
    """Each item of a list as JSON text (strings stay as they are); ``[]`` for anything else."""
    if not isinstance(items, list):
        return []
    return [item if isinstance(item, str) else json.dumps(item, ensure_ascii=False, sort_keys=True) for item in items]


def as_score(value: Any) -> float | None:
    """A number as a float (booleans and non-numbers give None)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def as_passed(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def cut_output(text: Any) -> str:
    """A test log kept to its last ``MAX_TEST_OUTPUT_CHARS`` characters (where failures are reported)."""
    if not isinstance(text, str):
        return ""
    if len(text) <= MAX_TEST_OUTPUT_CHARS:
        return text
    return f"[...{len(text) - MAX_TEST_OUTPUT_CHARS} chars of test output cut...]\n" + text[-MAX_TEST_OUTPUT_CHARS:]


def non_empty(view: GraderView) -> GraderView | None:
    """``view``, or None when it holds nothing the analyst could use."""
    if view.verdict or view.expected_actions or view.reference_answers or view.checks or view.test_output:
        return view
    return None


def reward_checks(breakdown: Any) -> list[GraderCheck]:
    """``{component: score}`` as reward checks (a component passed when its score is 1 or more)."""
    if not isinstance(breakdown, dict):
        return []
    checks = []
    for name, value in breakdown.items():
        score = as_score(value)
        if score is not None:
            checks.append(GraderCheck(kind="reward", name=str(name), score=score, passed=score >= 1.0))
    return checks


def _report_of(value: Any) -> dict[str, Any] | None:
    """The per-instance part of a SWE-bench report: ``{resolved, tests_status}`` or ``{id: {...}}`` of one id."""
    if not isinstance(value, dict):
        return None
    if "tests_status" in value or "resolved" in value:
        return value
    inner = [v for v in value.values() if isinstance(v, dict)]
    if len(inner) == 1 and len(value) == 1 and ("tests_status" in inner[0] or "resolved" in inner[0]):
        return inner[0]
    return None


def swebench_grader(report: Any, source: str, test_output: Any = None) -> GraderView | None:
    """The grader view of a SWE-bench harness report (``report.json`` of one instance).

    ``tests_status`` holds, per category (``FAIL_TO_PASS``: tests the fix had to make
    pass; ``PASS_TO_PASS``: tests it had to keep passing), the tests that ``success``-ed
    and those that ``failure``-d; each becomes one check. Failing checks come first.
    """
    inner = _report_of(report)
    if inner is None and test_output is None:
        return None
    inner = inner or {}
    resolved = inner.get("resolved")
    verdict = "" if not isinstance(resolved, bool) else "resolved" if resolved else "unresolved"
    checks: list[GraderCheck] = []
    status = inner.get("tests_status")
    if isinstance(status, dict):
        for category in SWEBENCH_CATEGORIES:
            results = status.get(category)
            if not isinstance(results, dict):
                continue
            for outcome, passed in (("failure", False), ("success", True)):
                for test in results.get(outcome) or []:
                    if isinstance(test, str):
                        checks.append(GraderCheck(kind=category, name=test, passed=passed))
        checks.sort(key=lambda c: c.passed is not False)  # failures first: what the analyst needs most
    if isinstance(inner.get("patch_successfully_applied"), bool):
        checks.append(GraderCheck(kind="harness", name="patch applied", passed=inner["patch_successfully_applied"]))
    return non_empty(GraderView(source=source, verdict=verdict, checks=checks, test_output=cut_output(test_output)))


def info_grader(info: dict[str, Any], source: str) -> GraderView | None:
    """The grader view an agent's ``info`` block carries when an evaluation wrote into it:
    a SWE-bench ``report`` (or its ``tests_status`` / ``resolved`` inline) and ``test_output``."""
    return swebench_grader(info.get("report", info), source, info.get("test_output"))
