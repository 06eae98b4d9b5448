"""Scanning text for secrets with the compiled pattern, and replacing them."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from trace2skill.redact.keys import KEY_NAME, key_kind
from trace2skill.redact.patterns import (
    PATTERN,
    PLACEHOLDER,
    POSITION_KINDS,
    RULES,
    AUTH_SCHEMES,
    format_kind,
    is_placeholder,
    token_value,
)


def _unquote(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of a value without its quotes (``"x"``, ``'x'``, ``\\"x\\"``; closing quote optional).

    A value quoted inside a JSON string (``\\"x\\"``, ``\\\\\\"x\\\\\\"`` one level deeper) ends at the
    first quote whose backslash run is the opening one's length ``k``, modulo ``2k+2`` (a run of
    another length escapes a quote or a backslash of the value).
    """
    i = start
    while i < end and text[i] == "\\":
        i += 1
    if i >= end or text[i] not in "\"'":
        return start, end
    quote, s, k = text[i], i + 1, i - start
    if k:
        q = text.find('"', s, end)
        while q >= 0:
            run = q - len(text[s:q].rstrip("\\")) - s
            if run % (2 * k + 2) == k:
                return s, q - k
            q = text.find('"', q + 1, end)
        return start, end  # never closed: the quote is the value's first character
    e = end
    if e > s and text[e - 1] == quote:
        e -= 1
    return s, e


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
# What may stand before a key at the start of a line: indentation, a list dash, a shell keyword.
_LINE_PREFIX = re.compile(r"[ \t]*(?:(?:export|set|setx|ENV|ARG|declare -x|-)[ \t]+)?(?:\$env:)?")


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


def _line_start(text: str, key_start: int, floor: int) -> str:
    """How the key at ``key_start`` begins its line (after indentation, ``export``, ``- ``...): ``""`` if not.

    ``"line"`` after a line break or the start of the text; ``"escaped"`` after a ``\n`` written as
    two characters or a double quote (the text is JSON or a ``repr``: the value ends at the next
    escape or quote).
    """
    real = text.rfind("\n", 0, key_start) + 1
    newline = text.rfind("\\n", 0, key_start)
    escaped = max(newline + 2 if newline >= 0 else 0, text.rfind('"', 0, key_start) + 1)  # or a JSON string's start
    begin = max(real, escaped, floor)
    if _LINE_PREFIX.fullmatch(text, begin, key_start) is None:
        return ""
    return "escaped" if begin == escaped and escaped > real else "line"


def _line_end(text: str, pos: int) -> int:
    """The end of the line ``pos`` is on, before trailing white space."""
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    while end > pos and text[end - 1] in " \t\r":
        end -= 1
    return end


def _escaped_end(text: str, pos: int, at_space: bool) -> int:
    """The end of a value inside escaped text: a ``\n``/``\r``/``\t`` escape, an unescaped quote (or white space)."""
    i = pos
    while i < len(text):
        c = text[i]
        if c == "\\":
            if text[i + 1 : i + 2] in ("n", "r", "t", ""):
                break
            i += 2
            continue
        if c in '"\n' or (at_space and c.isspace()):
            break
        i += 1
    while i > pos and text[i - 1] in " \t":
        i -= 1
    return min(i, len(text))


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


_CLOSERS = {")": "(", "]": "[", "}": "{"}
_ESCAPED_QUOTE = re.compile(r'\\+"')


def _value_span(text: str, vs: int, ve: int, sep: str, line: str, key_start: int) -> tuple[int, int, bool, int]:
    """(start, end, quoted, redact_end) of a value matched at ``vs:ve``: inside its quotes, or unquoted.

    Unquoted, after ``:`` a value runs to the end of the line when the key starts the line (YAML,
    HTTP headers); else it runs as :func:`_run_end` says (white space, a closing quote, the ``&``
    of a URL query, the ``;`` of a connection string). ``start:end`` is the value as judged (is it
    code, a placeholder?): trailing ``,.;:`` and unopened closing brackets are taken for the text
    around it. ``redact_end`` is where the redaction stops: the whole run, because a password
    may end in any of those characters (redacting a sentence's period is harmless, leaving a
    password's last character is a leak).
    """
    s, e = _unquote(text, vs, ve)
    after = text[e + 1 : e + 2]
    glued = after.isalnum() or (line == "line" and after and not after.isspace() and after not in ",;)}]#")
    if s != vs and not glued:
        return s, e, True, e
    s = vs  # a quote glued to more of the value ('7v9'f4X) is one of its characters
    if line == "escaped" or (not line and _ESCAPED_QUOTE.match(text, vs)):  # an escaped quote never closed: escaped text
        e = _escaped_end(text, s, sep == "=")
    elif sep == ":" and line:
        e = _line_end(text, s)
    else:
        e = _run_end(text, s, key_start)
    run = e
    while e > s and (text[e - 1] in ",.;:" or (text[e - 1] in _CLOSERS and _CLOSERS[text[e - 1]] not in text[s : e - 1])):
        e -= 1
    return s, e, False, run


def _open_quote(text: str, key_start: int) -> tuple[str, int] | None:
    """The quote left open on the key's line before ``key_start``, as (character, backslashes before it).

    A double quote counts by the length of its backslash run (JSON inside JSON escapes it again),
    and the deepest level left open wins; a single quote or backquote between two letters is an
    apostrophe (``I'll``), not a quote.
    """
    line = text[text.rfind("\n", 0, key_start) + 1 : key_start]
    runs = Counter(len(m.group(1)) for m in _QUOTE_RUN.finditer(line))
    open_runs = [k for k, n in runs.items() if n % 2]
    if open_runs:
        return '"', max(open_runs)
    for q in "'`":
        quotes = [i for i, c in enumerate(line) if c == q and not (line[i - 1 : i].isalnum() and line[i + 1 : i + 2].isalnum())]
        if len(quotes) % 2:
            return q, 0
    return None


_QUOTE_RUN = re.compile(r'(\\*)"')
# After a key that is a URL query parameter (``?token=``, ``&api_key=``) or a connection
# string's field (``;Password=``), the format's own separator ends the value: inside it, that
# character is written escaped (``%26``) or the value quoted.
_FIELD_ENDS = {"?": "&#", "&": "&#", ";": ";"}


def _run_end(text: str, s: int, key_start: int) -> int:
    """The end of an unquoted value at ``s`` in running text: the first white space, the quote that
    closes one opened before its key on the line (a double quote: unescaped at that level), or the
    separator of the URL query or connection string the key is a field of. Any other character
    is the value's: the value of a password may hold all of them.
    """
    stops = _FIELD_ENDS.get(text[key_start - 1 : key_start], "")
    quote, level = _open_quote(text, key_start) or ("", 0)
    e = s
    while e < len(text):
        c = text[e]
        if c.isspace() or c in stops or (c == quote and (c != '"' or level == 0)):
            return e
        if c == "\\" and quote == '"':
            k = len(text[e:]) - len(text[e:].lstrip("\\"))
            after = text[e + k : e + k + 1]
            if after == '"' and k == level:
                return e
            if level == 0 and k % 2 and after in ("n", "r", "t"):
                return e  # a line break written as an escape: the JSON string's text ends its line
            e += k + (after == '"')
            continue
        e += 1
    return e


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
    line_start = _line_start(text, key_start, floor)
    s, e, quoted, end = _value_span(text, *m.span(group), text[sep], line_start, key_start)
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
    s, e, _, end = _value_span(text, *m.span(f"v{i}"), " ", "", m.start())
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
    object when nothing was found, so callers tell a change by identity."""
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
