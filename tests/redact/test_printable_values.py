"""Secret values drawn from the whole printable alphabet, in every position a credential is written.

A value after a credential key runs to the next white space or closing quote: whatever
characters it holds (``& < > : ; * %``...), none of them may survive redaction, and the
text before the value stays as it was.
"""

from __future__ import annotations

import json
import re
import string
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from trace2skill.redact import redact_text, redact_trajectory
from trace2skill.schema import Step, Trajectory

VISIBLE = "".join(c for c in string.printable if not c.isspace())
# Forms a value may take that name a credential rather than being one (documented in
# ``redact.patterns.is_placeholder`` and ``redact.scan.is_reference``/``code_like``): left out.
_NAMING = re.compile(
    r"[$<>{%/~.\[\"'`\\=-]"  # a reference, template, path, flag, quote (a quoted value: its own form), ``=>``, ``==`` (a comparison: code)
    r"|.*(?:\.\.\.|://|^arn:)"
    r"|[A-Za-z_][\w.]*\s*[(\[].*[)\]][,.;:)}\]]*"  # a call or an index: code
    r"|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+[,.;:)}\]]*\Z"  # a dotted name: code
)


def secret_like(value: str) -> bool:
    """A generated credential: a letter and a digit, 8 characters before any trailing punctuation
    (a token is at least 8), and not in a form that names one."""
    return (
        any(c.isalpha() for c in value)
        and any(c.isdigit() for c in value)
        and len(value.rstrip(",.;:)]}")) >= 8
        and _NAMING.match(value) is None
    )


VALUES = st.text(alphabet=VISIBLE, min_size=8, max_size=24).filter(secret_like)
SPACED = st.text(alphabet=string.printable.replace("\n", "").replace("\r", "").replace("\x0b", "").replace("\x0c", ""), min_size=8, max_size=24).filter(secret_like)
KEYS = st.sampled_from(["password", "DB_PASSWORD", "api_key", "client_secret", "SMTP_PASS", "auth_token"])
# A ``token`` value must look generated, without white space (the word is also a word-piece).
SPACED_KEYS = st.sampled_from(["password", "DB_PASSWORD", "api_key", "client_secret", "SMTP_PASS"])


def positions(key: str, value: str) -> list[tuple[str, str, str]]:
    """(text before, the value as written, text after) in each position a credential appears."""
    return [
        ("I checked the admin account and ", f"{key}={value}", "."),
        ("Then it failed: ", f"{key}={value}", ", so I retried."),
        ("The log line reads ", f"{key}: {value}", " and nothing else"),
        ("", f"{key.upper()}={value}", "\nREGION=eu-west-1\n"),
        ("db:\n  user: root\n  ", f"{key}: {value}", "\n  host: localhost\n"),
        ("GET /v1/me HTTP/1.1\nHost: api.example.com\n", f"X-Api-Key: {value}" if "pass" not in key.lower() else f"Proxy-Password: {value}", "\nAccept: */*\n"),
        ("https://api.example.com/v1/items?page=2&", f"{key}={quote(value, safe='')}", "&lang=fr"),
        ("postgres://app:", quote(value, safe=""), "@db.internal:5432/prod"),
        ("mysql -u root ", f"--{key.lower().replace('_', '-').removesuffix('-pass') + ('-password' if key.endswith('PASS') else '')} {value}", " shop"),
        ('{"cmd": "login ', f"{key}={json.dumps(value)[1:-1]}", ' --verbose"}'),
    ]


def _check(before: str, written: str, after: str, out: str) -> None:
    """``out`` is ``before``, the key, one placeholder, then the rest of ``after``: no character of the value."""
    assert out.startswith(before), (before + written + after, out)
    m = re.match(r"(.*?)\[REDACTED:\w+\]", out[len(before) :], re.DOTALL)
    assert m is not None, (before + written + after, out)
    assert written.startswith(m.group(1)), (written, out)  # the key, separator and user name stay
    rest = out[len(before) + m.end() :]
    assert after.endswith(rest), (before + written + after, out)  # a trailing period may go; the value may not stay


@settings(max_examples=300, deadline=None)
@given(KEYS, VALUES)
def test_printable_values_are_redacted_whole_in_every_position(key: str, value: str) -> None:
    for before, written, after in positions(key, value):
        out, counts = redact_text(before + written + after)
        assert sum(counts.values()) == 1, (before + written + after, out)
        _check(before, written, after, out)


@settings(max_examples=200, deadline=None)
@given(SPACED_KEYS, SPACED)
def test_quoted_values_with_any_printable_character_are_redacted(key: str, value: str) -> None:
    for text in (json.dumps({key: value, "user": "jdoe"}), json.dumps(json.dumps({key: value})), f"{key}: {json.dumps(value)}\n"):
        out, _ = redact_text(text)
        assert value not in out and json.dumps(value)[1:-1] not in out, (text, out)


@settings(max_examples=100, deadline=None)
@given(KEYS, VALUES)
def test_prose_credentials_never_reach_any_trajectory_field(key: str, value: str) -> None:
    carrier = f"I tried again and {key}={value}."
    steps = [
        Step(index=0, role="user", content=carrier),
        Step(index=1, role="assistant", kind="tool_call", tool_name="bash", tool_args=json.dumps({"cmd": carrier}), tool_call_id="call_1"),
        Step(index=2, role="tool", kind="observation", content=carrier, tool_call_id="call_1"),
    ]
    traj = Trajectory(id="t-1", source_format="test", task=carrier, steps=steps, metadata={"note": carrier, "log": [carrier]})
    dumped = redact_trajectory(traj).model_dump_json()
    assert value not in dumped and json.dumps(value)[1:-1] not in dumped
    assert '"t-1"' in dumped and '"call_1"' in dumped  # ids are not secrets
