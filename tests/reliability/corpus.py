"""Small synthetic corpora for the reliability tests, and readers of a run's outputs.

Records are OpenAI chat JSONL, small on purpose (a few steps each), so that thousands of
them go through the real pipeline in seconds; ``random.Random(seed)`` makes every corpus
the same on every run.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

TOOLS = ("get_order", "refund_payment", "cancel_booking", "update_address", "search_flights", "send_invoice")


def chat_record(rng: random.Random, index: int, *, outcome: bool | None, extra_user: str = "", extra_observation: str = "") -> dict:
    """One short support-agent run: a system prompt, a task, one to three tool calls, an answer."""
    tools = rng.sample(TOOLS, rng.randint(1, 3))
    messages: list[dict] = [
        {"role": "system", "content": "You are a support agent. Follow the policy."},
        {"role": "user", "content": f"Please help with request {index}: {rng.choice(['refund', 'cancel', 'move'])} order O{index:05d}.{extra_user}"},
    ]
    for n, tool in enumerate(tools):
        call_id = f"call_{index}_{n}"
        args = json.dumps({"order_id": f"O{index:05d}", "n": n})
        messages.append({"role": "assistant", "content": None, "tool_calls": [{"id": call_id, "type": "function", "function": {"name": tool, "arguments": args}}]})
        observation = json.dumps({"ok": rng.random() > 0.2, "order": f"O{index:05d}"}) + extra_observation
        messages.append({"role": "tool", "tool_call_id": call_id, "content": observation})
    messages.append({"role": "assistant", "content": "Done, anything else?"})
    record: dict = {"id": f"run-{index}", "messages": messages}
    if outcome is not None:
        record["success"] = outcome
    return record


def chat_corpus(n: int, seed: int = 0, *, unknown_every: int = 25, broken_every: int = 50) -> Iterator[str]:
    """``n`` JSONL lines: mostly runs with a known outcome (60% failures), one in
    ``unknown_every`` without one (``no_lesson``) and one in ``broken_every`` not JSON
    (``quarantined``)."""
    rng = random.Random(seed)
    for i in range(n):
        if broken_every and i % broken_every == broken_every - 1:
            yield '{"messages": [{"role": "user", "content": "cut off'
            continue
        outcome = None if unknown_every and i % unknown_every == unknown_every - 1 else rng.random() < 0.4
        yield json.dumps(chat_record(rng, i, outcome=outcome))


def write_lines(path: Path, lines: Iterator[str] | list[str]) -> int:
    """Write ``lines`` as a JSONL file; return how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line + "\n")
            count += 1
    return count


def output_texts(out_dir: Path) -> dict[str, str]:
    """Every file under ``out_dir`` as text: Parquet files decoded row by row, others as read
    (undecodable bytes replaced), keyed by their path relative to ``out_dir``; the parts of a
    dataset folder (``run/trajectories.parquet/part-*.parquet``) are one text under the folder's path."""
    texts: dict[str, str] = {}
    for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(out_dir).as_posix()
        if path.suffix == ".parquet":
            key = path.parent.relative_to(out_dir).as_posix() if path.parent.suffix == ".parquet" else rel
            texts[key] = "\n".join(filter(None, [texts.get(key, ""), *_strings(pq.read_table(path).to_pylist())]))
        else:
            texts[rel] = path.read_bytes().decode("utf-8", "replace")
    return texts


def _strings(value: object) -> Iterator[str]:
    """Every string inside a decoded Parquet value (rows, structs, lists), unescaped."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
