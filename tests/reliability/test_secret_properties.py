"""Generated credentials in every position agents leak them, in every field of every format, never survive
redaction; generated ids in the same places always do.

The generators (``benchmarks/secrets_corpus.py``) draw each credential kind over its real alphabet and
length and write it the way producers do (``env``, ``export``, JSON, YAML, INI, HTTP headers, URLs, CLI
flags, prose). Hypothesis picks the seeds, the kinds and the positions. The CI variants run a few hundred
cases each; the ``soak`` variant runs 100,000 (``pytest -m soak``; ``benchmarks/redaction.py`` prints the
same figures as a table).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import secrets_corpus as corpus
from benchmarks.redaction import TRAJECTORY_FIELDS, carrying, measure
from tests.ingest.helpers import DATA
from trace2skill.ingest import detect_format, discover_files, read_file
from trace2skill.redact import KINDS, redact_text, redact_trajectory

CI = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SOAK_CASES = 100_000

seeds = st.integers(min_value=0, max_value=2**32 - 1)
kinds = st.sampled_from(sorted(corpus.GENERATORS))
positions = st.sampled_from(corpus.POSITIONS)


def test_every_kind_has_a_generator() -> None:
    assert set(corpus.GENERATORS) == set(KINDS)


@CI
@given(seed=seeds, kind=kinds, position=positions)
def test_no_generated_credential_survives_in_any_position(seed: int, kind: str, position: str) -> None:
    case = corpus.place(random.Random(seed), kind, position)
    out, counts = redact_text(case.text)
    assert not corpus.leaked(case, out), (case.text, out)
    assert sum(counts.values()) >= 1


@CI
@given(seed=seeds, kind=kinds, position=positions)
def test_generated_ids_survive_next_to_a_credential(seed: int, kind: str, position: str) -> None:
    rng = random.Random(seed)
    ids = corpus.ids(rng)
    case = corpus.place(rng, kind, position)
    text = f"{case.text}\n{corpus.id_text(rng, ids, position)}"
    out, _ = redact_text(text)
    lost = [v for v in ids.values() if v in text and v not in out]
    assert lost == [], (text, out)
    assert not corpus.leaked(case, out)


@CI
@given(seed=seeds, position=positions)
def test_generated_ids_alone_are_never_redacted(seed: int, position: str) -> None:
    text = corpus.id_text(random.Random(seed), corpus.ids(random.Random(seed)), position)
    assert redact_text(text) == (text, Counter())


# --- every field type of a trajectory -------------------------------------------------------


@CI
@given(seed=seeds, kind=kinds, position=positions, field=st.sampled_from(TRAJECTORY_FIELDS))
def test_no_generated_credential_survives_in_any_trajectory_field(seed: int, kind: str, position: str, field: str) -> None:
    case = corpus.place(random.Random(seed), kind, position)
    out = redact_trajectory(carrying(field, case.text))
    dumped = json.dumps(out.to_row(), ensure_ascii=False)
    assert not corpus.leaked(case, dumped) and not corpus.leaked(case, out.model_dump_json()), (field, case.text)
    assert out.metadata["redactions"]


# --- every field of every format, through read_file -----------------------------------------

FIXTURES = [p for p in discover_files([DATA]) if p.name != "labels.jsonl" and "truncated" not in p.name]


def _string_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Paths of the string values inside ``node`` (and of keys' values that are strings)."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _string_paths(v, (*prefix, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _string_paths(v, (*prefix, i))]
    return [prefix] if isinstance(node, str) else []


def _documents(path: Path) -> tuple[list[Any], bool]:
    text = path.read_text(encoding="utf-8")
    try:
        return [json.loads(text)], False
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip() and _is_json(line)], True


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: str(p.relative_to(DATA)))
@FILES
@given(seed=seeds, kind=kinds, position=positions, pick=st.integers(min_value=0), replace=st.booleans())
def test_no_generated_credential_survives_in_any_field_of_any_format(tmp_path: Path, fixture: Path, seed: int, kind: str, position: str, pick: int, replace: bool) -> None:
    docs, jsonl = _documents(fixture)
    paths = [(d, p) for d, doc in enumerate(docs) for p in _string_paths(doc)]
    d, where = paths[pick % len(paths)]
    case = corpus.place(random.Random(seed), kind, position)
    node = docs[d]
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = case.text if replace else f"{node[where[-1]]}\n{case.text}"
    target = tmp_path / fixture.relative_to(DATA)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(json.dumps(x) for x in docs) if jsonl else json.dumps(docs[0]), encoding="utf-8")
    records = list(read_file(target, fmt=detect_format(fixture)))
    dumped = "\n".join(r.model_dump_json() for r in records)
    assert not corpus.leaked(case, dumped), (fixture.name, where, case.text)


# --- 100,000 cases --------------------------------------------------------------------------


@pytest.mark.soak
def test_soak_hundred_thousand_generated_cases() -> None:
    result = measure(SOAK_CASES)
    assert result["cases"] == SOAK_CASES
    assert result["leaked"] == 0, (result["leaks_by_kind"], result["leaks_by_position"])
    assert result["ids_kept"] == result["ids"] > SOAK_CASES
