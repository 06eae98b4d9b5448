"""Personal data a trajectory states by its structure: who the customer is, where they live, when they were born.

No NER model can be installed from the package registry here, so person names (and the user
ids, addresses and birth dates that go with them) are read where the trajectory says what
they are: fields of JSON records (``name``, ``first_name``/``last_name``, ``user_id``,
``address1``, ``dob``) in tool outputs, arguments and metadata, and self-introductions in what
the user writes (``I'm Priya Patel``, ``my user id is priya_patel_441060a``). Every value
found is then redacted wherever it occurs in the trajectory, in any casing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import pydantic_core

# JSON keys whose string value is personal data, by placeholder kind (keys compared lower-case,
# without ``_``/``-``).
KEY_KINDS = {
    **dict.fromkeys(
        ("name", "firstname", "lastname", "fullname", "givenname", "familyname", "surname", "middlename",
         "customername", "passengername", "contactname", "displayname", "holdername", "cardholdername"),
        "PERSON",
    ),
    **dict.fromkeys(("userid", "username", "customerid", "login", "userhandle"), "USER_ID"),
    **dict.fromkeys(("address", "address1", "address2", "addressline1", "addressline2", "street", "streetaddress",
                     "zip", "zipcode", "postalcode", "postcode"), "ADDRESS"),
    **dict.fromkeys(("dob", "dateofbirth", "birthdate", "birthday"), "DATE_OF_BIRTH"),
    **dict.fromkeys(("email", "emailaddress"), "EMAIL_ADDRESS"),
    **dict.fromkeys(("phone", "phonenumber", "mobile", "telephone"), "PHONE_NUMBER"),
}
# Keys of records that are not about a person even when they carry a ``name`` (a tool, a file,
# a function): their ``name`` is not a person's.
_NOT_PERSON_PARENTS = frozenset({"function", "tool", "tools", "file", "files", "tool_calls", "functions", "module", "package"})

_NAME_WORD = r"[A-Z][a-z'\u00e0-\u00ff]+(?:-[A-Z][a-z]+)?"
_INTRO = re.compile(
    rf"\b(?:[Mm]y name is|[Mm]y name's|I'm|I am|[Tt]his is|[Ii]t's|[Nn]ame:)\s+(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})"
)
_USER_ID_INTRO = re.compile(r"\b(?:user ?id|username|I'm|I am|this is|account)(?: is|:)?\s+(?P<id>[a-z]+_[a-z]+_[0-9a-z]*[0-9][0-9a-z]*)\b", re.IGNORECASE)
# A user id made of a person's names and a number (``priya_patel_441060a``).
_NAMED_ID = re.compile(r"\b(?P<first>[a-z]+)_(?P<last>[a-z]+)_[0-9a-z]*[0-9][0-9a-z]*\b")
# Capitalised words after ``I'm`` that are states, not names.
_NOT_NAMES = frozenset(
    "sorry sure afraid glad happy here not just trying calling looking writing new done ready still also going unable "
    "okay ok fine good interested confused available the a an".split()
)


def _flat(key: str) -> str:
    return re.sub(r"[_\-\s]", "", key).lower()


def _walk(value: Any, parent: str, found: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            kind = KEY_KINDS.get(_flat(str(key)))
            if kind is not None and isinstance(inner, str) and inner.strip():
                if not (kind == "PERSON" and _flat(parent) in _NOT_PERSON_PARENTS):
                    found.append((kind, inner.strip()))
            elif kind == "PERSON" and isinstance(inner, dict):  # "name": {"first_name": ..., "last_name": ...}
                _walk(inner, "person", found)
                continue
            elif kind == "ADDRESS" and isinstance(inner, dict):  # "address": {"address1": ..., "city": ...}
                found.extend(("ADDRESS", v.strip()) for k, v in inner.items() if isinstance(v, str) and _flat(str(k)) in KEY_KINDS and v.strip())
                continue
            _walk(inner, str(key), found)
    elif isinstance(value, list):
        for inner in value:
            _walk(inner, parent, found)
    elif isinstance(value, str) and value.lstrip()[:1] in ("{", "[") and len(value) < 2_000_000:
        try:
            parsed = pydantic_core.from_json(value)
        except ValueError:
            return
        _walk(parsed, parent, found)


def structured_values(texts: Iterable[str], records: Iterable[Any], user_texts: Iterable[str]) -> list[tuple[str, str]]:
    """(kind, value) of the personal data a trajectory states by structure.

    ``texts``: every text of the trajectory (JSON among them is parsed); ``records``: its
    JSON-like values (metadata, a grader's view); ``user_texts``: what the user wrote, where
    self-introductions are read. The names of a user id built from names count as names. Each
    word of a name is also returned alone as ``PERSON_PART`` (lower case): it is redacted where
    it is written capitalised (``Omar``, ``OMAR``), as a word that is also a name (``May``)
    is not redacted in lower case.
    """
    found: list[tuple[str, str]] = []
    for record in records:
        _walk(record, "", found)
    texts = list(texts)
    for text in texts:
        _walk(text, "", found)
    for text in user_texts:
        for m in _INTRO.finditer(text):
            words = m.group("name").split()
            while words and words[-1].lower() in _NOT_NAMES:
                words.pop()
            if words and words[0].lower() not in _NOT_NAMES:
                found.append(("PERSON", " ".join(words)))
        found.extend(("USER_ID", m.group("id")) for m in _USER_ID_INTRO.finditer(text))
    names = {part.lower() for kind, value in found if kind == "PERSON" for part in re.split(r"[\s,]+", value) if len(part) >= 2}
    for kind, value in list(found):
        if kind == "USER_ID" and (m := _NAMED_ID.fullmatch(value)):
            names.update((m.group("first"), m.group("last")))
    for text in texts:
        for m in _NAMED_ID.finditer(text):
            if m.group("first") in names and m.group("last") in names:
                found.append(("USER_ID", m.group(0)))
    found.extend(("PERSON_PART", name) for name in sorted(names) if len(name) >= 3 and name not in _NOT_NAMES)
    return list(dict.fromkeys((kind, value) for kind, value in found if _worth(kind, value)))


def _worth(kind: str, value: str) -> bool:
    """A value long enough to be someone's (not ``"A"``, a bare ``"12"``) and not a placeholder already."""
    return len(value) >= 2 and not value.startswith("<") and not (kind == "ADDRESS" and len(value) < 4)


def value_pattern(values: Iterable[str], parts: Iterable[str] = ()) -> re.Pattern[str] | None:
    """One regex matching each value as a whole word in any casing, and each name part capitalised, or None if none."""
    whole = [re.escape(v) for v in sorted(set(values), key=len, reverse=True)]
    capitalised = [re.escape(w) for p in sorted(set(parts), key=len, reverse=True) for w in (p.capitalize(), p.upper())]
    alternatives = [f"(?i:{'|'.join(whole)})"] if whole else []
    alternatives += capitalised
    if not alternatives:
        return None
    return re.compile(r"(?<![\w])(?:" + "|".join(alternatives) + r")(?![\w])")


def iter_spans(pattern: re.Pattern[str] | None, text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each match of ``pattern`` in ``text``."""
    if pattern is not None:
        for m in pattern.finditer(text):
            yield m.span()
