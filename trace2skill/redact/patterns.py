"""The patterns of secret redaction: kinds, value checks, and the one compiled regex (key names: ``redact.keys``)."""


from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass

from trace2skill.redact.keys import key_lookbehind, key_variants

PLACEHOLDER = "[REDACTED:{kind}]"
REDACTIONS_KEY = "redactions"

# Kinds found by their format (a value in a credential position that has one of
# these formats is reported under the format's kind).
FORMAT_KINDS = (
    "anthropic_api_key",
    "openai_api_key",
    "aws_access_key_id",
    "gcp_api_key",
    "github_token",
    "gitlab_token",
    "slack_token",
    "stripe_key",
    "huggingface_token",
    "npm_token",
    "jwt",
    "private_key",
)
# Kinds found by their position.
POSITION_KINDS = (
    "bearer_token",
    "basic_auth",
    "url_password",
    "aws_secret_access_key",
    "password",
    "token",
    "api_key",
    "secret",
)
KINDS = FORMAT_KINDS + POSITION_KINDS


# Unquoted values in these forms are code or configuration, not secrets.
NON_SECRET_WORDS = frozenset({"null", "none", "nil", "true", "false", "undefined", "yes", "no", "redacted"})
MASK_CHARS = frozenset("*xX•.#-_")
# A whole value of one of these forms names where a credential is, it is not one.
REFERENCE = re.compile(
    r"\$\{[^{}]*\}"  # ${VAR}, ${VAR:-default}
    r"|\$[A-Z_][A-Z0-9_]*"  # $VAR (an environment variable: upper case)
    r"|\$\(.*\)"  # $(command)
    r"|\{\{.*\}\}"  # {{ template }}
    r"|\{[A-Za-z_][\w.]*\}"  # {name}: a format field
    r"|<[^<>]*>"  # <your-api-key>
    r"|%\([\w.]+\)[sd]"  # %(name)s
    r"|%[A-Za-z_]\w*%",  # %VAR%
    re.DOTALL,
)
# Schemes of an ``Authorization`` header value; the credential is the word after it.
AUTH_SCHEMES = {"bearer": "bearer_token", "basic": "basic_auth", "token": "token", "digest": "token", "apikey": "api_key"}


# --- value checks ----------------------------------------------------------------------


def is_placeholder(value: str) -> bool:
    """Empty, a reference (``${VAR}``, ``$VAR``, ``<your-key>``, ``{{ t }}``...), a mask (``****``), or an earlier redaction."""
    return (
        not value
        or value.startswith("[REDACTED:")  # the pass that wrote it decided where the value ends
        or ("[REDACTED:" in value and len(re.sub(r"\[REDACTED:\w+\]|[^A-Za-z0-9]", "", value)) < 4)
        or set(value) <= MASK_CHARS
        or value.lower() in NON_SECRET_WORDS
        or value.endswith(("...", "\u2026"))  # sk-..., hf_... in docs
        or REFERENCE.fullmatch(value) is not None
    )


def _random_looking(value: str) -> bool:
    """At least two of lower case, upper case and digits: true of generated tokens, not of words or slugs."""
    classes = (
        any(c.islower() for c in value) + any(c.isupper() for c in value) + any(c.isdigit() for c in value)
    )
    return classes >= 2


def _pem_body(value: str) -> bool:
    """A PEM block with key material, not just the ``-----BEGIN ...-----`` line quoted in code."""
    body = value[value.index("-----", 5) + 5 :].split("-----END", 1)[0]
    return sum(c.isalnum() or c in "+/" for c in body[:400]) >= 8  # a block cut short (an excerpt) still counts


# Values under a ``token`` key that are words, not credentials: "token" is also a
# word-piece (``{"token": "Hello"}``) and a kind (``token_type: refresh_token``).
_WORD = re.compile(r"[A-Za-z]?[a-z]+(?:[_-][a-z]+)*|[A-Z]+(?:_[A-Z]+)*|[a-z]+(?:[A-Z][a-z]+)+")


def token_value(value: str) -> bool:
    """Generated, not a word or identifier: 8+ characters without white space, not a word, snake_case or camelCase."""
    if len(value) < 8 or any(c.isspace() for c in value):
        return False
    return _WORD.fullmatch(value) is None


def _has_digit(value: str) -> bool:
    return any(c.isdigit() for c in value)


def _basic_credentials(value: str) -> bool:
    """True if ``value`` is base64 of printable ``user:password``."""
    try:
        decoded = binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return False
    return b":" in decoded and all(32 <= b < 127 for b in decoded)


def _bearer_value(value: str) -> bool:
    return len(value) >= 12 and (_has_digit(value) or (len(value) >= 20 and _random_looking(value)))


# --- the pattern -----------------------------------------------------------------------

# A token starts at a word boundary; "]" counts as a word character there, so a token
# glued to a secret redacted before it is judged the same on a second pass.
_START = r"(?<![A-Za-z0-9_\]])"


@dataclass(frozen=True)
class _Rule:
    """One alternative of the pattern, which starts at the character ``anchor``.

    ``prefix``: a fixed-width regex for the characters of the secret before the anchor
    (the ``sk`` of ``sk-``), checked by a look-behind. ``value``: the secret is the
    ``v<i>`` group, the rest of the match is context that stays. ``check``: a test on
    the secret text; a match that fails it is not a secret and the scan resumes one
    character later.
    """

    anchor: str
    body: str
    kind: str  # "" = decided from the key name before the separator
    prefix: str = ""
    value: bool = False
    check: Callable[[str], bool] | None = None
    flag: bool = False  # a command-line flag (``--password X``): the kind comes from the flag's name

    @property
    def back(self) -> int:
        return len(_atoms(self.prefix))


def _atoms(regex: str) -> list[str]:
    """The single-character pieces of a simple regex: ``[...]`` classes, escapes, characters."""
    return re.findall(r"\[[^\]]*\]|\\.|.", regex)


# A value after a credential key or flag: quoted (with its escapes) or up to a delimiter. A
# comma does not end it (passwords hold commas; a trailing one is dropped when it is read).
VALUE = (
    r'"(?:[^"\\\n]|\\.)*"?'  # "quoted", with JSON escapes
    r'|\\+"[^\n]*'  # \"quoted\" inside a JSON string: its end is found by counting backslashes
    r"|'(?:[^'\n]|''|'\\*\"'\\*\"')*'?"  # 'quoted', YAML's '' and the shell's '"'"' (or '\"'\"') inside
    r"|[^\s\"'`;&|<>(){}\[\]\\]*"  # unquoted, up to a delimiter (empty: a line's rest is read later)
)


def _keyword_body(sep: str, i: int) -> str:
    after = "(?!=[\\s(])>?" if sep == "=" else "(?![:/])=?"  # not ``== `` (a comparison), ``=>`` (a Ruby hash)
    # ``*+``: the value starts after all the spaces (a PEM block after them is the private-key rule's)
    return f"{key_lookbehind(sep)}{after}[ \\t]*+(?!\\\\*[\"']?-----BEGIN)(?P<v{i}>{VALUE})"


def _flag_body() -> str:
    """``--db-password VALUE``: a long flag whose name ends with a credential word, a space, its value."""
    keys = "|".join(regex for _, regex in key_variants())
    return rf"-(?<=(?<![A-Za-z0-9_-])--)(?P<f{{i}}>[A-Za-z0-9_-]*?(?:{keys}))[ \t]++(?P<v{{i}}>{VALUE})"


def _rules() -> list[_Rule]:
    return [
        # "-": sk-ant-..., sk-..., xox?-..., xapp-..., glpat-..., -----BEGIN ... PRIVATE KEY-----
        _Rule("-", r"ant-[A-Za-z0-9_-]{20,}", "anthropic_api_key", prefix="sk", check=_random_looking),
        _Rule("-", r"[A-Za-z0-9_-]{20,}", "openai_api_key", prefix="sk", check=_random_looking),
        _Rule("-", r"[A-Za-z0-9-]{10,}", "slack_token", prefix="xox[abprse]", check=_has_digit),
        _Rule("-", r"[0-9]-[A-Za-z0-9-]{10,}", "slack_token", prefix="xapp"),
        _Rule("-", r"[A-Za-z0-9_-]{20,}", "gitlab_token", prefix="glpat", check=_random_looking),
        _Rule(
            "-",
            r"----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[\s\S]{0,32768}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\]*)",
            "private_key",
            check=_pem_body,
        ),
        # "_": ghp_..., github_pat_..., sk_live_..., hf_..., npm_...
        _Rule("_", r"[A-Za-z0-9]{30,}", "github_token", prefix="gh[pousr]", check=_random_looking),
        _Rule("_", r"pat_[A-Za-z0-9_]{22,}", "github_token", prefix="github", check=_random_looking),
        _Rule("_", r"(?:live|test)_[A-Za-z0-9]{16,}", "stripe_key", prefix="[rs]k", check=_random_looking),
        _Rule("_", r"[A-Za-z0-9]{30,}", "huggingface_token", prefix="hf", check=_random_looking),
        _Rule("_", r"[A-Za-z0-9]{36}", "npm_token", prefix="npm", check=_random_looking),
        # "A": AKIA..., ASIA..., AIza... (the letters after "A" are checked before the boundary)
        _Rule("A", rf"(?:KIA|SIA|BIA|CCA)(?<={_START}A...)[A-Z0-9]{{16}}", "aws_access_key_id"),
        _Rule("A", rf"Iza(?<={_START}AIza)[0-9A-Za-z_-]{{35}}", "gcp_api_key"),
        # "J": eyJ...eyJ... (the JSON header and payload of a JWT)
        _Rule("J", r"[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", "jwt", prefix="ey"),
        # "B"/"b": Bearer <token>, Basic <base64 user:pass>
        *(
            rule
            for b in "Bb"
            for rule in (
                _Rule(
                    b,
                    rf"earer(?<={_START}{b}earer)[ \t]+(?P<v{{i}}>[A-Za-z0-9._~+/-]+=*)",
                    "bearer_token",
                    value=True,
                    check=_bearer_value,
                ),
                _Rule(
                    b,
                    rf"asic(?<={_START}{b}asic)[ \t]+(?P<v{{i}}>[A-Za-z0-9+/]{{8,}}={{0,2}})",
                    "basic_auth",
                    value=True,
                    check=_basic_credentials,
                ),
            )
        ),
        # ":": scheme://user:password@host, then key: value
        _Rule(":", r"//[^\s:/?#@\"'<>\[\]{}\\]*:(?P<v{i}>[^\s/?#\"'<>\\]+)@(?=\w)", "url_password", value=True),
        _Rule("-", _flag_body(), "", value=True, flag=True),
        _Rule(":", "", ""),
        _Rule("=", "", ""),
    ]


RULES = _rules()


def _build() -> re.Pattern[str]:
    """One regex: a branch per anchor character, holding that anchor's rules.

    Every top-level branch starts with a literal, so the compiled pattern gets a
    character-set prefix and the engine only stops at these characters. Rules with a
    prefix sit behind one look-behind on the prefixes' last characters, which rejects
    most of the many ``_`` of snake_case and ``-`` of dates and UUIDs at once.
    """
    plain: dict[str, list[str]] = {}
    prefixed: dict[str, list[str]] = {}
    last_chars: dict[str, set[str]] = {}
    for i, rule in enumerate(RULES):
        if not rule.kind and not rule.flag:
            body = _keyword_body(rule.anchor, i)
        elif rule.prefix:
            body = f"(?<={_START}{rule.prefix}{re.escape(rule.anchor)}){rule.body}"
            last = _atoms(rule.prefix)[-1]
            last_chars.setdefault(rule.anchor, set()).update(last[1:-1] if last.startswith("[") else last)
        else:
            body = rule.body.replace("{i}", str(i))
        (prefixed if rule.prefix else plain).setdefault(rule.anchor, []).append(f"{body}(?P<k{i}>)")
    branches = []
    for anchor in dict.fromkeys(r.anchor for r in RULES):
        bodies = plain.get(anchor, [])
        if anchor in prefixed:
            gate = "".join(sorted(last_chars[anchor]))
            bodies = [*bodies, f"(?<=[{gate}]{re.escape(anchor)})(?:{'|'.join(prefixed[anchor])})"]
        branches.append(re.escape(anchor) + "(?:" + "|".join(bodies) + ")")
    return re.compile("|".join(branches))


PATTERN = _build()

# A whole value that has a token format (to name a credential-position value by its format).
_FORMAT_VALUE = re.compile(
    "|".join(
        f"(?P<{kind}>{rx})"
        for kind, rx in (
            ("anthropic_api_key", r"sk-ant-[A-Za-z0-9_-]{20,}"),
            ("openai_api_key", r"sk-[A-Za-z0-9_-]{20,}"),
            ("slack_token", r"xox[abprse]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,}"),
            ("gitlab_token", r"glpat-[A-Za-z0-9_-]{20,}"),
            ("github_token", r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}"),
            ("stripe_key", r"[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"),
            ("huggingface_token", r"hf_[A-Za-z0-9]{30,}"),
            ("npm_token", r"npm_[A-Za-z0-9]{36}"),
            ("aws_access_key_id", r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"),
            ("gcp_api_key", r"AIza[0-9A-Za-z_-]{35}"),
            ("jwt", r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
        )
    )
)


def format_kind(value: str, default: str) -> str:
    m = _FORMAT_VALUE.fullmatch(value)
    return m.lastgroup if m and m.lastgroup else default
