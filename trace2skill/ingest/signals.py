"""Outcomes read from the trace itself, for runs that carry no label and no grader verdict.

Three rules, tried in this order; the first that speaks decides:

1. **patch**: the agent submitted a patch that did not apply (``git apply`` / ``patch``
   reported a failed hunk or a corrupt patch after the last submission), or its run ended
   ``submitted`` with an empty submission: a failure. A patch that applies says nothing by
   itself (whether it fixes the task is for the tests to say);
2. **tests**: a test run (``pytest``, ``tox``, ``go test``, ``npm test``, ``cargo test``, ...)
   that is the agent's last action (only a submission may follow: a change made after the
   tests ran leaves them stale) and its exit status: a ``<returncode>N</returncode>`` / ``exit code N``
   in its output, a tool result marked as an error, or a pytest summary line
   (``3 passed``, ``1 failed``). Exit 0 is a success, anything else a failure;
3. **user**: the user's last short turn after the agent worked: thanks or approval
   ("thanks", "perfect", "that works") is a success, a complaint ("still failing",
   "that's wrong", "doesn't work") a failure; both or neither say nothing.

Each inferred outcome keeps its rule, the step it rests on and a short excerpt
(:class:`Signal`), stored in ``metadata["outcome_signal"]`` and shown to the analyst.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from trace2skill.ingest.base import clip
from trace2skill.schema import OUTCOME_SIGNAL, OUTCOME_SOURCE, Step, Trajectory

EXCERPT_CHARS = 160
USER_TURN_CHARS = 300  # a longer last turn is a new request, not a verdict on the work

# A test runner as a command word: at the start or after a shell separator or quote, and not part of a file name (pytest.ini).
TEST_COMMAND = re.compile(
    r"(?:^|(?<=[\s;&|(/\"']))(?:pytest|py\.test|python[\d.]* -m (?:pytest|unittest)|tox|nox|go test|cargo test|"
    r"(?:npm|yarn|pnpm)(?: run)? test|mvn(?:w)? test|gradle(?:w)? test|make (?:test|check)|runtests\.py|phpunit|rspec|jest|vitest)(?=$|[\s;&|)\\\"'])"
)
RETURN_CODE = re.compile(r"<returncode>\s*(-?\d+)\s*</returncode>|\b(?:exit(?:ed)?(?: with)?[ _]?(?:code|status)|returncode)\W{0,3}(-?\d+)", re.IGNORECASE)
PYTEST_SUMMARY = re.compile(r"^=*\s*(?:\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|warnings?|deselected)[, ]*)+(?:in [\d.]+s)?\s*=*$", re.MULTILINE)
ERROR_MARK = "[error]"  # how adapters mark a tool result the agent's tool reported as failed (Claude Code's is_error)
PATCH_FAILED = re.compile(r"patch does not apply|patch failed|corrupt patch|malformed patch|hunk #?\d+ failed|can't find file to patch", re.IGNORECASE)
SUBMIT_WORDS = ("submit", "COMPLETE_TASK_AND_SUBMIT")
THANKS = re.compile(r"\b(?:thanks?|thank you|thx|ty|perfect|great|awesome|excellent|lgtm|looks good|that works|it works|works now|that worked|nice|merci|danke|gracias)\b", re.IGNORECASE)
COMPLAINT = re.compile(
    r"\b(?:wrong|broken|still (?:fail\w*|broken|wrong|not)|(?:does|did|do)(?:n't| not) work|not working|that's not|that is not|you broke|undo|revert|useless|no,)|\[request interrupted",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Signal:
    """An outcome read from the trace: ``rule`` (patch | tests | user), the step it rests on, an excerpt."""

    success: bool
    rule: str
    step: int
    evidence: str

    def as_metadata(self) -> dict:
        return asdict(self)


def _excerpt(text: str) -> str:
    # Cut as a quarantined record's excerpt is (``clip``: no word cut in two); the text was
    # redacted before (``ingest.registry``), so a cut cannot hide a secret from it.
    return clip(" ".join(text.split()), EXCERPT_CHARS)


def _result_of(steps: list[Step], at: int) -> Step | None:
    """The observation that answers the tool call ``steps[at]`` (by call id, else the next observation)."""
    call = steps[at]
    for step in steps[at + 1 :]:
        if step.kind == "observation" and (call.tool_call_id is None or step.tool_call_id in (None, call.tool_call_id)):
            return step
        if step.kind == "tool_call" and call.tool_call_id is None:
            return None
    return None


def exit_status(output: str) -> bool | None:
    """Whether a test run's output says it passed: its return code, an error mark, else a pytest summary."""
    if (code := RETURN_CODE.search(output)) is not None:
        return int(code.group(1) or code.group(2)) == 0
    if output.lstrip().startswith(ERROR_MARK):
        return False
    summaries = PYTEST_SUMMARY.findall(output)
    if summaries:
        last = summaries[-1]
        return not re.search(r"\d+ (?:failed|errors?)", last)
    return None


def _command(step: Step) -> str:
    return f"{step.tool_args or ''}\n{step.content}"


def _submits(step: Step) -> bool:
    return any(w in _command(step) for w in SUBMIT_WORDS)


def tests_signal(steps: list[Step]) -> Signal | None:
    """The verdict of a test run that is the agent's last action (rule 2)."""
    for at in range(len(steps) - 1, -1, -1):
        step = steps[at]
        if step.kind != "tool_call" or _submits(step):
            continue
        test = TEST_COMMAND.search(_command(step))
        if test is None:
            return None  # the agent did something else after its last test run
        result = _result_of(steps, at)
        passed = exit_status(result.content) if result is not None else None
        return None if passed is None else Signal(passed, "tests", result.index, _excerpt(f"{test.group(0)}: {result.content}"))
    return None


def patch_signal(traj: Trajectory) -> Signal | None:
    """A submitted patch that did not apply, or an empty submission (rule 1)."""
    steps = traj.steps
    for at in range(len(steps) - 1, -1, -1):
        step = steps[at]
        if step.kind == "observation" and PATCH_FAILED.search(step.content):
            return Signal(False, "patch", step.index, _excerpt(step.content))
        if step.kind == "tool_call" and _submits(step):
            break  # failures before the last submission were fixed or superseded
    status = str(traj.metadata.get("exit_status") or "").lower()
    if status == "submitted" and not str(traj.metadata.get("submission") or "").strip():
        last = steps[-1].index if steps else 0
        return Signal(False, "patch", last, "the run ended 'submitted' with an empty patch")
    return None


def user_signal(steps: list[Step]) -> Signal | None:
    """The user's last short turn after the agent worked, read as thanks or complaint (rule 3)."""
    if not any(s.role == "assistant" for s in steps):
        return None
    for step in reversed(steps):
        if step.role == "user" and step.kind == "message" and step.content.strip():
            if not any(s.role == "assistant" for s in steps[: steps.index(step)]):
                return None  # the task itself, not a reaction to the work
            text = step.content.strip()
            if len(text) > USER_TURN_CHARS:
                return None
            thanks, complaint = bool(THANKS.search(text)), bool(COMPLAINT.search(text))
            if thanks == complaint:
                return None
            return Signal(thanks, "user", step.index, _excerpt(text))
    return None


def trace_signal(traj: Trajectory) -> Signal | None:
    """The first rule of the three that reads an outcome from ``traj``'s steps, if any."""
    return patch_signal(traj) or tests_signal(traj.steps) or user_signal(traj.steps)


def with_outcome_source(traj: Trajectory) -> Trajectory:
    """``traj`` with ``metadata["outcome_source"]``: ``label`` (a labels file or sidecar set it),
    ``grader`` (the source file's own verdict or reward), ``signal`` (inferred here, the signal
    kept beside it); a run none of them speaks for is returned unchanged (the judge may infer it)."""
    if traj.success is not None:
        source = "label" if "label_id" in traj.metadata else "grader"
        return traj.model_copy(update={"metadata": {**traj.metadata, OUTCOME_SOURCE: source}})
    signal = trace_signal(traj)
    if signal is None:
        return traj
    metadata = {**traj.metadata, OUTCOME_SOURCE: "signal", OUTCOME_SIGNAL: signal.as_metadata()}
    return traj.model_copy(update={"success": signal.success, "metadata": metadata})
