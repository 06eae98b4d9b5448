"""Scanning text for secrets with the compiled pattern, and replacing them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from trace2skill.redact.keys import KEY_NAME, key_kind
from trace2skill.redact.patterns import (
    AUTH_SCHEMES,
    PATTERN,
    PLACEHOLDER,
    POSITION_KINDS,
    RULES,
    format_kind,
    is_placeholder,
    token_value,
)
from trace2skill.redact.values import key_line, value_span

_URL_OR_ARN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|arn:")
_PATH = re.compile(r"(?:~|\.{1,2})?/[^\s]*|[A-Za-z]:\\[^\s]*")
_KEY_FILE = re.compile(r"\.(?:pem|key|json|p12|pfx|crt|cer|der|jks|ppk|pub|txt|env|gpg|asc)", re.IGNORECASE)
_PATH_KEY = re.compile(r"file|path|dir|location", re.IGNORECASE)
# In an assignment (``password = self.password``, ``f(token=get_token())``), code names a value.
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_CALL = re.compile(r"[A-Za-z_][\w.]*\s*(?:\(.*\)|\[.*\])", re.DOTALL)
# After ``name:`` in source code a type, not a value: ``token: Optional[str] = None``.
_ANNOTATION = re.compile(r"(?:Optional|Union|List|Dict|Tuple|Set|Any|Callable|Literal|SecretStr|str|bytes|int|bool|list|dict)\b(?![-@])")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_FLAG = re.compile(r"--?[A-Za-z][A-Za-z0-9-]*")


def is_reference(key: str, value: str) -> bool:
    """Whether ``value``, stored under credential key ``key``, names a credential instead of being one.

    A placeholder, ``${VAR}``/``$VAR``, a template, a mask, the key's own name, a URL or ARN (where
    a secret store keeps it), or a file path when the key says file/path or the path ends in a key
    file's extension (``~/.ssh/id_rsa.pub``, ``/secrets/sa.json``).
    """
    if is_placeholder(value) or value.lower() == key.lower() or _URL_OR_ARN.match(value):
        return True
    return _PATH.fullmatch(value) is not None and (_PATH_KEY.search(key) is not None or _KEY_FILE.search(value[-8:]) is not None)


def is_credential_value(kind: str, key: str, value: str) -> bool:
    """Whether ``value``, stored under credential key ``key``, is the credential itself: anything not a reference.

    Whatever its first character; but a run of punctuation shorter than 8 is code around the
    key (``getpass('Password: ')`` read as key, separator and ``")``), and a ``token`` value
    must look generated (the word is also a word-piece: ``{"token": "Hello"}``).
    """
    if is_reference(key, value) or (len(value) < 8 and not any(c.isalnum() for c in value)):
        return False
    return token_value(value) if kind == "token" else True


def code_like(value: str, sep: str) -> bool:
    """Whether an unquoted value after ``key=`` or ``key:`` is written like code: a dotted name, a call,
    an index, or (after ``:``) a type annotation."""
    if sep == ":":
        return _ANNOTATION.match(value) is not None
    return _DOTTED.fullmatch(value) is not None or _CALL.fullmatch(value) is not None


def _code(text: str, key_start: int, sep: int, value: str, line_start: str) -> bool:
    """Whether an unquoted ``key=value`` / ``key: value`` is code (``self.password``, ``f(token=t)``, a type)."""
    before = text[key_start - 1 : key_start] if key_start else ""
    if before in ("-", "?", "&", ";", "/") or text[key_start] == "-":
        return False  # --flag=, a URL query, a connection string: values, never code
    if text[sep] == "=" and text[sep - 1 : sep] != " " and text[key_start:sep].upper() == text[key_start:sep]:
        return False  # DB_PASSWORD=... is a shell or .env assignment
    kwargs = text[sep] == "=" and text[:key_start].rstrip(" \t")[-1:] in ("(", ",") and not line_start
    return code_like(value, text[sep]) or (kwargs and _IDENTIFIER.fullmatch(value) is not None)


def _key_before(text: str, sep: int, floor: int) -> tuple[int, str]:
    """(start, text) of the key name that ends before separator ``sep``, past quotes and spaces."""
    gap_end = sep
    while gap_end > floor and text[gap_end - 1] in " \"'\\":
        gap_end -= 1
    key_start = gap_end
    while key_start > max(floor, gap_end - 64) and (text[key_start - 1].isalnum() or text[key_start - 1] in "_-."):
        if text[key_start - 2 : key_start - 1] == "\\" and text[key_start - 1] in "nrt":
            break  # the n of a \n written out: the line starts after it
        key_start -= 1
    return key_start, text[key_start:gap_end]


_AUTH_CREDENTIAL = re.compile(r"[ \t]+([^\s\"'`\\]+)")


def authorization_span(text: str, s: int, e: int, quoted: bool) -> tuple[int, int, str] | None:
    """The credential in an ``Authorization`` value at ``s:e``: the word after its scheme (``Bearer``, ``Basic``, ``token``).

    Inside quotes the credential is the rest of the quoted value; a value without a scheme word is
    the credential itself.
    """
    scheme = re.match(r"[A-Za-z]+", text[s:e])
    kind = AUTH_SCHEMES.get(scheme.group(0).lower()) if scheme else None
    if kind is None:
        value = text[s:e]
        return None if is_placeholder(value) or len(value) < 8 else (s, e, format_kind(value, "token"))
    after = s + len(scheme.group(0))  # type: ignore[union-attr]
    if quoted:
        start = after + len(text[after:e]) - len(text[after:e].lstrip())
        end = e
    else:
        word = _AUTH_CREDENTIAL.match(text, after)
        if word is None:
            return None
        start, end = word.span(1)
    rest = text[start:end]
    if not rest or is_placeholder(rest):
        return None
    return start, end, format_kind(rest, kind)


def _keyword_secret(text: str, m: re.Match[str], group: str, floor: int) -> tuple[int, int, str] | None:
    """The value after ``key:``/``key=`` if it is a credential; its kind comes from the key or its format."""
    sep = m.start()
    key_start, key = _key_before(text, sep, floor)
    kind = key_kind(key)
    if kind is None:  # a key with a space in it ("API Key")
        name = KEY_NAME.search(text, max(floor, sep - 24), sep)
        kind = (key_kind(name.group(0)) if name else None) or "secret"
    line_start = key_line(text, key_start, floor)
    s, e, quoted, end = value_span(text, *m.span(group), text[sep], line_start, key_start)
    if kind == "authorization":
        return authorization_span(text, s, e, quoted)
    value = text[s:e]
    if len(value) < 4 and not quoted:
        return None  # password: str, token=x
    kind = format_kind(value, kind)
    if kind in POSITION_KINDS and (
        not is_credential_value(kind, key, value) or (not quoted and _code(text, key_start, sep, value, line_start))
    ):
        return None
    return (s, end, kind) if not is_placeholder(value) else None


def _flag_secret(text: str, m: re.Match[str], i: int) -> tuple[int, int, str] | None:
    """The value of ``--<credential flag> VALUE``."""
    flag = m.group(f"f{i}")
    s, e, _, end = value_span(text, *m.span(f"v{i}"), " ", "", m.start())
    value = text[s:e]
    kind = format_kind(value, key_kind(flag) or "secret")
    if kind == "authorization" or flag_like(value) or (kind in POSITION_KINDS and not is_credential_value(kind, flag, value)):
        return None
    return s, end, kind


def flag_like(value: str) -> bool:
    """A command-line option (``-v``, ``--dry-run``): after ``--token`` it means the flag took no value."""
    return _FLAG.fullmatch(value) is not None


def _secret(text: str, m: re.Match[str], floor: int) -> tuple[int, int, str] | None:
    """(start, end, kind) of the secret in match ``m``, or None if the match is not a secret.

    ``floor`` is the end of the previous secret: the key name before a separator is
    read from there on, as it will read once that secret is replaced.
    """
    i = int(m.lastgroup[1:])  # type: ignore[index]  # every branch ends with its k<i> group
    rule = RULES[i]
    if rule.flag:
        return _flag_secret(text, m, i)
    if not rule.kind:
        return _keyword_secret(text, m, f"v{i}", floor)
    if rule.value:
        s, e = m.span(f"v{i}")
        value = text[s:e]
        if is_placeholder(value) or (rule.check is not None and not rule.check(value)):
            return None
        return s, e, format_kind(value, rule.kind)
    s = m.start() - rule.back
    e = m.end()
    if rule.check is not None and not rule.check(text[m.start() : e]):
        return None
    return s, e, rule.kind


def find_secrets(text: str) -> Iterator[tuple[int, int, str]]:
    """Yield ``(start, end, kind)`` of each secret in ``text``, in order, not overlapping."""
    return _find(text, 0, len(text), 0)


def _find(text: str, pos: int, endpos: int, last: int) -> Iterator[tuple[int, int, str]]:
    search = PATTERN.search
    while True:
        m = search(text, pos, endpos)
        if m is None:
            return
        found = _secret(text, m, last)
        if found is None:
            pos = m.start() + 1  # not a secret: let other alternatives try from the next character
            continue
        s, e, kind = found
        if s > m.start() + 1:  # the context before a value (a URL's user name) may hold a token too
            for inner in _find(text, m.start() + 1, s, last):
                yield inner
                last = inner[1]
        yield max(s, last), e, kind
        last = e
        pos = max(e, m.start() + 1)  # a value read past the match (to the end of its line) is not scanned again


def redact_counting(text: str, counts: Counter[str]) -> str:
    """``text`` with its secrets replaced, each counted into ``counts`` by kind; the very same
    object when nothing was found, so callers tell a change by identity.

    Scanned again after a change, until a pass finds nothing: a placeholder changes the quotes
    and characters a neighbouring value is judged by, and what a second look finds is a secret
    too. The result is a fixed point: redacting it again changes nothing.
    """
    result = _redact_once(text, counts)
    for _ in range(_MAX_PASSES):
        if result is text or result == text:
            break
        text = result
        result = _redact_once(text, counts)
    return result


# Each pass that changes the text turns characters into placeholders, so passes end; the cap
# bounds the work an adversarial text can cause all the same.
_MAX_PASSES = 8


def _redact_once(text: str, counts: Counter[str]) -> str:
    first = PATTERN.search(text)
    if first is None:  # most texts: no candidate at all, and no generator to set up
        return text
    pieces: list[str] = []
    last = 0
    for s, e, kind in _find(text, first.start(), len(text), 0):
        pieces.append(text[last:s])
        pieces.append(PLACEHOLDER.format(kind=kind))
        counts[kind] += 1
        last = e
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def redact_text(text: str) -> tuple[str, Counter[str]]:
    """``text`` with every secret replaced by ``[REDACTED:<kind>]``, and the count per kind.

    Context around a secret stays: ``password=`` of ``password=hunter2``, the user and
    host of a URL, ``Bearer`` of an ``Authorization`` header. Idempotent: redacting the
    result again changes nothing.
    """
    counts: Counter[str] = Counter()
    return redact_counting(text, counts), counts
