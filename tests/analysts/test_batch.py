"""A batch of rows analysed concurrently: one engine request per analysis, failures isolated,
the embedded engine still one call at a time."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import make_trajectory
from trace2skill.analysts.analyze import AnalystSettings
from trace2skill.analysts.batch import PAIRING, analyze_rows, call_failed
from trace2skill.analysts.context import SkillContext
from trace2skill.analysts.contrast import choose_sibling
from trace2skill.llm.embedded import EmbeddedLLM
from trace2skill.llm.fake import RESPONDERS, FakeLLM

SKILL = SkillContext(skill_md="---\nname: s\ndescription: d\n---\n# S\n\n## Workflow\n\n- a\n")


class InFlight:
    """Counts the calls inside it at once. A call waits until ``gate`` calls have been in at
    once (at most 10 s), so calls that can overlap do, however slowly the machine prepares
    them; then it holds ``hold_s``."""

    def __init__(self, gate: int = 0, hold_s: float = 0.05):
        self.gate, self.hold_s, self.now, self.peak, self.calls = gate, hold_s, 0, 0, 0
        self.cond = threading.Condition()

    def __enter__(self):
        with self.cond:
            self.now += 1
            self.calls += 1
            self.peak = max(self.peak, self.now)
            self.cond.notify_all()
            if self.gate:
                self.cond.wait_for(lambda: self.peak >= self.gate, timeout=10)
        time.sleep(self.hold_s)

    def __exit__(self, *exc):
        with self.cond:
            self.now -= 1


class RecordingLLM(FakeLLM):
    """The fake engine, recording concurrency; a prompt naming ``fail_on`` raises (a bug in
    the analysis path, not an engine error the retries would absorb)."""

    def __init__(self, fail_on: str = "\0", gate: int = 0):
        super().__init__()
        self.fail_on, self.flight = fail_on, InFlight(gate)

    def complete(self, messages, output, max_tokens, schema=None):
        if any(self.fail_on in m.content for m in messages):
            raise RuntimeError(f"cannot analyse {self.fail_on}")
        with self.flight:
            return super().complete(messages, output, max_tokens, schema)


class StubLlama:
    """llama.cpp's ``Llama`` as EmbeddedLLM uses it, answering with the fake's responders
    (the grammar stands for the schema's title) and recording concurrency."""

    def __init__(self):
        self.flight = InFlight()

    def tokenize(self, data: bytes, add_bos: bool = False) -> list[int]:
        return list(range(len(data) // 4))

    def create_completion(self, prompt: str, grammar: str, **_) -> dict:
        with self.flight:
            return {"choices": [{"text": json.dumps(RESPONDERS[grammar](prompt))}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}


def stub_embedded() -> EmbeddedLLM:
    llm = EmbeddedLLM.__new__(EmbeddedLLM)  # no model file: the lock and the call path are what is tested
    llm.temperature, llm._lock, llm._llama, llm._grammars = 0.0, threading.Lock(), StubLlama(), {}
    llm._grammar = lambda schema: schema["title"]
    return llm


def rows(n: int) -> list[dict]:
    return [make_trajectory(f"t{i}", i % 2 == 0, ["search_direct_flight", "book_reservation"]).to_row() for i in range(n)]


def test_a_batch_runs_its_analyses_at_once_one_engine_request_each():
    llm = RecordingLLM(gate=4)
    with ThreadPoolExecutor(4) as pool:
        results = analyze_rows(rows(4), SKILL, llm, AnalystSettings(), pool)
    assert [r.trajectory_id for r in results] == ["t0", "t1", "t2", "t3"]  # row order, whatever finished first
    assert [r.status for r in results] == ["analyzed"] * 4
    assert llm.flight.calls == 4 and llm.flight.peak == 4


def test_the_pool_bounds_the_analyses_in_flight():
    llm = RecordingLLM(gate=2)
    with ThreadPoolExecutor(2) as pool:
        analyze_rows(rows(6), SKILL, llm, AnalystSettings(), pool)
    assert llm.flight.calls == 6 and llm.flight.peak == 2


def test_one_trajectory_that_fails_fails_alone():
    batch = rows(3)
    batch[2] = {**batch[2], "steps": "not steps"}  # a row that is no Trajectory
    with ThreadPoolExecutor(3) as pool:
        results = analyze_rows(batch, SKILL, RecordingLLM(fail_on="task t1"), AnalystSettings(), pool)
    assert [r.status for r in results] == ["analyzed", "failed", "failed"]
    assert results[1].reason == "analyst call failed: RuntimeError: cannot analyse task t1"
    assert results[2].reason.startswith("analyst call failed: ValidationError")


def test_a_failed_call_still_names_the_sibling():
    pairing = choose_sibling([make_trajectory("s1", True, ["book"]).to_row()], "k").model_dump_json()
    row = {**make_trajectory("t1", False, ["book"]).to_row(), PAIRING: pairing}
    failed = call_failed(row, ConnectionError("gone"))
    assert failed.status == "failed" and failed.sibling_id == "s1" and "ConnectionError: gone" in failed.reason


def test_the_embedded_engine_still_takes_one_call_at_a_time():
    llm = stub_embedded()
    with ThreadPoolExecutor(4) as pool:
        results = analyze_rows(rows(4), SKILL, llm, AnalystSettings(), pool)
    assert [r.status for r in results] == ["analyzed"] * 4
    assert llm._llama.flight.calls == 4 and llm._llama.flight.peak == 1
