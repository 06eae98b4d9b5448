"""New skills' names and descriptions: distinctive words of their tasks, never an id or a name."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.library.families import BROWSING, DATA, airline
from trace2skill.library.naming import (
    MAX_NAME_CHARS,
    keywords,
    new_description,
    skill_name,
)
from trace2skill.skill.folder import minimal_skill
from trace2skill.skill.validate import validate_skill


def test_keywords_are_the_groups_distinctive_words_without_ids_codes_names_or_numbers():
    air = list(dict.fromkeys(r.task for r in airline()))  # unique tasks, as route() gives them
    words = keywords([air, DATA, BROWSING])
    assert words[0][:3] == ["reservation", "user", "cancel"]
    assert words[1][:2] == ["table", "query"] and words[2][:2] == ["website", "page"]
    everything = {w for ws in keywords([air, DATA, BROWSING], top=10_000) for w in ws}
    assert not {"3yf8ka", "benjamin", "clark", "hat207", "may", "2023", "the"} & everything  # codes, a name, months, numbers, stop words
    assert all(w.isalpha() for w in everything)


def test_names_are_kebab_case_unique_and_valid_skills():
    taken = {"reservation-user-cancel"}
    assert skill_name(["table", "query", "sql", "orders"], set()) == "table-query-sql"
    assert skill_name(["reservation", "user", "cancel", "flight"], taken) == "reservation-user-cancel-flight"
    assert skill_name(["reservation", "user", "cancel"], taken) == "reservation-user-cancel-2"
    assert skill_name([], set()) == "tasks"
    for name in ("table-query-sql", "reservation-user-cancel-2", "tasks"):
        assert validate_skill(minimal_skill(name, new_description(["table", "query", "sql"]))) == []


def test_the_new_description_says_when_to_use_the_skill():
    assert new_description(["table", "query", "sql", "orders"]) == "Handles tasks about table, query, sql and orders. Use when a task involves table, query or sql."
    assert "Use when" in new_description([])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789-_ ", max_size=30), max_size=8), st.sets(st.text(alphabet="abc-", max_size=6), max_size=5))
def test_any_words_give_a_valid_unused_name(words, taken):
    name = skill_name(words, taken)
    assert name not in taken and 0 < len(name) <= MAX_NAME_CHARS
    assert name == name.lower() and "--" not in name and not name.startswith("-") and not name.endswith("-")
    assert all(c.isalnum() or c == "-" for c in name)
