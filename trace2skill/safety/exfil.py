"""Uploads read from parsed shell commands: what leaves the machine, how, and to where.

A *sink* is a command that sends data out: ``curl``/``wget`` with an upload option, raw
sockets (``nc``, ``socat``), copies to another host (``scp``, ``rsync``) or to a bucket
(``gsutil``, ``aws s3``, ``az``, ``rclone``), and DNS lookups whose name is computed
(``dig $(...).host``). The payload is what the sink reads: named files, its stdin (the
commands upstream of it), substitutions and variables. Credentials are recognised by path
(``.env``, ``~/.ssh``, ``~/.aws``, ``.netrc``, ``.pgpass``, ...), by variable name (``*_KEY``,
``*TOKEN*``, ...) and by source (``env``/``printenv`` dumps, files written from them earlier
in the same block).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from trace2skill.safety.commands import FETCHERS, short
from trace2skill.safety.shell import Command

SECRET_PATH = re.compile(
    r"(?:^|[/~@\s])\.(?:env|ssh|aws|netrc|pgpass|git-credentials|kube|docker|gnupg|npmrc|pypirc|azure|vault-token)\b|\.config/gcloud|"
    r"id_(?:rsa|ed25519|ecdsa|dsa)|credentials|/etc/(?:passwd|shadow)|secrets?\b|\.pem\b|\.key\b|(?:^|/)\.env\b|keychain|cookies",
    re.IGNORECASE,
)
SECRET_VAR = re.compile(r"\$\{?\w*(?:key|token|secret|passw\w*|credential|auth\w*|session|cookie|aws_\w+)\w*\}?", re.IGNORECASE)
_ENV_DUMPERS = frozenset({"env", "printenv", "set", "export", "declare", "compgen"})
_DATA_OPTS = (
    "-d",
    "--data",
    "--data-binary",
    "--data-raw",
    "--data-urlencode",
    "-F",
    "--form",
    "--json",
    "-T",
    "--upload-file",
    "--post-file",
    "--post-data",
    "--body-file",
    "--body-data",
)
_SOCKETS = frozenset({"nc", "ncat", "netcat", "socat", "telnet", "openssl"})
_COPIERS = frozenset({"scp", "rsync", "sftp"})
_BUCKETS = frozenset({"gsutil", "gcloud", "aws", "az", "rclone", "s3cmd", "azcopy", "mc", "b2"})
_DNS = frozenset({"dig", "nslookup", "host", "drill", "ping", "resolvectl"})
_REMOTE = re.compile(r"^(?:[\w.-]+@)?[\w.-]+\.[\w.-]+:|^[a-z][\w+.-]*://|^\w+:(?!/)", re.IGNORECASE)


@dataclass
class Upload:
    """One sink: the destination it sends to, whether it carries local data and whether that data is secret."""

    evidence: str
    destination: str  # a host, a bucket URL or "" (DNS: the lookup itself is the channel)
    local_data: bool
    secret: bool


def uploads(cmd: Command, snippet: list[Command]) -> list[Upload]:
    """The sinks of ``cmd`` (see the module doc)."""
    args = cmd.args
    if cmd.name in FETCHERS:
        data, files = [], []
        for i, a in enumerate(args):
            opt, _, value = a.partition("=") if a.startswith("--") else (a, "", "")
            if opt not in _DATA_OPTS:
                continue
            value = value or (args[i + 1] if i + 1 < len(args) else "")
            data.append(value)
            if opt in ("-T", "--upload-file", "--post-file", "--body-file"):
                files.append(value)
            elif value.startswith("@") or "=@" in value:
                files.append(value.split("@", 1)[1])
        if not data:
            return []
        url = next((a for a in args if "://" in a), "")
        local = bool(files) or any(cmd.subs) or any(SECRET_VAR.search(d) for d in data)
        secret = _secret(files, cmd, snippet) or any(SECRET_VAR.search(d) for d in data)
        return [Upload(short(cmd), urlsplit(url).hostname or url, local, secret)]
    if cmd.name in _SOCKETS:
        host = next((a for a in args if not a.startswith("-") and not a.isdigit()), "")
        return [Upload(short(cmd), host, True, _secret([], cmd, snippet))] if host else []
    if cmd.name in _COPIERS or cmd.name in _BUCKETS:
        plain = [a for a in args if not a.startswith("-")]
        dest = next(
            (
                a
                for a in reversed(plain)
                if _REMOTE.match(a) and "://" not in a or a.startswith(("gs://", "s3://", "az://", "r2://", "b2://")) or ":" in a and cmd.name == "rclone"
            ),
            "",
        )
        sources = [
            a
            for a in plain
            if a != dest and not a.startswith(("gs://", "s3://")) and a not in ("cp", "sync", "mv", "copy", "s3", "storage", "blob", "upload", "put", "rsync")
        ]
        if not dest or not sources:
            return []
        return [Upload(short(cmd), dest, True, _secret(sources, cmd, snippet))]
    if cmd.name in _DNS and (cmd.subs or any("$" in a for a in args)):
        return [Upload(short(cmd), "", True, True)]
    return []


def _secret(files: list[str], cmd: Command, snippet: list[Command]) -> bool:
    """Whether the payload of ``cmd`` holds credentials (module doc)."""
    if any(SECRET_PATH.search(f) for f in files):
        return True
    feeding = [*cmd.upstream, *cmd.all_subs()]
    if any(c.name in _ENV_DUMPERS or any(SECRET_PATH.search(a) for a in c.args) or any(SECRET_VAR.search(a) for a in c.args) for c in feeding):
        return True
    before = snippet[: snippet.index(cmd)] if cmd in snippet else []
    dumped = {t for c in before if c.name in _ENV_DUMPERS or any(SECRET_PATH.search(a) for a in c.args) for op, t in c.redirects if op in (">", ">>")}
    return bool(dumped & set(files))
