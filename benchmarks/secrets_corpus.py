"""Generated credentials in the places agents leak them, and the ids analysts need, for redaction tests.

Every credential kind of ``trace2skill.redact`` has a generator over its real alphabet and length
(provider prefixes and lengths for token formats; base64 for AWS secret keys; any printable
ASCII for passwords and secrets). Every *position* writes a (key, value) pair the way a producer
does: an ``env`` line, ``export`` with shell quoting, JSON (compact, pretty, and JSON inside a JSON
string), YAML (``yaml.safe_dump``), INI, an HTTP header, a URL's userinfo or query, a CLI flag,
prose. Each case remembers how the secret is *written* in its text (percent-encoded in a URL,
escaped in JSON), so a leak check looks for what is really there.

Values that are, by the redaction rule, references rather than credentials (``$VAR``, ``<...>``,
a mask, a dotted name in an assignment, ...) are regenerated; :data:`REFERENCE_DRAWS` counts them.

Used by ``tests/redact/`` (hypothesis picks the seeds) and ``benchmarks/redaction.py`` (>= 100,000
cases, recall and id survival).
"""

from __future__ import annotations

import base64
import json
import shlex
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from urllib.parse import quote

import yaml

from trace2skill.redact.patterns import is_placeholder, token_value
from trace2skill.redact.scan import code_like, flag_like, is_reference

ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
B64URL = ALNUM + "_-"
HEX = "0123456789abcdef"
# Printable ASCII without white space: what a password or client secret may hold.
PRINTABLE = "".join(chr(c) for c in range(33, 127))

REFERENCE_DRAWS: Counter[str] = Counter()


def rand(rng: Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode().rstrip("=")


def _pem(rng: Random) -> str:
    label = rng.choice(("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY"))
    body = "\n".join(rand(rng, 64, B64) for _ in range(rng.randrange(3, 26)))
    return f"-----BEGIN {label}-----\n{body}\n{rand(rng, 20, B64)}==\n-----END {label}-----"


def _jwt(rng: Random) -> str:
    header = _b64url({"alg": rng.choice(("RS256", "HS256", "ES256")), "typ": "JWT", "kid": rand(rng, 16)})
    payload = _b64url({"sub": f"user_{rng.randrange(10**6)}", "exp": rng.randrange(1.7e9, 1.9e9), "scope": "read write"})
    return f"{header}.{payload}.{rand(rng, rng.choice((43, 86, 342)), B64URL)}"


def _password(rng: Random) -> str:
    return rand(rng, rng.randrange(8, 33), PRINTABLE)


def _token(rng: Random) -> str:
    alphabet, lengths = rng.choice(((HEX, (32, 40, 64)), (B64, (16, 24, 44, 64)), (B64URL, (22, 32, 43)), (ALNUM, (20, 32, 40))))
    return rand(rng, rng.choice(lengths), alphabet)


# kind -> generator of one credential of that kind.
GENERATORS: dict[str, Callable[[Random], str]] = {
    "openai_api_key": lambda r: rng_choice(r, ("sk-proj-" + rand(r, 156, B64URL), "sk-" + rand(r, 48), "sk-svcacct-" + rand(r, 120, B64URL))),
    "anthropic_api_key": lambda r: "sk-ant-api03-" + rand(r, 93, B64URL) + "AA",
    "aws_access_key_id": lambda r: r.choice(("AKIA", "ASIA")) + rand(r, 16, string.ascii_uppercase + "234567"),
    "aws_secret_access_key": lambda r: rand(r, 40, B64),
    "gcp_api_key": lambda r: "AIza" + rand(r, 35, B64URL),
    "github_token": lambda r: rng_choice(r, (r.choice(("ghp_", "gho_", "ghu_", "ghs_", "ghr_")) + rand(r, 36), "github_pat_11" + rand(r, 20, string.ascii_uppercase + string.digits) + "_" + rand(r, 59))),
    "gitlab_token": lambda r: "glpat-" + rand(r, 20, B64URL),
    "slack_token": lambda r: f"xox{r.choice('bpa')}-{r.randrange(10**11, 10**12)}-{r.randrange(10**12, 10**13)}-{rand(r, 24)}",
    "stripe_key": lambda r: r.choice(("sk_live_", "rk_live_", "sk_test_")) + rand(r, r.choice((24, 99))),
    "huggingface_token": lambda r: "hf_" + rand(r, 34),
    "npm_token": lambda r: "npm_" + rand(r, 36),
    "jwt": _jwt,
    "private_key": _pem,
    "bearer_token": lambda r: rng_choice(r, (rand(r, r.randrange(20, 65), B64URL), "ya29.a0" + rand(r, 150, B64URL))),
    "basic_auth": lambda r: base64.b64encode(f"{rand(r, 8, string.ascii_lowercase)}:{_password(r)}".encode()).decode(),
    "url_password": _password,
    "password": _password,
    "token": _token,
    "api_key": lambda r: rand(r, r.choice((16, 20, 32, 40, 48)), r.choice((ALNUM, HEX, B64URL))),
    "secret": lambda r: rng_choice(r, (rand(r, r.randrange(12, 65), PRINTABLE), rand(r, 44, B64), rand(r, 64, HEX))),
}


def rng_choice(rng: Random, options: tuple[str, ...]) -> str:
    return options[rng.randrange(len(options))]


# Key names producers write for each kind: (env name, config key, header name, CLI flag).
KEYS: dict[str, tuple[str, ...]] = {
    "aws_secret_access_key": ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key", "SecretAccessKey", "secret-access-key"),
    "password": ("DB_PASSWORD", "password", "POSTGRES_PASSWORD", "SMTP_PASS", "MYSQL_PWD", "admin_password", "passwd", "db-password"),
    "url_password": ("password",),
    "token": ("GITHUB_TOKEN", "access_token", "refresh_token", "auth-token", "SLACK_BOT_TOKEN", "token"),
    "api_key": ("API_KEY", "api_key", "apiKey", "X-Api-Key", "OPENAI_API_KEY", "api-key"),
    "secret": ("CLIENT_SECRET", "client_secret", "SECRET_KEY", "webhook_secret", "signing_key", "jwt-secret"),
}
# How a flag and a label in prose name each kind.
FLAGS = {
    "password": ("password", "db-password", "passwd", "admin-password"),
    "token": ("token", "auth-token", "github-token", "access-token"),
    "api_key": ("api-key", "apikey", "openai-api-key"),
    "secret": ("client-secret", "secret", "jwt-secret"),
    "aws_secret_access_key": ("aws-secret-access-key", "secret-access-key"),
}
LABELS = {
    "password": ("password", "Password", "db password", "admin password"),
    "token": ("token", "access token", "API token"),
    "api_key": ("API key", "api_key", "access key"),
    "secret": ("client secret", "signing key", "secret"),
    "aws_secret_access_key": ("AWS secret access key", "secret access key"),
}
HEADERS = {"password": "X-Password", "token": "X-Auth-Token", "api_key": "X-Api-Key", "secret": "X-Client-Secret", "aws_secret_access_key": "X-Aws-Secret-Access-Key"}
FORMAT_KEYS = ("API_KEY", "token", "secret_key", "credentials", "auth-token")
POSITIONS = ("env", "export", "json", "json_pretty", "json_in_json", "yaml", "ini", "header", "url_userinfo", "url_query", "cli_flag", "prose")


@dataclass(frozen=True)
class Case:
    """One generated text holding one credential: what it is, where, and how it is written there."""

    kind: str
    position: str
    secret: str
    text: str
    written: tuple[str, ...]  # the secret as it appears in ``text`` (raw, escaped, percent-encoded)


def credential(rng: Random, kind: str, key: str, position: str) -> str:
    """A fresh credential of ``kind`` that is not, by the redaction rule, a reference under ``key`` at ``position``."""
    while True:
        value = GENERATORS[kind](rng)
        if position in SPACED_POSITIONS and kind in ("password", "secret") and rng.random() < 0.2:
            value = value[: len(value) // 2] + " " + value[len(value) // 2 :]
        if not _reads_as_reference(kind, key, value, position):
            return value
        REFERENCE_DRAWS[kind] += 1


# Where a value may hold a space: quoted, or to the end of a YAML line.
SPACED_POSITIONS = ("json", "json_pretty", "json_in_json", "yaml", "export", "cli_flag")
# Where an unquoted value could be code: after ``key:`` (a type annotation), after ``key = `` (an expression).
CODE_SEPARATORS = {"yaml": ":", "header": ":", "prose": ":", "ini": "="}


def _reads_as_reference(kind: str, key: str, value: str, position: str) -> bool:
    if kind not in ("password", "url_password", "secret", "token", "api_key"):
        return False
    sep = CODE_SEPARATORS.get(position)
    return (
        is_placeholder(value)
        or is_reference(key, value)
        or flag_like(value)
        or (kind == "token" and not token_value(value))
        or (sep is not None and code_like(value, sep))
        or value != value.strip()
    )


def _env_name(key: str) -> str:
    return key.upper().replace("-", "_")


def _written(*forms: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for f in forms if f))


def place(rng: Random, kind: str, position: str) -> Case:
    """A text in which a fresh credential of ``kind`` is written at ``position``."""
    fmt_kind = kind not in KEYS
    key = rng.choice(FORMAT_KEYS if fmt_kind else KEYS[kind])
    if kind == "private_key" and position not in ("json", "json_pretty", "json_in_json", "yaml", "prose"):
        position = "prose"  # a multi-line PEM block is a file's content or a JSON/YAML string
    if kind == "basic_auth" and position not in ("json", "json_pretty"):
        position = "header"  # base64 of user:password is only recognisable after its scheme
    if kind == "bearer_token" and position not in ("json", "json_pretty"):
        position = "header"
    if kind == "url_password":
        position = "url_userinfo"
    secret = credential(rng, kind, key, position)
    text, written = _write(rng, kind, position, key, secret)
    if kind == "private_key":  # the BEGIN/END lines are boilerplate; the key material is the body
        written = tuple(piece for form in written for piece in _pem_body_lines(form))
    return Case(kind, position, secret, text, written)


def _pem_body_lines(form: str) -> list[str]:
    lines = form.replace("\\n", "\n").split("\n")
    return [line.strip(" '\"") for line in lines if line.strip(" '\"") and "-----" not in line]


def _write(rng: Random, kind: str, position: str, key: str, secret: str) -> tuple[str, tuple[str, ...]]:
    ctx = f"REGION=eu-west-{rng.randrange(1, 4)}\nHOME=/home/agent\n"
    if position == "env":
        return f"$ env\n{ctx}{_env_name(key)}={secret}\nPATH=/usr/bin:/bin\n", _written(secret)
    if position == "export":
        return f"export {_env_name(key)}={shlex.quote(secret)}\nexport REGION=us-east-1\n./deploy.sh", _written(secret, shlex.quote(secret))
    if position in ("json", "json_pretty", "json_in_json"):
        if kind in ("bearer_token", "basic_auth"):
            scheme = "Bearer" if kind == "bearer_token" else "Basic"
            doc = {"url": "https://api.example.com/v1/orders", "headers": {"Authorization": f"{scheme} {secret}", "Accept": "application/json"}}
        else:
            doc = {"service": "billing", "config": {"user": "deploy-bot", key: secret, "region": "us-east-1"}}
        text = json.dumps(doc, indent=2 if position == "json_pretty" else None)
        encoded = json.dumps(secret)[1:-1]
        if position == "json_in_json":
            text = json.dumps({"stdout": text, "exit_code": 0})
            return text, _written(secret, encoded, json.dumps(encoded)[1:-1])
        return text, _written(secret, encoded)
    if position == "yaml":
        text = yaml.safe_dump({"database": {"host": "db.internal", "user": "app", key: secret}}, width=4096, sort_keys=False)
        return text, _written(secret, *_yaml_forms(secret))
    if position == "ini":
        return f"[default]\nregion = us-east-1\n{key} = {secret}\noutput = json\n", _written(secret)
    if position == "header":
        if kind in ("bearer_token", "basic_auth"):
            line = f"Authorization: {'Bearer' if kind == 'bearer_token' else 'Basic'} {secret}"
        elif kind == "token" and rng.random() < 0.3:
            line = f"Authorization: token {secret}"
        else:
            line = f"{HEADERS.get(kind, 'X-Api-Key')}: {secret}"
        return f"GET /v1/me HTTP/1.1\nHost: api.example.com\n{line}\nAccept: */*\n", _written(secret)
    if position == "url_userinfo":
        encoded = quote(secret, safe="")
        return f"DATABASE_URL=postgres://app:{encoded}@db.internal.example.com:5432/prod", _written(encoded)
    if position == "url_query":
        encoded = quote(secret, safe="")
        param = key if "_" in key or key.islower() else key.lower()
        return f"curl 'https://api.example.com/v1/items?page=2&{param}={encoded}&sort=asc'", _written(encoded)
    if position == "cli_flag":
        flag = rng.choice(FLAGS.get(kind, ("api-key", "token")))
        quoted = shlex.quote(secret)
        sep = rng.choice((" ", "="))
        return f"mysql-cli --host db.internal --{flag}{sep}{quoted} --verbose shop", _written(secret, quoted)
    # prose: a format token stands alone; a position kind needs its key, written like a label
    if kind not in KEYS:
        return f"Sure, I'll use {secret} for the request and report back.", _written(secret)
    return f"Found it in the vault. Log in with {rng.choice(LABELS[kind])}: {secret} and retry the job.", _written(secret)


def _yaml_forms(secret: str) -> tuple[str, ...]:
    dumped = yaml.safe_dump(secret, width=4096).removesuffix("\n...\n").strip()
    return (dumped, dumped[1:-1]) if dumped[:1] in "'\"" else (dumped,)


# --- ids the analysts need ------------------------------------------------------------

FIRST = ("mia", "noah", "olivia", "liam", "emma", "sophia", "ivan", "aarav", "chen", "fatima", "yusuf", "amelia")
LAST = ("li", "garcia", "smith", "kim", "nguyen", "patel", "rossi", "muller", "silva", "khan", "brown", "lopez")


def ids(rng: Random) -> dict[str, str]:
    """One id-like token of each family seen in airline and SWE trajectories."""
    user = f"{rng.choice(FIRST)}_{rng.choice(LAST)}_{rng.randrange(1000, 10000)}"
    return {
        "reservation": rand(rng, 6, string.ascii_uppercase + string.digits),
        "user_id": user,
        "flight": f"{rng.choice(('HAT', 'UA', 'DL', 'BA'))}{rng.randrange(1, 1000):03d}",
        "payment": rng.choice(("credit_card_", "gift_card_", "certificate_")) + str(rng.randrange(10**6, 10**7)),
        "sha": rand(rng, 40, HEX),
        "short_sha": rand(rng, 7, HEX),
        "uuid": "-".join(rand(rng, n, HEX) for n in (8, 4, 4, 4, 12)),
        "call_id": "call_" + rand(rng, 24),
        "request_id": "req_" + rand(rng, 24),
        "instance": f"{rng.choice(('django', 'sympy', 'astropy'))}__{rng.choice(('django', 'sympy', 'astropy'))}-{rng.randrange(10000, 30000)}",
        "path": f"/home/{user}/src/{rng.choice(('django', 'sympy'))}/{rng.choice(('core', 'utils'))}/{rand(rng, 6, string.ascii_lowercase)}.py",
        "version": f"v{rng.randrange(0, 5)}.{rng.randrange(0, 30)}.{rng.randrange(0, 10)}",
    }


def id_text(rng: Random, values: dict[str, str], position: str) -> str:
    """The ids written at ``position`` under the keys producers use for them."""
    items = list(values.items())
    if position in ("env", "export"):
        prefix = "export " if position == "export" else ""
        return "".join(f"{prefix}{k.upper()}={v}\n" for k, v in items)
    if position in ("json", "json_pretty", "json_in_json"):
        text = json.dumps(dict(items), indent=2 if position == "json_pretty" else None)
        return json.dumps({"stdout": text}) if position == "json_in_json" else text
    if position == "yaml":
        return yaml.safe_dump(dict(items), width=4096, sort_keys=False)
    if position == "ini":
        return "[run]\n" + "".join(f"{k} = {v}\n" for k, v in items)
    if position == "header":
        return "".join(f"X-{k.replace('_', '-').title()}: {v}\n" for k, v in items)
    if position in ("url_userinfo", "url_query"):
        return "https://api.example.com/v1/lookup?" + "&".join(f"{k}={quote(v, safe='/')}" for k, v in items)
    if position == "cli_flag":
        return "tool " + " ".join(f"--{k.replace('_', '-')} {shlex.quote(v)}" for k, v in items)
    return (
        f"User {values['user_id']} asked to change reservation {values['reservation']} on flight {values['flight']} "
        f"paid with {values['payment']}. Commit {values['sha']} ({values['short_sha']}) of {values['instance']} at "
        f"{values['version']} touched {values['path']}; trace {values['uuid']}, call {values['call_id']}, {values['request_id']}."
    )


# --- checks ---------------------------------------------------------------------------

WINDOW = 8


def leaked(case: Case, output: str) -> bool:
    """Whether any 8 consecutive characters of the secret, as written, are still in ``output``.

    Pieces that the text around the secret also holds (``"``, a URL's host...) do not count.
    """
    context = case.text
    for form in case.written:
        context = context.replace(form, "\x00")
    present = _windows(output) - _windows(context)
    return any(w in present for form in case.written for w in _windows(form))


def _windows(text: str) -> set[str]:
    n = min(WINDOW, len(text))
    return {text[i : i + n] for i in range(len(text) - n + 1)} if text else set()
