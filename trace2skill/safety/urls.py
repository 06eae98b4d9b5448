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
_MD_LINK = re.compile(r"\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+\"([^\"]*)\")?\s*\)")
_HIDDEN = re.compile(
    r"<!--(.*?)(?:-->|$)|<(\w+)[^>]*(?:display\s*:\s*none|visibility\s*:\s*hidden|\bhidden\b)[^>]*>(.*?)(?:</\2>|$)", re.IGNORECASE | re.DOTALL
)
_TO_MODEL = re.compile(r"\b(?:assistant|ai|agent|model|llm|gpt|claude|chatbot|copilot|system)\b|https?://", re.IGNORECASE)
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
        if re.fullmatch(r"\d+", text):
            addr = ipaddress.ip_address(int(text))
        elif re.fullmatch(r"0x[0-9a-f]+", text, re.IGNORECASE):
            addr = ipaddress.ip_address(int(text, 16))
        else:
            addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    return None if addr.is_loopback or addr.is_link_local or addr.is_unspecified or any(addr in net for net in _LOCAL_NETS) else str(addr)


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
    """Markdown links whose visible text names a host other than the target's."""
    out = []
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
    hidden += [(m.group(1) + " " + (m.group(3) or "")) for m in re.finditer(r"!" + _MD_LINK.pattern, raw)]
    return [h.strip()[:160] for h in hidden if _TO_MODEL.search(h)]


def mixed_script_words(raw: str) -> list[str]:
    """Words that mix Latin letters with look-alike letters of another script (``pаypal`` with a Cyrillic а)."""
    text = unicodedata.normalize("NFKC", raw)
    return [w for w in _WORD.findall(text) if _LATIN.search(w) and _OTHER_SCRIPT.search(w)]
