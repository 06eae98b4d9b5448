"""Personal data redaction: e-mail addresses, phones, payment cards, IBANs, IP addresses, postal
addresses, birth dates and person names become typed placeholders (``<PERSON_1>``, ``<EMAIL_ADDRESS_2>``).

Detection is Presidio's (``presidio-analyzer`` recognizers: e-mail, phone numbers through
``phonenumbers``, cards with the Luhn check, IBANs with their checksum, IPs; pattern
recognizers for street addresses and dates written as birth dates), replacement is
``presidio-anonymizer`` with one operator per kind. No spaCy model is installable from the
package registry, so the recognizers run without an NLP engine and person names come from
the trajectory's structure (``redact.people``). Placeholders are consistent within a
trajectory: the same customer is ``<PERSON_1>`` in every step, so an analyst can still
follow them. Trajectory ids, tool call ids and tool names are not personal data and are
never scanned.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import pydantic_core
from pydantic import TypeAdapter

from trace2skill.redact.presidio_lite import (
    AnonymizerEngine,
    CreditCardRecognizer,
    EmailRecognizer,
    EntityRecognizer,
    IbanRecognizer,
    IpRecognizer,
    OperatorConfig,
    Pattern,
    PatternRecognizer,
    PhoneRecognizer,
    RecognizerResult,
)
from trace2skill.redact.people import iter_spans, structured_values, value_pattern
from trace2skill.schema import Trajectory

PERSONAL_KEY = "personal_data"
_DATE = r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|(?:\d{1,2}\s+)?[A-Z][a-z]{2,8}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\d{1,2}\s+[A-Z][a-z]{2,8}\s+\d{4})"
_STREET = (
    r"\b\d{1,6}[A-Za-z]?\s+(?:[A-Z][A-Za-z.'-]*\s+){1,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Parkway|Pkwy|Square|Sq|Circle|Cir|Highway|Hwy)\b\.?"
    r"(?:,?\s+(?:Apt|Suite|Unit|#)\s*\w+)?"
)


class _OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer without its TLD lookup: ``tldextract`` fetches the public suffix
    list over the network, which a worker may not reach. The pattern already requires a dotted domain."""

    def validate_result(self, pattern_text: str) -> bool:
        return True


@lru_cache(maxsize=1)
def _recognizers() -> tuple[EntityRecognizer, ...]:
    return (
        _OfflineEmailRecognizer(),
        PhoneRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        PatternRecognizer(
            supported_entity="ADDRESS",
            patterns=[Pattern("street address", _STREET, 0.6)],
            global_regex_flags=re.DOTALL | re.MULTILINE,
        ),
        PatternRecognizer(
            supported_entity="DATE_OF_BIRTH",
            patterns=[Pattern("birth date", rf"(?i:\b(?:date of birth|birth ?date|birthday|d\.?o\.?b\.?|born(?: on| in)?)\b\W{{0,4}}){_DATE}", 0.8)],
            global_regex_flags=re.DOTALL | re.MULTILINE,
        ),
    )


@lru_cache(maxsize=1)
def _anonymizer() -> AnonymizerEngine:
    return AnonymizerEngine()


_BIRTH_LABEL = re.compile(r"(?i)\b(?:date of birth|birth ?date|birthday|d\.?o\.?b\.?|born(?: on| in)?)\b\W{0,4}")


def _analyze(text: str) -> list[RecognizerResult]:
    """What Presidio's recognizers find in ``text`` (only texts with a digit or an ``@`` can hold any)."""
    if not any(c.isdigit() or c == "@" for c in text):
        return []
    results: list[RecognizerResult] = []
    for recognizer in _recognizers():
        for result in recognizer.analyze(text, recognizer.supported_entities, None):
            if result.entity_type == "DATE_OF_BIRTH":  # keep the label ("born on"), redact the date
                label = _BIRTH_LABEL.match(text, result.start)
                result.start = label.end() if label else result.start
            results.append(result)
    return results


class TrajectoryRedactor:
    """Replaces personal data in the texts of one trajectory, numbering each value once per kind."""

    def __init__(self, known: list[tuple[str, str]]) -> None:
        self.counts: Counter[str] = Counter()
        self._numbers: dict[tuple[str, str], str] = {}
        self._kind_of: dict[str, str] = {}
        values: list[str] = []
        parts: list[str] = []
        for kind, value in known:
            forms = {value, json.dumps(value)[1:-1]}  # and as written in JSON with \\u escapes
            if kind == "PERSON_PART" or (kind == "PERSON" and " " not in value.strip()):  # one word: maybe also a word
                parts.append(value)
                self._kind_of.setdefault(value.casefold(), "PERSON")
                continue
            values.extend(forms)
            for form in forms:
                self._kind_of.setdefault(form.casefold(), kind)
        self._pattern = value_pattern(values, parts)
        self._operators: dict[str, OperatorConfig] = {}

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, re.sub(r"[\s().+-]", "", value).casefold())
        if key not in self._numbers:
            n = sum(1 for k, _ in self._numbers if k == kind) + 1
            self._numbers[key] = f"<{kind}_{n}>"
        self.counts[kind] += 1
        return self._numbers[key]

    def _operator(self, kind: str) -> OperatorConfig:
        if kind not in self._operators:
            self._operators[kind] = OperatorConfig("custom", {"lambda": _bound(self._placeholder, kind)})
        return self._operators[kind]

    def text(self, text: str) -> str:
        """``text`` with its personal data replaced; the same object when there was none."""
        if not text:
            return text
        results = _analyze(text)
        for s, e in iter_spans(self._pattern, text):
            results.append(RecognizerResult(self._kind_of.get(text[s:e].casefold(), "PERSON"), s, e, 1.0))
        if not results:
            return text
        kinds = {r.entity_type for r in results}
        return _anonymizer().anonymize(text, results, {k: self._operator(k) for k in kinds}).text

    def value(self, value: Any) -> Any:
        """A JSON-like value with personal data replaced in every string it holds."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def _bound(fn: Callable[[str, str], str], kind: str) -> Callable[[str], str]:
    return lambda value: fn(kind, value)


def redact_personal_text(text: str) -> str:
    """``text`` with what Presidio's recognizers find replaced (no trajectory around it: a quarantined excerpt)."""
    return TrajectoryRedactor([]).text(text)


def redact_personal_data(traj: Trajectory) -> Trajectory:
    """A copy of ``traj`` with personal data replaced by typed placeholders in every text it carries.

    The task, each step's content and tool arguments, the metadata values and any other field
    (a grader's view); ids (trajectory, raw, tool call) and tool names are left as they are.
    ``metadata["personal_data"]`` holds the replacements per kind (absent when none).
    """
    steps = traj.steps
    texts = [traj.task, *(s.content for s in steps if s.content), *(s.tool_args for s in steps if s.tool_args)]
    user = [traj.task, *(s.content for s in steps if s.role == "user" and s.content)]
    metadata = {k: v for k, v in traj.metadata.items() if k != PERSONAL_KEY}
    others = {name: getattr(traj, name) for name in type(traj).model_fields if name not in _OWN_FIELDS and getattr(traj, name) is not None}
    plain_others = {name: _jsonable(v) for name, v in others.items()}
    redactor = TrajectoryRedactor(structured_values(texts, [metadata, plain_others], user))
    new_steps = []
    for step in steps:
        update = {name: redactor.text(getattr(step, name)) for name in ("content", "tool_args") if getattr(step, name)}
        changed = {k: v for k, v in update.items() if v is not getattr(step, k)}
        new_steps.append(step.model_copy(update=changed) if changed else step)
    update: dict[str, Any] = {"task": redactor.text(traj.task), "steps": new_steps, "metadata": redactor.value(metadata)}
    for name, plain in plain_others.items():
        redacted = redactor.value(plain)
        if redacted != plain:
            update[name] = TypeAdapter(type(traj).model_fields[name].annotation).validate_python(redacted)
    if redactor.counts:
        update["metadata"][PERSONAL_KEY] = dict(sorted(redactor.counts.items()))
    return traj.model_copy(update=update)


_OWN_FIELDS = frozenset({"id", "source_format", "source_file", "raw_id", "task", "steps", "success", "reward", "metadata"})


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, bool | int | float) else pydantic_core.to_jsonable_python(value)
