"""Inspect AI eval logs in JSON (``inspect eval --log-format json``, or ``inspect log convert``).

``{version, status, eval{task, model, ...}, plan, results, stats, samples: [{id, epoch,
input, target, messages, output, scores{scorer: {value, answer, explanation}}, metadata,
error}]}``. Messages have roles ``system``/``user``/``assistant``/``tool``; content is a
string or a list of parts (``text``, ``reasoning``, ``image``...); assistant tool calls
are ``{id, function, arguments (object)}``, tool results ``{tool_call_id, function,
content, error}``. One trajectory per sample and epoch. The binary ``.eval`` log format
(a zip) is not read: convert it to JSON first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from trace2skill.ingest import jsonhead
from trace2skill.ingest.base import (
    Format,
    Outcome,
    Record,
    RecordError,
    Source,
    clip,
    id_value,
    json_type,
    make_trajectory,
    optional_list,
    optional_str,
    resolve_outcome,
)
from trace2skill.ingest.jsonfile import load_json_document, record_object, stream_array, top_level_event, top_level_value
from trace2skill.ingest.steps import add_assistant_text, add_named_calls, add_result, content_text, new_step, objects
from trace2skill.schema import Step, Trajectory

NAME = "inspect_ai"
# Inspect's own reading of its letter grades (``value_to_float``): correct, incorrect, partial, no answer.
GRADES = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0, "yes": 1.0, "no": 0.0, "true": 1.0, "false": 0.0}


def score_value(value: Any) -> float | None:
    """A scorer's value as a number the way Inspect reads it; ``None`` for values with no single number (dicts, lists)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if value.strip() in GRADES or value.strip().lower() in GRADES:
            return GRADES.get(value.strip(), GRADES.get(value.strip().lower()))
        try:
            return float(value)
        except ValueError:
            raise RecordError(f"score value {value!r} is not a grade Inspect knows (C, I, P, N) or a number") from None
    return None


def _outcome(sample: dict[str, Any], source: Source) -> Outcome:
    scores = sample.get("scores")
    if not isinstance(scores, dict) or not scores:
        return None, None
    first = next(iter(scores.values()))  # Inspect's headline metric is the first scorer's
    if not isinstance(first, dict):
        raise RecordError(f"score is {json_type(first)}, expected an object")
    return resolve_outcome(None, score_value(first.get("value")), source.success_threshold)


def _content(msg: dict[str, Any], where: str) -> tuple[str, str]:
    """(text, reasoning) of a message's content; reasoning parts are kept apart from the text."""
    content = msg.get("content")
    if not isinstance(content, list):
        return content_text(content, where), ""
    reasoning = [str(p.get("reasoning") or "") for p in content if isinstance(p, dict) and p.get("type") == "reasoning"]
    rest = [p for p in content if not (isinstance(p, dict) and p.get("type") == "reasoning")]
    return content_text(rest, where), "\n".join(r for r in reasoning if r)


def messages_to_steps(messages: Any) -> list[Step]:
    """Steps of an Inspect sample's ``messages``, in order."""
    steps: list[Step] = []
    names: dict[str, str] = {}
    for where, msg in objects(messages, "'messages' is", "message"):
        role = msg.get("role")
        text, reasoning = _content(msg, where)
        if role == "tool":
            error = msg.get("error")
            if isinstance(error, dict) and error.get("message"):
                text = "\n".join(t for t in (text, f"[error] {error['message']}") if t)
            add_result(steps, names, text, optional_str(msg, "tool_call_id", where), optional_str(msg, "function", where))
        elif role == "assistant":
            calls = optional_list(msg, "tool_calls", where)
            add_assistant_text(steps, text, reasoning, calls)
            add_named_calls(steps, names, calls, where, "function", "id")
        elif role in ("system", "user"):
            steps.append(new_step(index=len(steps), role=role, content=text))
        else:
            raise RecordError(f"{where} has unknown role {role!r}")
    return steps


def sample_to_trajectory(sample: Any, source: Source, location: str, header: dict[str, Any]) -> Trajectory:
    """Convert one sample of the log; raises RecordError with the quarantine reason."""
    record_object(sample, "sample")
    sample_id = id_value(sample, "id")
    epoch = sample.get("epoch") if isinstance(sample.get("epoch"), int) else 1
    steps = messages_to_steps(sample.get("messages"))
    task = sample.get("input") if isinstance(sample.get("input"), str) else None
    metadata: dict[str, Any] = {"task_id": sample_id, "epoch": epoch, **{k: header[k] for k in ("task", "model", "run_id") if header.get(k)}}
    if sample.get("target") not in (None, "", []):
        metadata["target"] = json.dumps(sample["target"], ensure_ascii=False)  # what the scorer expected: the grader's view
    if isinstance(sample.get("scores"), dict) and sample["scores"]:
        metadata["scores"] = json.dumps(sample["scores"], ensure_ascii=False)
    if sample.get("error"):
        metadata["error"] = clip(json.dumps(sample["error"], ensure_ascii=False), 2000)  # a whole word or none: a cut secret escapes redaction
    return make_trajectory(source, raw_id=f"{sample_id}:{epoch}", location=location, steps=steps, task=task, outcome=_outcome(sample, source), metadata=metadata)


def read(source: Source) -> Iterator[Record]:
    """One record per sample (``item N``), the samples array streamed; a log without samples is one quarantined record."""
    if top_level_event(source.path, "samples") == "start_array":
        header = top_level_value(source.path, "eval")
        yield from stream_array(source, sample_to_trajectory, header if isinstance(header, dict) else {}, key="samples")
        return
    doc, bad = load_json_document(source, dict)  # blank (nothing), another encoding, broken JSON: one clear record
    if bad is not None:
        yield bad
    elif doc is not None:
        yield source.quarantine("file", "the log has no 'samples' array (written without samples, or not finished?)")


def sniff(head: str) -> bool:
    """A JSON object with ``version`` and ``eval``, and ``status`` or ``plan``: an Inspect log."""
    doc = jsonhead.view(head).document
    return doc is not None and doc.has("version", "eval") and doc.any("status", "plan")


FORMAT = Format(
    name=NAME,
    description="Inspect AI JSON eval log: {version, status, eval, plan, results, samples: [{id, epoch, messages, scores}]}",
    suffixes=(".json",),
    sniff=sniff,
    read=read,
)
