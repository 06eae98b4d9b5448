"""Credential key names: the names (``api_key``, ``SMTP_PASS``, ``Authorization``...) that mark
the value after them as a secret, as a regex look-behind and as a redaction kind."""

from __future__ import annotations

import re

# Words a credential key ends with, case-insensitively; a space inside matches " ", "_",
# "-" or nothing (``api key``: ``api_key``, ``API-Key``, ``apiKey``, ``API Key``).
KEY_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "credentials",
    "api key",
    "access key",
    "private key",
    "secret key",
    "auth key",
    "encryption key",
    "signing key",
    "master key",
    "authorization",
)
# Upper-case-only key endings (env variables such as ``SMTP_PASS``, ``MYSQL_PWD``):
# in lower case they are ordinary words (``first_pass``) or the working directory (``PWD``).
UPPER_KEY_ENDINGS = ("_PASS", "-PASS", "_PWD", "-PWD")
# What may stand between a key and its separator (``"api_key": ``, ``\\"token\\":``,
# ``password = ``, a quote escaped twice for JSON inside JSON inside JSON), by width.
GAPS = {
    0: ("",),
    1: (" ", '"', "'"),
    2: ('\\"', '" ', "' "),
    3: ('\\" ', '\\\\"'),
    4: ('\\\\\\"',),
}

def _ci(word: str) -> str:
    """Regex for ``word``, case-insensitive letter by letter (keeps each branch a plain class)."""
    out = []
    for ch in word:
        if ch.isalpha():
            out.append(f"[{ch.upper()}{ch.lower()}]")
        elif ch == " ":
            out.append("[ _-]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def key_variants() -> list[tuple[int, str]]:
    """(width, regex) of every spelling of every credential key ending."""
    variants: set[tuple[int, str]] = set()
    for word in KEY_WORDS:
        variants.add((len(word), _ci(word)))
        if " " in word:
            variants.add((len(word.replace(" ", "")), _ci(word.replace(" ", ""))))
    for ending in UPPER_KEY_ENDINGS:
        variants.add((len(ending), re.escape(ending)))
    return sorted(variants)


def key_lookbehind(sep: str) -> str:
    """Zero-width test, placed right after the separator ``sep``, that a credential key precedes it.

    It runs at every ``:`` and ``=``, so it is built to fail fast: per gap width, one
    look-behind on the last three characters of the key; only when that passes are the
    full key spellings tried (one look-behind per key width).
    """
    variants = key_variants()
    tail = "(?:" + "|".join(sorted({_tail3(regex) for _, regex in variants})) + ")"
    by_width: dict[int, list[str]] = {}
    for width, regex in variants:
        by_width.setdefault(width, []).append(regex)
    sep_rx = re.escape(sep)
    branches = []
    for gap_width, gaps in GAPS.items():
        gap = "(?:" + "|".join(re.escape(g) for g in gaps) + ")" if gap_width else ""
        full = "|".join(f"(?<=(?:{'|'.join(regexes)}){gap}{sep_rx})" for _, regexes in sorted(by_width.items()))
        branches.append(f"(?<={tail}{gap}{sep_rx})(?:{full})")
    # Gaps of 2+ characters all end in a quote then a space or quote: one test skips them
    # for the common ``"key":``.
    rare = f"(?<=[\\\\\"'][ \"']{sep_rx})(?:{'|'.join(branches[2:])})"
    return "(?:" + "|".join([*branches[:2], rare]) + ")"


def _tail3(regex: str) -> str:
    """The regex of the last three characters of a key spelling built by ``_ci`` or ``re.escape``."""
    return "".join(re.findall(r"\[[^\]]*\]|\\.|.", regex)[-3:])


KEY_NAME = re.compile(
    "(?:" + "|".join(regex for _, regex in key_variants()) + r")\Z"
)


def key_kind(key: str) -> str | None:
    """The redaction kind of a value stored under ``key``, or None if the key is not a credential name."""
    if not KEY_NAME.search(key):
        return None
    flat = re.sub(r"[ _-]", "", key).lower()
    if flat.endswith("authorization"):
        return "authorization"
    if flat.endswith("secretaccesskey"):
        return "aws_secret_access_key"
    if flat.endswith(("password", "passwd", "passphrase", "pass", "pwd")):
        return "password"
    if flat.endswith("token"):
        return "token"
    if flat.endswith("apikey"):
        return "api_key"
    return "secret"
