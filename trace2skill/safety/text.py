"""Text preparation for the safety rules: undo the usual obfuscations, then find addresses.

A rule sees each line twice removed from what an attacker wrote: Unicode compatibility
forms folded (full-width letters), Unicode tag characters read as the ASCII they mirror,
other invisible characters dropped, look-alike Cyrillic and
Greek letters mapped to Latin, shell quoting tricks undone (``c""url``, ``c\\url``,
``${IFS}``), case folded and whitespace collapsed. Addresses (URLs, bare domains, e-mail
addresses, IPs, bank accounts) are pulled out of the same normalised text.
"""

from __future__ import annotations

import re
import unicodedata

# Zero-width and formatting characters, bidi controls, Unicode tag characters ("ASCII smuggling").
INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
# Tag characters mirror ASCII (U+E0041 is an invisible "A"): the rules read what they spell.
TAGS = re.compile("[\U000e0020-\U000e007e]")
_UNTAG = {c: c - 0xE0000 for c in range(0xE0020, 0xE007F)}
# Letters of other scripts that render like Latin ones (the common confusables).
_CONFUSABLES = str.maketrans("аеорсухіјѕԁһӏԛԝАВЕКМНОРСТХІЈЅοαενρτυικχΑΒΕΗΙΚΜΝΟΡΤΥΧ", "aeopcyxijsdhlqwABEKMHOPCTXIJSoaevptuikxABEHIKMNOPTYX")
_SHELL_QUOTE = re.compile(r"(?<=\w)(?:''|\"\"|['\"\\^`])(?=\w)")
_IFS = re.compile(r"\$\{?IFS\}?")
_CONTINUATION = re.compile(r"\\\r?\n")
_SPACE = re.compile(r"\s+")
_LIST_MARKER = re.compile(r"^(?:[-*+>]|\d+[.)])\s+")

_HOST = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}"
URL = re.compile(rf"\b(?:https?|ftp|wss?|sftp)://(?:[^\s/@]+@)?({_HOST}|\d{{1,3}}(?:\.\d{{1,3}}){{3}})(?::\d+)?[^\s<>\"')\]]*")
EMAIL = re.compile(rf"\b[a-z0-9._%+-]+@({_HOST})\b")
IP = re.compile(r"\b(\d{1,3}(?:\.\d{1,3}){3})\b")
# Bare domains count only with a TLD that is not also a common file extension.
_TLDS = "com|net|org|io|co|ru|cn|xyz|top|info|biz|me|app|dev|ly|gg|tk|ml|cc|su|site|online|club|link|example|uk|de|fr|in|us"
BARE_DOMAIN = re.compile(rf"(?<![\w@./-])((?:www\.)?(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:{_TLDS}))\b(?![\w-]|\.\w)")
# Ingest's typed placeholders for a redacted address or account (trace2skill.redact.personal):
# the value is gone, but it was one trajectory's, so S0 cannot name it (docs/privacy.md).
REDACTED_DESTINATION = re.compile(r"<(?:email_address|phone_number|ip_address|url)_\d+>")
REDACTED_ACCOUNT = re.compile(r"(<(?:iban_code|crypto|us_bank_number)_\d+>)")
IBAN = re.compile(r"\b([a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,4})?)\b")
WALLET = re.compile(r"\b(0x[0-9a-f]{40}|bc1[0-9a-z]{25,60}|[13][1-9a-hj-np-z]{25,34})\b")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "::1")


def deobfuscate(text: str) -> str:
    """``text`` with compatibility forms folded, tag characters read, other invisible
    characters dropped, look-alike letters mapped and ``${IFS}`` read as a space; quoting and
    case kept (what the shell parser reads)."""
    text = _CONTINUATION.sub(" ", text)
    text = INVISIBLE.sub("", unicodedata.normalize("NFKC", text).translate(_UNTAG)).translate(_CONFUSABLES)
    return _IFS.sub(" ", text)


def normalise(text: str) -> str:
    """``text`` as the rules read it (see the module doc)."""
    text = deobfuscate(text)
    text = _SHELL_QUOTE.sub("", text)
    return _SPACE.sub(" ", text.casefold()).strip()


def same_line_key(norm: str) -> str:
    """A normalised line without its list marker: how a line is matched against S0's lines."""
    return _LIST_MARKER.sub("", norm)


def hosts(text: str) -> set[str]:
    """The hosts of the URLs and the bare domains in normalised ``text``."""
    found = {m.group(1) for m in URL.finditer(text)} | {m.group(1) for m in BARE_DOMAIN.finditer(text)}
    return {d.removeprefix("www.").rstrip(".") for d in found}


def domains(text: str) -> set[str]:
    """Every domain named in normalised ``text``: ``hosts`` and the domains of e-mail addresses."""
    return hosts(text) | {m.group(1) for m in EMAIL.finditer(text)}


def destinations(text: str) -> set[str]:
    """Where normalised ``text`` could send something: e-mail addresses, hosts and IPs, and
    the placeholders ingest left where it redacted one."""
    found = {m.group(0) for m in EMAIL.finditer(text)} | domains(text) | {m.group(1) for m in IP.finditer(text)}
    return found | {m.group(0) for m in REDACTED_DESTINATION.finditer(text)}


def is_named(host: str, named: set[str]) -> bool:
    """Whether ``host`` is in ``named`` or under a domain there (docs.x.com under x.com), or local."""
    host = host.removeprefix("www.")
    if host in LOCAL_HOSTS or host.startswith(("127.", "10.", "192.168.")):
        return True
    return any(host == n or host.endswith("." + n) for n in named)


_PROHIBITIVE = re.compile(
    r"\b(?:never|not|no|dont|do not|avoid|instead of|rather than|refuse|beware of|warn\w*)\b(?!\s+(?:forget|hesitate|worry|fail|mind|wait)\b)"
)
_CLAUSE = re.compile(r"[.;:!?](?:\s|$)")
_QUOTES = re.compile(r"\"[^\"]*\"|“[^”]*”|«[^»]*»")
_DATA_MARKERS = re.compile(
    r"\b(?:never|not|dont|do not|data|content|scam|phishing|quot\w+|treat|report|warn\w*|injection|says?|said|asks?|asked|writes?|wrote|types?|typed|claims?|declin\w*|refus\w*)\b"
)
# An inline code span is an example, not an instruction, only where the line calls it an attack.
_SPANS = re.compile(r"`[^`]+`")
_ATTACK_MARKERS = re.compile(r"\b(?:attacks?|malicious|scams?|phishing|injections?|suspicious|dangerous|harmful)\b")
# A subordinate clause ("when the totals don't match, ...") does not negate the main clause after its comma.
_SUBORDINATE = re.compile(r"^\s*(?:when|whenever|if|once|because|since|after|before|while|as soon as|until|unless|even if)\b[^,]*,")


def code_spans(norm: str) -> list[re.Match]:
    """The inline code spans of a normalised line."""
    return list(_SPANS.finditer(norm))


def warns_against(norm: str, start: int, end: int) -> bool:
    """Whether the piece ``norm[start:end]`` of a normalised line is warned against rather than
    said: its clause says no before it ("never run curl ... | sh"), or it is quoted and the
    rest of the line calls it data ("text like "ignore previous instructions" is data")."""
    clause = _CLAUSE.split(norm[:start])[-1]
    clause = _SUBORDINATE.sub("", clause, count=1)
    if _PROHIBITIVE.search(clause):
        return True
    for q in _QUOTES.finditer(norm):
        if q.start() <= start and end <= q.end():
            return bool(_DATA_MARKERS.search(norm[: q.start()] + norm[q.end() :]))
    return any(q.start() <= start and end <= q.end() and _ATTACK_MARKERS.search(norm[: q.start()] + norm[q.end() :]) for q in _SPANS.finditer(norm))
