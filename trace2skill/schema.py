"""Data models shared by every stage, with the Arrow schemas they are stored under.

Each model has a flat Arrow form (``to_row`` / ``from_row``): nested lists of
structs stay structs, free-form metadata is a JSON string so Parquet files stay
readable with polars or DuckDB without knowing our Python types.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel, Field

Role = Literal["system", "user", "assistant", "tool"]
StepKind = Literal["message", "reasoning", "tool_call", "observation"]
LessonKind = Literal["failure", "success"]
# How far the starting skill S0 already says what a lesson says (the analyst's judgement).
Coverage = Literal["covered", "partial", "missing"]
Verified = Literal["passed", "failed", "unchecked"]  # a diagnosis's check: its fix passed, failed, or no checker ran
# Where a trajectory's outcome came from (``Trajectory.metadata[OUTCOME_SOURCE]``, the manifest's
# ``outcome_source``): a labels file or sidecar, the source's own verdict, a signal in the trace, the outcome judge.
OutcomeSource = Literal["label", "grader", "signal", "judged"]
OUTCOME_SOURCE, OUTCOME_SIGNAL, OUTCOME_JUDGEMENT = "outcome_source", "outcome_signal", "outcome_judgement"
Status = Literal["analyzed", "no_lesson", "quarantined", "failed", "skipped", "seen", "unrouted"]  # skipped: left out by --max-prompt-tokens; seen: analysed by the run an update starts from; unrouted: a library run routed it to no skill
# Edits inside a markdown file's "## " sections; the whole-file ops come on top.
SectionOp = Literal[
    "append_to_section",
    "insert_after",
    "insert_before",
    "replace_in_section",
    "add_section",
    "delete_section",
]
EditOp = Literal[SectionOp, "create", "delete_file"]


def stable_id(*parts: str, prefix: str = "") -> str:
    """A short id that is the same on every run for the same parts."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]
    return f"{prefix}{digest}"


class Usage(BaseModel):
    """Token counts of one or more calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            calls=self.calls + other.calls,
        )


class Step(BaseModel):
    """One event of a trajectory: a message, a reasoning block, a tool call or its result."""

    index: int
    role: Role
    kind: StepKind = "message"
    content: str = ""
    tool_name: str | None = None
    tool_args: str | None = None  # JSON text exactly as the agent emitted it
    tool_call_id: str | None = None


class GraderCheck(BaseModel):
    """One thing the grader checked: a reward component, an expected action, a test, an assertion."""

    kind: str  # e.g. "reward", "action", "FAIL_TO_PASS", "PASS_TO_PASS", "assertion"
    name: str = ""  # what was checked: a component, a tool call, a test id
    passed: bool | None = None
    score: float | None = None
    detail: str = ""  # the grader's own words or the expected value, as text


class GraderView(BaseModel):
    """What the benchmark's grader or verifier knew about a run, which the agent never saw.

    Shown to the error analyst as ground truth to find the root cause against; lessons
    must generalise from it and never quote its specifics (ids, answers).
    """

    source: str  # where it was read, e.g. "tau_bench info", "swe-bench report"
    verdict: str = ""  # the grader's overall word, e.g. "resolved", "unresolved", "PASS"
    expected_actions: list[str] = Field(default_factory=list)  # one JSON text per expected tool call
    reference_answers: list[str] = Field(default_factory=list)  # outputs the grader expected
    checks: list[GraderCheck] = Field(default_factory=list)
    test_output: str = ""  # test log or verifier output (cut when long)


class Trajectory(BaseModel):
    """One agent run on one task, normalised from any source format."""

    id: str
    source_format: str
    source_file: str = ""
    raw_id: str = ""
    task: str = ""
    # The task's identity as the source records it (tau-bench/tau2 task id, SWE-bench
    # instance id); None where the source has none. Runs are grouped by ``task_key()``.
    task_key: str | None = None
    steps: list[Step] = Field(default_factory=list)
    success: bool | None = None
    reward: float | None = None
    grader: GraderView | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        row = self.model_dump()
        row["metadata"] = json.dumps(self.metadata, sort_keys=True)
        # Stored beside the steps so that ranking runs by length (the pairing stage) reads
        # an integer column instead of decoding every run's steps.
        row["counted_steps"] = counted_steps(self.steps)
        row["content_hash"] = self.content_hash()
        return row

    def content_hash(self) -> str:
        """sha256 of what the run was (task, steps, outcome, grader), not where it was read
        from: the same run re-exported to another file or path hashes the same, so that
        ``distill --update`` knows it was analysed before. Step indices and tool-call ids are
        left out (exporters renumber them)."""
        steps = [[s.role, s.kind, s.content, s.tool_name, s.tool_args] for s in self.steps]
        grader = self.grader.model_dump() if self.grader is not None else None
        text = json.dumps([self.task, steps, self.success, self.reward, grader], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Trajectory:
        row = dict(row)
        row.pop("counted_steps", None)  # derived from the steps
        row.pop("content_hash", None)  # derived from the contents
        row["metadata"] = json.loads(row.get("metadata") or "{}")
        return cls.model_validate(row)


TEXT_KEY_PREFIX = "task-text:"


def task_key(stored: str | None, task: str | None) -> str | None:
    """The task a run belongs to, the one rule that pairing, the holdout split and the
    sampling strata group runs by: the adapter's stored ``Trajectory.task_key``, else a
    hash of the task text (whitespace collapsed, case kept), else None (no task text)."""
    if stored:
        return stored
    text = " ".join((task or "").split())
    return stable_id(text, prefix=TEXT_KEY_PREFIX) if text else None


def counted_steps(steps: Sequence[Step | dict[str, Any]]) -> int:
    """Steps of a run that count for its length: all but system messages."""
    return sum(1 for s in steps if (s["role"] if isinstance(s, dict) else s.role) != "system")


class Lesson(BaseModel):
    """A short, reusable piece of guidance learned from one trajectory."""

    id: str
    trajectory_id: str
    contrast_with: str | None = None  # the successful sibling run the failure was contrasted with
    kind: LessonKind
    title: str
    description: str = ""
    content: str
    topic: str
    coverage: Coverage | None = None  # does S0 already say this? None: the analyst did not say
    verified: Verified = "unchecked"  # did the diagnosis's minimal fix pass the user's checker (analysts/check.py)?
    metadata: dict[str, Any] = Field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        row = self.model_dump()
        row["metadata"] = json.dumps(self.metadata, sort_keys=True)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Lesson:
        row = dict(row)
        row["metadata"] = json.loads(row.get("metadata") or "{}")
        return cls.model_validate(row)


class Edit(BaseModel):
    """One change to the skill folder, applied by code (never by an LLM rewriting files).

    ``section`` names a ``##`` heading of ``path`` (a markdown file in the skill);
    ``anchor`` is the text that ``insert_after`` / ``insert_before`` /
    ``replace_in_section`` look for inside that section.
    """

    op: EditOp
    path: str = "SKILL.md"
    section: str | None = None
    anchor: str | None = None
    content: str = ""
    reason: str = ""
    lesson_ids: list[str] = Field(default_factory=list)  # the lessons this edit serves, when known


class Patch(BaseModel):
    """A list of edits with the evidence behind them."""

    id: str
    edits: list[Edit] = Field(default_factory=list)
    lesson_ids: list[str] = Field(default_factory=list)
    trajectory_ids: list[str] = Field(default_factory=list)
    support: int = 0
    topic: str = ""
    notes: str = ""

    def to_row(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Patch:
        return cls.model_validate(row)


class ManifestRow(BaseModel):
    """The one final status of one input trajectory (or unparseable record)."""

    trajectory_id: str
    source_file: str = ""
    status: Status
    reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_calls: int = 0
    sibling_id: str = ""  # the successful run of the same task a failure was contrasted with
    turns: int = 0  # agentic analyst: turns of its loop
    tool_errors: int = 0  # agentic analyst: actions answered with an error (bad arguments, refused citations)
    verified: str = ""  # the diagnosis's check (analysts/check.py): passed, failed or unchecked; "" without a diagnosis
    outcome_source: OutcomeSource | Literal[""] = ""  # "" when the outcome stayed unknown
    content_hash: str = ""  # the trajectory's Trajectory.content_hash(); "" for a record never analysed (quarantined, held out, skipped)


class QuarantinedRecord(BaseModel):
    """An input record that could not be turned into a Trajectory, and why."""

    trajectory_id: str
    source_file: str
    location: str  # "line N", "item N" (0-based) or "file"
    source_format: str
    reason: str
    excerpt: str = ""


STEP_TYPE = pa.struct(
    [
        ("index", pa.int64()),
        ("role", pa.string()),
        ("kind", pa.string()),
        ("content", pa.string()),
        ("tool_name", pa.string()),
        ("tool_args", pa.string()),
        ("tool_call_id", pa.string()),
    ]
)

GRADER_TYPE = pa.struct(
    [
        ("source", pa.string()),
        ("verdict", pa.string()),
        ("expected_actions", pa.list_(pa.string())),
        ("reference_answers", pa.list_(pa.string())),
        (
            "checks",
            pa.list_(
                pa.struct(
                    [
                        ("kind", pa.string()),
                        ("name", pa.string()),
                        ("passed", pa.bool_()),
                        ("score", pa.float64()),
                        ("detail", pa.string()),
                    ]
                )
            ),
        ),
        ("test_output", pa.string()),
    ]
)

TRAJECTORY_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source_format", pa.string()),
        ("source_file", pa.string()),
        ("raw_id", pa.string()),
        ("task", pa.string()),
        ("task_key", pa.string()),
        ("steps", pa.list_(STEP_TYPE)),
        ("counted_steps", pa.int64()),
        ("content_hash", pa.string()),
        ("success", pa.bool_()),
        ("reward", pa.float64()),
        ("grader", GRADER_TYPE),
        ("metadata", pa.string()),
    ]
)

LESSON_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("trajectory_id", pa.string()),
        ("contrast_with", pa.string()),
        ("kind", pa.string()),
        ("title", pa.string()),
        ("description", pa.string()),
        ("content", pa.string()),
        ("topic", pa.string()),
        ("coverage", pa.string()),
        ("verified", pa.string()),
        ("metadata", pa.string()),
    ]
)

EDIT_TYPE = pa.struct(
    [
        ("op", pa.string()),
        ("path", pa.string()),
        ("section", pa.string()),
        ("anchor", pa.string()),
        ("content", pa.string()),
        ("reason", pa.string()),
        ("lesson_ids", pa.list_(pa.string())),
    ]
)

PATCH_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("edits", pa.list_(EDIT_TYPE)),
        ("lesson_ids", pa.list_(pa.string())),
        ("trajectory_ids", pa.list_(pa.string())),
        ("support", pa.int64()),
        ("topic", pa.string()),
        ("notes", pa.string()),
    ]
)

MANIFEST_SCHEMA = pa.schema(
    [
        ("trajectory_id", pa.string()),
        ("source_file", pa.string()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("llm_calls", pa.int64()),
        ("sibling_id", pa.string()),
        ("turns", pa.int64()),
        ("tool_errors", pa.int64()),
        ("verified", pa.string()),
        ("outcome_source", pa.string()),
        ("content_hash", pa.string()),
    ]
)

QUARANTINE_SCHEMA = pa.schema(
    [
        ("trajectory_id", pa.string()),
        ("source_file", pa.string()),
        ("location", pa.string()),
        ("source_format", pa.string()),
        ("reason", pa.string()),
        ("excerpt", pa.string()),
    ]
)


def to_table(models: Sequence[BaseModel], schema: pa.Schema) -> pa.Table:
    """Build an Arrow table of ``models`` under ``schema`` (empty tables keep the schema)."""
    rows = [m.to_row() if hasattr(m, "to_row") else m.model_dump() for m in models]
    return pa.Table.from_pylist(rows, schema=schema)
