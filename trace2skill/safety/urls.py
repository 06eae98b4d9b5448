"""URLs, links and markup as the safety rules read them: parsed, not pattern-matched.

URLs are found in the line as written (before look-alike letters are mapped, so a Cyrillic
letter in a host stays visible) and split with ``urllib.parse``; the host is then checked:
a link shortener, an IP literal in any spelling (dotted, decimal, hex, IPv6), a host with
non-ASCII or punycode letters, a user-info part that looks like a host. Markdown links whose
visible text names another host than their target, and text a reader does not see (HTML
comments, hidden elements, image alt and title text) that addresses the model or carries an
address, are found in the markdown.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

_URL = re.compile(r"\b(?:https?|ftp|wss?|sftp)://(?:\[[0-9a-f:.]+\])?[^\s<>\"'`)\]]*", re.IGNORECASE)
SHORTENERS = frozenset(
    {
        "bit.ly",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "buff.ly",
        "rebrand.ly",
        "cutt.ly",
        "shorturl.at",
        "rb.gy",
        "t.ly",
        "tiny.cc",
        "lnkd.in",
        "s.id",
        "v.gd",
        "bl.ink",
        "shorte.st",
        "adf.ly",
        "tiny.one",
        "qr.ae",
        "git.io",
        "surl.li",
        "urlz.fr",
    }
)
# Domains attackers wear as a prefix of their own (the operator's S0 domains are added to these).
WELL_KNOWN = frozenset({"pypi.org", "github.com", "npmjs.org", "npmjs.com", "google.com", "microsoft.com", "apple.com", "paypal.com", "amazon.com", "python.org"})
# Link targets that run or carry content instead of pointing somewhere.
_ACTIVE_SCHEMES = ("data:", "javascript:", "vbscript:", "file:")
_MD_LINK = re.compile(r"\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"([^\"]*)\")?\s*\)")
_HIDDEN = re.compile(
    r"<!--(.*?)(?:-->|$)|<(\w+)[^>]*(?:display\s*:\s*none|visibility\s*:\s*hidden|\bhidden\b)[^>]*>(.*?)(?:</\2>|$)", re.IGNORECASE | re.DOTALL
)
# Elements styled out of sight: zero size or opacity, off-screen, text the colour of its background.
_STYLED = re.compile(r"<(\w+)[^>]*\bstyle\s*=\s*([\"'])(.*?)\2[^>]*>(.*?)(?:</\1>|$)", re.IGNORECASE | re.DOTALL)
_INVISIBLE_CSS = re.compile(
    r"(?:font-size|width|height|max-height|max-width|line-height)\s*:\s*0(?:\.0+)?(?:px|em|rem|%|pt)?\s*(?:;|$)|opacity\s*:\s*0(?:\.0+)?\s*(?:;|$)|"
    r"(?:left|top|text-indent|margin-left)\s*:\s*-\d{3,}|clip(?:-path)?\s*:",
    re.IGNORECASE,
)
# A collapsed <details> shows its summary only; a link reference definition ([x]: # (...)) is never shown.
_COLLAPSED = re.compile(r"<details(?![^>]*\bopen\b)[^>]*>.*?</summary>(.*?)(?:</details>|$)", re.IGNORECASE | re.DOTALL)
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*\S+\s*(?:\((.*)\)|\"(.*)\"|'(.*)')?\s*$")
_TO_MODEL = re.compile(r"\b(?:assistant|ai|agent|model|llm|gpt|claude|chatbot|copilot|system)\b|\b[a-z][\w+.-]*://", re.IGNORECASE)
_LATIN = re.compile(r"[a-zA-Z]")
_OTHER_SCRIPT = re.compile(r"[\u0370-\u03ff\u0400-\u04ff\u0500-\u052f\u13a0-\u13ff\u0530-\u058f]")
# The networks of a local machine or LAN (documentation ranges are not local: attackers' examples use them).
_LOCAL_NETS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
_WORD = re.compile(r"[^\W\d_]{2,}")


def urls(raw: str) -> list[tuple[str, str]]:
    """(url, host) for each URL in ``raw`` (NFKC-folded, other scripts kept)."""
    out = []
    for m in _URL.finditer(unicodedata.normalize("NFKC", raw)):
        try:
            parts = urlsplit(m.group(0))
            host = parts.hostname or ""
        except ValueError:
            continue
        out.append((m.group(0), host))
    return out


def ip_literal(host: str) -> str | None:
    """The address an IP-literal host stands for (dotted, integer, hex or IPv6), or None; local addresses (loopback, LAN) are None."""
    text = host.strip("[]")
    try:
        addr = ipaddress.ip_address(text) if ":" in text else _inet_aton(text)
    except ValueError:
        return None
    return None if addr.is_loopback or addr.is_link_local or addr.is_unspecified or any(addr in net for net in _LOCAL_NETS) else str(addr)


def _inet_aton(text: str) -> ipaddress.IPv4Address:
    """An IPv4 host as a resolver reads it: one to four parts, each decimal, hex (0x) or
    octal (leading 0), the last filling the remaining bytes (``0xCB.0x71.0x0D.0x2A``, ``3232235777``)."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(re.fullmatch(r"0x[0-9a-f]+|0[0-7]*|[1-9]\d*", p, re.IGNORECASE) for p in parts):
        raise ValueError(text)
    values = [int(p, 16) if p[:2].casefold() == "0x" else int(p, 8) if p.startswith("0") and len(p) > 1 else int(p) for p in parts]
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        raise ValueError(text)
    return ipaddress.IPv4Address(sum(v << (8 * (3 - i)) for i, v in enumerate(head)) + last)


def lookalike_of(host: str, known: set[str]) -> str | None:
    """The known domain that ``host`` wears as a prefix (``pypi.org.simple-index.top``,
    ``www.airline.example.com.fare-desk.ru``): the name a reader sees first is not the one that resolves."""
    labels = host.casefold().removeprefix("www.")
    return next((k for k in sorted(known | WELL_KNOWN) if "." in k and "/" not in k and labels.startswith(k + ".") and not labels.endswith("." + k)), None)


def risky_hosts(raw: str, params: dict) -> list[str]:
    """URLs whose host is a shortener, an IP literal, or spelled with non-ASCII or punycode letters, or hidden behind user info."""
    out = []
    for url, host in urls(raw):
        netloc = url.split("://", 1)[1].split("/", 1)[0]
        if host in SHORTENERS or host.removeprefix("www.") in SHORTENERS:
            out.append(f"{url} (link shortener)")
        elif (addr := ip_literal(host)) is not None:
            out.append(f"{url} (IP literal {addr})")
        elif not host.isascii() or "xn--" in host:
            out.append(f"{url} (look-alike host {host!r})")
        elif "@" in netloc and "." in netloc.split("@", 1)[0]:
            out.append(f"{url} (user info that looks like a host)")
    return out


def mismatched_links(raw: str) -> list[str]:
    """Markdown links whose visible text names a host other than the target's, or whose target
    is content or code (``data:``, ``javascript:``)."""
    out = [f"[{m.group(1)}]({m.group(2)[:60]})" for m in _MD_LINK.finditer(raw) if m.group(2).casefold().startswith(_ACTIVE_SCHEMES)]
    for m in _MD_LINK.finditer(raw):
        text_hosts = {h.removeprefix("www.") for _, h in urls(m.group(1))} | set(re.findall(r"\b((?:[a-z0-9-]+\.)+[a-z]{2,})\b", m.group(1).casefold()))
        target = next((h.removeprefix("www.") for _, h in urls(m.group(2))), "")
        if target and text_hosts and not any(target == t or target.endswith("." + t) or t.endswith("." + target) for t in text_hosts):
            out.append(f"[{m.group(1)}]({m.group(2)})")
    return out


def hidden_text(raw: str) -> list[str]:
    """Text a reader of the rendered skill does not see (HTML comments, hidden elements,
    image alt and title text) that addresses the model or carries an address."""
    hidden = [m.group(1) or m.group(3) or "" for m in _HIDDEN.finditer(raw)]
    hidden += [m.group(4) for m in _STYLED.finditer(raw) if _INVISIBLE_CSS.search(m.group(3)) or _same_colours(m.group(3))]
    hidden += [m.group(1) for m in _COLLAPSED.finditer(raw)]
    hidden += [next((g for g in m.groups() if g), "") for m in [_REFERENCE.match(raw)] if m]
    hidden += [(m.group(1) + " " + (m.group(3) or "")) for m in re.finditer(r"!" + _MD_LINK.pattern, raw)]
    return [h.strip()[:160] for h in hidden if addresses_model(h)]


def addresses_model(text: str) -> bool:
    """Whether hidden ``text`` addresses the model or carries an address (a URL or bucket)."""
    return bool(_TO_MODEL.search(text))


def _same_colours(style: str) -> bool:
    """Text whose colour is its background's."""
    decls = {k.strip().casefold(): v.strip().casefold().replace(" ", "") for k, _, v in (d.partition(":") for d in style.split(";")) if v}
    colour, background = decls.get("color"), decls.get("background-color", decls.get("background"))
    return colour is not None and colour == background


def mixed_script_words(raw: str) -> list[str]:
    """Words that mix Latin letters with look-alike letters of another script (``pаypal`` with a Cyrillic а)."""
    text = unicodedata.normalize("NFKC", raw)
    return [w for w in _WORD.findall(text) if _LATIN.search(w) and _OTHER_SCRIPT.search(w)]
