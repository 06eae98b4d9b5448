"""Where the value after a credential key begins and ends: its quotes, its line, the text around it.

A password may hold any printable character, so a value runs to white space, a closing quote or
the separator of the format it sits in (a URL query, a connection string), never to the first
punctuation.
"""

from __future__ import annotations

import re
from collections import Counter

# What may stand before a key at the start of a line: indentation, a list dash, a shell keyword.
_LINE_PREFIX = re.compile(r"[ \t]*(?:(?:export|set|setx|ENV|ARG|declare -x|-)[ \t]+)?(?:\$env:)?")


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


def key_line(text: str, key_start: int, floor: int) -> str:
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


_CLOSERS = {")": "(", "]": "[", "}": "{"}
_ESCAPED_QUOTE = re.compile(r'\\+"')


def value_span(text: str, vs: int, ve: int, sep: str, line: str, key_start: int) -> tuple[int, int, bool, int]:
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
    # Only a quote that closed can be glued to more of the value; an unclosed one is judged
    # without what the next line holds (which a redaction there would change).
    after = text[e + 1 : e + 2] if e < ve else ""
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
