"""Personal data redaction at ingest: generated names, e-mails, phones, cards, IBANs, addresses and
birth dates, planted in every field of two formats, never leave ``read_file``; ids that are not
personal data survive, and placeholders are consistent within a trajectory."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from trace2skill.ingest import read_file
from trace2skill.redact.personal import PERSONAL_KEY, redact_personal_data
from trace2skill.schema import Step, Trajectory

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "demo"
NAME = st.text(alphabet=string.ascii_lowercase, min_size=4, max_size=9).map(str.capitalize)


def luhn(digits: str) -> str:
    """``digits`` with its Luhn check digit appended."""
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return digits + str((10 - total % 10) % 10)


def iban(bank: str, account: str) -> str:
    """A German IBAN with a valid check number."""
    bban = bank + account
    check = 98 - int(bban + "131400") % 97  # D=13, E=14, then "00"
    return f"DE{check:02d}{bban}"


@st.composite
def people(draw: st.DrawFn) -> dict[str, str]:
    first, last = draw(NAME), draw(NAME)
    return {
        "first": first,
        "last": last,
        "user_id": f"{first.lower()}_{last.lower()}_{draw(st.integers(1000, 999999))}",
        "email": f"{first.lower()}.{last.lower()}{draw(st.integers(1, 99))}@{draw(st.sampled_from(['gmail.com', 'example.org', 'acme.co.uk']))}",
        "phone": draw(st.sampled_from(["+1 415-555-{:04d}", "(212) 555-{:04d}", "+44 20 7946 {:04d}", "+49 30 1234{:04d}"])).format(draw(st.integers(0, 9999))),
        "card": luhn("4" + "".join(draw(st.lists(st.sampled_from(string.digits), min_size=14, max_size=14)))),
        "iban": iban(f"{draw(st.integers(10_000_000, 99_999_999))}", f"{draw(st.integers(10**9, 10**10 - 1))}"),
        "address": f"{draw(st.integers(1, 9999))} {draw(NAME)} {draw(st.sampled_from(['Street', 'Avenue', 'Road', 'Lane', 'Drive']))}",
        "dob": f"19{draw(st.integers(40, 99))}-{draw(st.integers(1, 12)):02d}-{draw(st.integers(1, 28)):02d}",
    }


def sentence(p: dict[str, str]) -> str:
    return (
        f"Thanks {p['first']} {p['last']}: I emailed {p['email']}, will call {p['phone']}, charged card {p['card']}, "
        f"wired to {p['iban']}, shipped to {p['address']}, and your date of birth {p['dob']} matches."
    )


def profile(p: dict[str, str]) -> str:
    return json.dumps({"user_id": p["user_id"], "name": {"first_name": p["first"], "last_name": p["last"]}, "email": p["email"],
                       "address": {"address1": p["address"], "city": "Springfield"}, "dob": p["dob"], "membership": "gold",
                       "reservations": ["K7WQ2M"]})


def openai_chat(p: dict[str, str]) -> dict:
    return {
        "messages": [
            {"role": "system", "content": "You are a support agent."},
            {"role": "user", "content": f"Hi, I'm {p['first']} {p['last']}, my user id is {p['user_id']}. {sentence(p)}"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "call_Ab12Cd34", "type": "function", "function": {
                "name": "get_user_details", "arguments": json.dumps({"user_id": p["user_id"], "note": sentence(p)})}}]},
            {"role": "tool", "tool_call_id": "call_Ab12Cd34", "content": profile(p)},
            {"role": "assistant", "content": sentence(p)},
        ],
        "metadata": {"customer": {"name": f"{p['first']} {p['last']}", "email": p["email"], "phone": p["phone"]}, "note": sentence(p)},
        "success": True,
    }


def tau_bench(p: dict[str, str]) -> list[dict]:
    chat = openai_chat(p)["messages"]
    return [{"task_id": 7, "reward": 0.0, "info": {"task": {"user_id": p["user_id"], "instruction": f"You are {p['first']} {p['last']}. {sentence(p)}"}},
             "traj": chat}]


CONTROL = {"first": "Zqxwv", "last": "Vkzqj", "user_id": "zqxwv_vkzqj_4242", "email": "zqxwv.vkzqj@example.org", "phone": "+1 415-555-0123",
           "card": luhn("4" + "1" * 14), "iban": iban("12345678", "1234567890"), "address": "12 Zqxwv Street", "dob": "1970-01-01"}


def vocabulary(folder: Path) -> set[str]:
    """Every word the read records hold besides the person's: a drawn name that is one of
    them ("Null", "Role") cannot be told from the document's own text."""
    (folder / "control.jsonl").write_text(json.dumps(openai_chat(CONTROL)) + "\n")
    (folder / "control.json").write_text(json.dumps(tau_bench(CONTROL)))
    text = " ".join(json.dumps(r.to_row()) for name in ("control.jsonl", "control.json") for r in read_file(folder / name, personal_data=True))
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def planted(p: dict[str, str]) -> list[str]:
    return [p["first"], p["last"], p["user_id"], p["email"], p["phone"], p["card"], p["iban"], p["address"], p["dob"]]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people())
def test_planted_personal_data_never_leaves_ingest(tmp_path_factory, p: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("pd")
    assume(not {p["first"].lower(), p["last"].lower(), p["address"].split()[1].lower()} & vocabulary(folder))
    (folder / "chat.jsonl").write_text(json.dumps(openai_chat(p)) + "\n")
    (folder / "tau.json").write_text(json.dumps(tau_bench(p)))
    for path in (folder / "chat.jsonl", folder / "tau.json"):
        records = list(read_file(path, personal_data=True))
        assert records and all(isinstance(r, Trajectory) for r in records)
        for record in records:
            dumped = json.dumps(record.to_row(), ensure_ascii=False)
            for value in planted(p):
                # As a word, in any case: a short drawn name may be part of a word ("Assi" in "assistant").
                assert not re.search(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", dumped, re.IGNORECASE), (value, path.name, dumped[:2000])
            assert record.id in dumped and "call_Ab12Cd34" in dumped and "K7WQ2M" in dumped  # ids that are not someone's
            assert record.metadata[PERSONAL_KEY]["PERSON"] >= 1


def test_placeholders_are_consistent_within_a_trajectory() -> None:
    steps = [
        Step(index=0, role="user", content="Hi, I'm Priya Patel, priya@example.com"),
        Step(index=1, role="tool", kind="observation", content=json.dumps({"name": "Priya Patel", "email": "priya@example.com", "user_id": "priya_patel_441060a"})),
        Step(index=2, role="assistant", content="Done, Priya. I wrote to PRIYA@example.com about priya_patel_441060a."),
    ]
    out = redact_personal_data(Trajectory(id="t-1", source_format="test", task="help", steps=steps))
    assert out.steps[0].content == "Hi, I'm <PERSON_1>, <EMAIL_ADDRESS_1>"
    assert out.steps[2].content == "Done, <PERSON_2>. I wrote to <EMAIL_ADDRESS_1> about <USER_ID_1>."
    assert json.loads(out.steps[1].content) == {"name": "<PERSON_1>", "email": "<EMAIL_ADDRESS_1>", "user_id": "<USER_ID_1>"}


def test_words_that_are_also_names_survive_in_lower_case() -> None:
    steps = [
        Step(index=0, role="tool", kind="observation", content=json.dumps({"first_name": "May", "last_name": "Long"})),
        Step(index=1, role="assistant", content="May, you may change the flight; it is a long trip."),
    ]
    out = redact_personal_data(Trajectory(id="t-1", source_format="test", task="help", steps=steps))
    assert re.fullmatch(r"<PERSON_\d>, you may change the flight; it is a long trip\.", out.steps[1].content)


def test_the_switch_leaves_synthetic_data_as_read() -> None:
    path = EXAMPLES / "tau_bench_results.json"
    raw = list(read_file(path))
    assert all(PERSONAL_KEY not in r.metadata for r in raw)
    redacted = list(read_file(path, personal_data=True))
    assert all(r.metadata[PERSONAL_KEY]["PERSON"] >= 1 for r in redacted)
    assert [r.id for r in raw] == [r.id for r in redacted]
