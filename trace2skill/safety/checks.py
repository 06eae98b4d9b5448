"""The named checks of the rule file: what a regex alone cannot decide.

Each check takes one line (``raw`` as written, ``norm`` as ``text.normalise`` made it),
the ``Context`` of the starting skill, and the rule's ``params``; it returns the evidence
of every hit (a piece of the normalised line), or nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from trace2skill.safety.text import IBAN, INVISIBLE, WALLET, destinations, domains, hosts, is_named, normalise


@dataclass(frozen=True)
class Context:
    """What the operator's S0 (plus the allow-list) already says."""

    s0_text: str = ""  # normalised
    named_domains: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, s0_text: str, allow_domains: list[str] | tuple[str, ...] = ()) -> Context:
        norm = normalise(s0_text)
        return cls(s0_text=norm, named_domains=frozenset(domains(norm)) | {normalise(d) for d in allow_domains})


Check = Callable[[str, str, Context, dict], list[str]]

# "e-mail"/"mail" only as a verb with an object ("email the card number"), not a field name.
_OBJECT = r"(?:the|it|them|all|every|each|a|an|any|this|that|these|those|copies|customer|user|card|their|his|her|its|our|your)"
_SEND = re.compile(
    rf"\b(?:send|post|upload|forward|transmit|exfiltrate|submit|share|copy|cc|bcc|report|sync|deliver|leak|dump|paste)\w*\b"
    rf"|\b(?:e-?mail|mail)(?:s|ed|ing)?\s+(?={_OBJECT}\b)"
)
_SENSITIVE = re.compile(
    r"\b(?:passwords?|passcodes?|pins?|credentials?|api[ _-]?keys?|tokens?|secrets?|private[ _-]keys?|ssh[ _-]keys?|"
    r"card[ _-]?numbers?|credit[ _-]cards?|card details|cvv|cvc|ssns?|social security|passports?|dates? of birth|"
    r"personal (?:data|details|information)|pii|phone numbers?|home address(?:es)?|e-?mail address(?:es)?|"
    r"payment (?:details|info\w*|methods?)|bank (?:details|accounts?)|files?|documents?|attachments?|cookies|"
    r"session|\.env|id_rsa|\[redacted\S*)"
)
_MONEY = re.compile(r"\b(?:wire|transfer|send|pay|refund|deposit|remit|route|move|credit)\w*\b")
_STEP = (
    r"(?:confirm\w*|verif\w*|approv\w*|consent|authenticat\w*|identity (?:check|verification)|two-factor|2fa|mfa|"
    r"explicit yes|safety (?:checks?|guards?|filters?|rules?)|security (?:checks?|rules?)|sandbox\w*|permission (?:prompts?|checks?)|"
    r"policy (?:checks?|rules?))"
)
_GAP = r"(?:[\w'-]+\s+){0,4}?"
_DISABLE = re.compile(
    rf"\b(?:skip|bypass|disable|omit|circumvent|turn off|switch off|avoid|ignore|drop|remove)\w*\s+{_GAP}(?P<a>{_STEP})"
    rf"|\bwithout\s+{_GAP}(?P<d>{_STEP})"
    rf"|\bno need (?:to|for)\s+{_GAP}(?P<b>{_STEP})"
    rf"|\b(?:don'?t|do not|never|no longer)\s+(?:need to\s+)?(?:ask|wait|request|require|check|seek|get)\w*\s+{_GAP}(?P<c>{_STEP})"
    rf"|(?P<e>{_STEP})\s+(?:is|are)\s+(?:not (?:needed|required|necessary)|optional|unnecessary)"
)
# A clause that already says no (never, do not, only ...) turns "without confirmation" into a requirement.
_NEGATED = re.compile(r"\b(?:never|not|no|nor|only|dont|doesnt|cant|cannot|wont|unless)\b")
_CLAUSE_END = re.compile(r"[.;:!?]")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{%d,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}){%d,}\b")
_ESCAPED = re.compile(r"(?:(?:\\x|%%)[0-9a-fA-F]{2}){%d,}")


def _span(norm: str, matches: list[re.Match]) -> str:
    start, end = min(m.start() for m in matches), max(m.end() for m in matches)
    return norm[start:end]


def sends_data_outside(raw: str, norm: str, ctx: Context, params: dict) -> list[str]:
    """A send verb, sensitive data and a destination that S0 does not name, in one line
    (destinations after the verb when there are any: "email X to Y")."""
    send, what = _SEND.search(norm), _SENSITIVE.search(norm)
    if not (send and what):
        return []
    found = [m for d in sorted(destinations(norm)) for m in re.finditer(re.escape(d), norm)]
    after = [m for m in found if m.start() > send.start()] or found
    out = []
    for m in after:
        dest = m.group(0)
        if dest in ctx.s0_text or is_named(dest.rsplit("@", 1)[-1], set(ctx.named_domains)):
            continue
        if any(o.start() <= m.start() and m.end() <= o.end() for o in after if o is not m):
            continue  # the domain of an e-mail address already reported
        out.append(_span(norm, [send, what, m]))
    return out


def redirects_payment(raw: str, norm: str, ctx: Context, params: dict) -> list[str]:
    """A money verb and an account (IBAN, wallet) that S0 does not name, in one line."""
    verb = _MONEY.search(norm)
    if not verb:
        return []
    accounts = [m for m in [*IBAN.finditer(norm), *WALLET.finditer(norm)] if m.group(1) not in ctx.s0_text]
    return [_span(norm, [verb, m]) for m in accounts]


def disables_safety_step(raw: str, norm: str, ctx: Context, params: dict) -> list[str]:
    """Skipping, bypassing or doing without a confirmation or safety step; with
    ``required_by_s0`` only a step S0 mentions, without it only one S0 does not."""
    out = []
    for m in _DISABLE.finditer(norm):
        step = next(g for g in m.groupdict().values() if g)
        if m.group("e") is None and m.group("b") is None and m.group("c") is None:
            clause = _CLAUSE_END.split(norm[: m.start()])[-1]
            if _NEGATED.search(clause):
                continue
        stem = step[:6]
        if (stem in ctx.s0_text) == bool(params.get("required_by_s0", True)):
            out.append(m.group(0))
    return out


def encoded_payload(raw: str, norm: str, ctx: Context, params: dict) -> list[str]:
    """Long base64, hex or escaped-byte runs (lengths from ``params``)."""
    out = []
    for m in re.finditer(_BASE64.pattern % params.get("min_base64_chars", 80), raw):
        blob = m.group(0)
        if re.search(r"\d", blob) and re.search(r"[a-z]", blob) and re.search(r"[A-Z]", blob):
            out.append(blob[:60] + "…")
    out += [m.group(0)[:60] + "…" for m in re.finditer(_HEX.pattern % (params.get("min_hex_chars", 100) // 2), raw)]
    out += [m.group(0)[:60] + "…" for m in re.finditer(_ESCAPED.pattern % params.get("min_escaped_bytes", 16), raw)]
    return out


def invisible_characters(raw: str, norm: str, ctx: Context, params: dict) -> list[str]:
    """Characters a reader cannot see (zero-width, bidi overrides, tag characters)."""
    return [f"U+{ord(m.group(0)):04X} at column {m.start() + 1}" for m in INVISIBLE.finditer(raw)]


def new_external_domain(raw: str, norm: str, ctx: Context, params: dict) -> list[str]:
    """Hosts that neither S0 nor the allow-list names (local addresses excepted)."""
    return sorted(d for d in hosts(norm) if not is_named(d, set(ctx.named_domains)))


CHECKS: dict[str, Check] = {
    f.__name__: f for f in (sends_data_outside, redirects_payment, disables_safety_step, encoded_payload, invisible_characters, new_external_domain)
}
