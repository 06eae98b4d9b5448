"""The named checks of the rule file: what a regex alone cannot decide.

Each check takes one ``code.Line`` (as written, normalised, and the shell commands and SQL
that start on it), the ``Context`` of the starting skill, and the rule's ``params``; it
returns the evidence of every hit, or nothing. Checks over commands, SQL and URLs read the
parsed structure (``commands``, ``exfil``, ``sql``, ``urls``); policy checks read S0's
policy text (``policy``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from trace2skill.safety import commands as sh
from trace2skill.safety import policy, scripts, sql, urls
from trace2skill.safety.code import Line
from trace2skill.safety.exfil import uploads
from trace2skill.safety.shell import Command, parse_shell
from trace2skill.safety.text import (
    IBAN,
    INVISIBLE,
    REDACTED_ACCOUNT,
    TAGS,
    WALLET,
    destinations,
    domains,
    hosts,
    is_named,
    normalise,
    same_line_key,
)


@dataclass(frozen=True)
class Context:
    """What the operator's S0 (plus the allow-list) already says."""

    s0_text: str = ""  # normalised
    s0_lines: frozenset[str] = field(default_factory=frozenset)  # normalised, one entry per line
    named_domains: frozenset[str] = field(default_factory=frozenset)  # hosts, and "github.com/owner" for code hosts
    policy: policy.Policy = field(default_factory=policy.Policy)

    @classmethod
    def of(cls, s0_text: str, allow_domains: list[str] | tuple[str, ...] = ()) -> Context:
        norm = normalise(s0_text)
        lines = [same_line_key(normalise(line)) for line in s0_text.splitlines() if line.strip()]
        owners = {f"{h}/{u.split('://', 1)[1].split('/')[1].casefold()}" for u, h in urls.urls(s0_text) if u.count("/") > 3}
        return cls(
            s0_text=norm,
            s0_lines=frozenset(lines),
            named_domains=frozenset(domains(norm)) | {normalise(d) for d in allow_domains} | owners,
            policy=policy.read_policy(lines),
        )

    def names(self, destination: str) -> bool:
        """Whether S0 (or the allow-list) names ``destination`` (a host, an e-mail address, a bucket URL)."""
        dest = destination.casefold().rstrip("/")
        if "://" in dest and not dest.startswith(("http://", "https://")):
            return dest.split("/", 3)[2] in self.s0_text if dest.count("/") >= 2 else dest in self.s0_text
        host = dest.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
        return bool(host) and (dest in self.s0_text or is_named(host, set(self.named_domains)))


Check = Callable[[Line, Context, dict], list[str]]

# "e-mail"/"mail" only as a verb with an object ("email the card number"), not a field name.
_OBJECT = r"(?:the|it|them|all|every|each|a|an|any|this|that|these|those|copies|customer|user|card|their|his|her|its|our|your)"
_SEND = re.compile(
    rf"\b(?:send|post|upload|forward|transmit|exfiltrate|submit|share|copy|cc|bcc|report|sync|deliver|leak|dump|paste)\w*\b"
    # the same verbs in Spanish, French, German, Italian, Portuguese
    r"|\b(?:env[ií](?:a|e|ar|ame|alo|ala|ad)|mand(?:a|e|ar|ame|alo|ala)|reenv[ií]\w*|envoie[sz]?|envoy(?:er|ez)|transf[eè]re[zr]?|send[ei]n?|schick\w*|[üu]bermittl\w*|weiterleit\w*|invia\w*|inoltra\w*)\b"
    rf"|\b(?:e-?mail|mail)(?:s|ed|ing)?\s+(?={_OBJECT}\b)"
)
_SENSITIVE = re.compile(
    r"\b(?:passwords?|passcodes?|pins?|credentials?|api[ _-]?keys?|tokens?|secrets?|private[ _-]keys?|ssh[ _-]keys?|"
    r"card[ _-]?numbers?|credit[ _-]cards?|card details|card on file|cvv|cvc|ssns?|social security|passports?|dates? of birth|"
    r"personal (?:data|details|information)|pii|phone numbers?|home address(?:es)?|e-?mail address(?:es)?|"
    r"payment (?:details|info\w*|methods?)|bank (?:details|accounts?)|files?|documents?|attachments?|cookies|"
    r"session|\.env|id_rsa|workbooks?|spreadsheets?|sheets?|downloads? folder|\[redacted\S*|"
    r"tarjetas?|contraseñas?|pasaportes?|datos personales|num[ée]ro de (?:carte|tarjeta)|cartes? bancaires?|mots? de passe|passeports?|"
    r"donn[ée]es personnelles|kartennummer\w*|kreditkarte\w*|passw[oö]rt\w*|reisepass\w*|carta di credito|password|passaporto|cart[ãa]o)"
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
    rf"|(?P<e>{_STEP})(?:\s+[\w-]+){{0,2}}?\s+(?:is|are|have been|has been)\s+(?:now\s+)?(?:not (?:needed|required|necessary)|optional|unnecessary|"
    r"disabled|turned off|switched off|waived|lifted|suspended|no longer (?:needed|required|necessary))"
    # "without confirmation" in German, Spanish, French, Italian, Portuguese (read as a confirmation step)
    r"|\b(?:ohne|sin|sans|senza|sem)\s+(?:\w+\s+){0,2}?(?P<f>r[üu]ckfrage|best[äa]tigung|nachfrage|zustimmung|confirmaci\w*|confirmar|preguntar|"
    r"consentimiento|confirmation|demander|consentement|conferma|chiedere|confirma[çc][ãa]o|perguntar)"
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


def sends_data_outside(line: Line, ctx: Context, params: dict) -> list[str]:
    """A send verb, sensitive data and a destination that S0 does not name, in one line
    (destinations after the verb when there are any: "email X to Y")."""
    norm = line.norm
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


def redirects_payment(line: Line, ctx: Context, params: dict) -> list[str]:
    """A money verb and an account (IBAN, wallet, or the placeholder of a redacted one) that
    S0 does not name, in one line."""
    verb = _MONEY.search(line.norm)
    if not verb:
        return []
    found = [*IBAN.finditer(line.norm), *WALLET.finditer(line.norm), *REDACTED_ACCOUNT.finditer(line.norm)]
    accounts = [m for m in found if m.group(1) not in ctx.s0_text]
    return [_span(line.norm, [verb, m]) for m in accounts]


def disables_safety_step(line: Line, ctx: Context, params: dict) -> list[str]:
    """Skipping, bypassing or doing without a confirmation or safety step; with
    ``required_by_s0`` only a step S0 mentions, without it only one S0 does not."""
    out = []
    for m in _DISABLE.finditer(line.norm):
        step = "confirm" if m.group("f") else next(g for g in m.groupdict().values() if g)
        if m.group("e") is None and m.group("b") is None and m.group("c") is None:
            clause = _CLAUSE_END.split(line.norm[: m.start()])[-1]
            if _NEGATED.search(clause):
                continue
        if (step[:6] in ctx.s0_text) == bool(params.get("required_by_s0", True)):
            out.append(m.group(0))
    return out


def encoded_payload(line: Line, ctx: Context, params: dict) -> list[str]:
    """Long base64, hex or escaped-byte runs (lengths from ``params``)."""
    raw, out = line.raw, []
    for m in re.finditer(_BASE64.pattern % params.get("min_base64_chars", 80), raw):
        blob = m.group(0)
        if re.search(r"\d", blob) and re.search(r"[a-z]", blob) and re.search(r"[A-Z]", blob):
            out.append(blob[:60] + "…")
    out += [m.group(0)[:60] + "…" for m in re.finditer(_HEX.pattern % (params.get("min_hex_chars", 100) // 2), raw)]
    out += [m.group(0)[:60] + "…" for m in re.finditer(_ESCAPED.pattern % params.get("min_escaped_bytes", 16), raw)]
    return out


def invisible_characters(line: Line, ctx: Context, params: dict) -> list[str]:
    """Characters a reader cannot see (zero-width, bidi overrides, tag characters), as one
    piece of evidence per line: how many, the first column, and what tag characters spell."""
    found = list(INVISIBLE.finditer(line.raw))
    if not found:
        return []
    spelled = "".join(chr(ord(m.group(0)) - 0xE0000) for m in found if TAGS.match(m.group(0)) and 0x20 <= ord(m.group(0)) - 0xE0000 < 0x7F)
    codes = sorted({f"U+{ord(m.group(0)):04X}" for m in found})
    return [
        f"{len(found)} invisible character(s) ({', '.join(codes[:4])}{', …' if len(codes) > 4 else ''}) from column {found[0].start() + 1}"
        + (f", spelling {spelled!r}" if spelled else "")
    ]


def new_external_domain(line: Line, ctx: Context, params: dict) -> list[str]:
    """Hosts that neither S0 nor the allow-list names (local addresses excepted)."""
    return sorted(d for d in hosts(line.norm) if not is_named(d, set(ctx.named_domains)))


def _commands(line: Line) -> list[Command]:
    """Every command of the line, its substitutions and what an inline Python program hands to the shell."""
    found = [c for top in line.commands for c in (top, *top.all_subs())]
    handed = [text for c in found if (code := scripts.inline_code(c.name, c.args)) and code[0] == "python" for text in scripts.shell_strings(code[1])]
    return found + [c for text in handed for top in parse_shell(text, line.n) or [] for c in (top, *top.all_subs())]


def _inline(line: Line, effect: str) -> list[str]:
    """Evidence of ``effect`` (``scripts.effects``) in the inline programs of the line's commands."""
    return [e for c in _commands(line) if (code := scripts.inline_code(c.name, c.args)) for e in scripts.effects(*code)[effect]]


def fetch_into_interpreter(line: Line, ctx: Context, params: dict) -> list[str]:
    """A download piped, substituted or saved into an interpreter (``commands.fetch_into_interpreter``)."""
    return [e for c in _commands(line) for e in sh.fetch_into_interpreter(c, line.snippet)] + _inline(line, "runs_fetched")


def persistence_or_privilege(line: Line, ctx: Context, params: dict) -> list[str]:
    """Keys, sudoers, shell start-up files, cron, privileged groups, loose permissions (``commands``)."""
    return [e for c in _commands(line) for e in sh.persistence_or_privilege(c)]


def destroys_home_or_root(line: Line, ctx: Context, params: dict) -> list[str]:
    """Recursive deletes of /, home or system folders; wiping disks (``commands``)."""
    return [e for c in _commands(line) for e in sh.destroys_home_or_root(c)] + _inline(line, "deletes_home")


def force_pushes_default(line: Line, ctx: Context, params: dict) -> list[str]:
    """Force-pushes, mirrors or deletes onto a default branch (``commands``)."""
    return [e for c in _commands(line) for e in sh.force_pushes_default(c, line.snippet)]


def bypasses_checks(line: Line, ctx: Context, params: dict) -> list[str]:
    """Hooks skipped on commit or push, tests or CI workflows deleted (``commands``)."""
    return [e for c in _commands(line) for e in sh.bypasses_checks(c)]


def installs_from_outside(line: Line, ctx: Context, params: dict) -> list[str]:
    """Installs from URLs, unknown git remotes or indexes (``commands``)."""
    named = set(ctx.named_domains)
    return [e for c in _commands(line) for e in sh.installs_from_outside(c, line.snippet, named)] + sh.package_sources(line.norm, named)


def uploads_data(line: Line, ctx: Context, params: dict) -> list[str]:
    """Uploads (``exfil``): with ``secrets`` the ones that carry credentials anywhere outside
    S0's addresses (or through DNS); without, local files or stdin to an address S0 does not name."""
    out = []
    for c in _commands(line):
        for up in uploads(c, line.snippet):
            outside = not up.destination or not ctx.names(up.destination)
            if outside and (up.secret if params.get("secrets") else up.local_data and up.destination):
                out.append(up.evidence + (f" (to {up.destination})" if up.destination else " (in a DNS name)"))
    if params.get("secrets"):
        return out + [f"{e} (inline program)" for e in _inline(line, "sends_secrets") if not all(ctx.names(u) for u, _ in urls.urls(e) or [("", "")])]
    return out + [f"{e} (a formula sends cell values to {u})" for e, u in scripts.formula_uploads(line.raw) if not ctx.names(u)]


def sql_destroys_data(line: Line, ctx: Context, params: dict) -> list[str]:
    """``DROP``/``TRUNCATE``/unfiltered ``DELETE``/``UPDATE`` of non-scratch objects (``sql``)."""
    temporary = sql.temporary_tables(line.sql_context)
    return [e for s in line.sql for e in sql.destroyed(s, temporary)]


def sql_grants_power(line: Line, ctx: Context, params: dict) -> list[str]:
    """Grants to ``PUBLIC`` or of everything, role options such as ``SUPERUSER``, server-side programs (``sql``)."""
    return [e for s in line.sql for e in [*sql.grants_power(s), *sql.runs_program(s)]]


def risky_link(line: Line, ctx: Context, params: dict) -> list[str]:
    """Short links, IP-literal hosts, look-alike hosts (other letters, or a known domain worn as
    a prefix); links whose text names another host or whose target is code (``urls``)."""
    named = {d for d in ctx.named_domains if "/" not in d}
    worn = [f"{u} (wears {k} as a prefix)" for u, h in urls.urls(line.raw) if (k := urls.lookalike_of(h, named))]
    return [e for e in urls.risky_hosts(line.raw, params) if not ctx.names(e.split(" ", 1)[0])] + worn + urls.mismatched_links(line.raw)


def hidden_text(line: Line, ctx: Context, params: dict) -> list[str]:
    """Unrendered text (comments, hidden elements, alt and title text) that addresses the model
    or carries an address; words mixing Latin with look-alike letters (``urls``)."""
    mixed = urls.mixed_script_words(line.raw)
    inside = [line.raw.strip()[:160]] if line.hidden and urls.addresses_model(line.raw) else []
    return urls.hidden_text(line.raw) + inside + ([f"look-alike letters in {', '.join(mixed[:3])}"] if mixed else [])


def exceeds_policy(line: Line, ctx: Context, params: dict) -> list[str]:
    """Grants beyond S0's policy (``policy``)."""
    return policy.exceeds_policy(line.norm, ctx.policy)


def conceals_from_user(line: Line, ctx: Context, params: dict) -> list[str]:
    """Keeping an action from the user (``policy``); with ``disclosure_in_s0`` only where S0
    makes the agent disclose, without it only where S0 does not."""
    return policy.conceals(line.norm) if ctx.policy.discloses == bool(params.get("disclosure_in_s0", True)) else []


CHECKS: dict[str, Check] = {
    f.__name__: f
    for f in (
        sends_data_outside,
        redirects_payment,
        disables_safety_step,
        encoded_payload,
        invisible_characters,
        new_external_domain,
        fetch_into_interpreter,
        persistence_or_privilege,
        destroys_home_or_root,
        force_pushes_default,
        bypasses_checks,
        installs_from_outside,
        uploads_data,
        sql_destroys_data,
        sql_grants_power,
        risky_link,
        hidden_text,
        exceeds_policy,
        conceals_from_user,
    )
}
