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

from trace2skill.safety.commands import FETCHERS, git_subcommand, short
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
_CARRIER_OPTS = ("-H", "--header", "-b", "--cookie", "-u", "--user", "-A", "--user-agent", "-e", "--referer", "--headers", "--body")
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
        # Headers, cookies, credentials and the URL's query carry data too: a secret there leaves as surely.
        carried = [v for i, a in enumerate(args) for v in _option_values(args, i, a)]
        carried += [a for a in args if "://" in a and ("$" in a or "?" in a)]
        if not data and not any(SECRET_VAR.search(v) or "$(" in v or "`" in v for v in carried):
            return []
        data += carried
        url = next((a for a in args if "://" in a), "")
        local = bool(files) or any(cmd.subs) or any(SECRET_VAR.search(d) for d in data) or any(cmd.upstream)
        secret = _secret(files, cmd, snippet) or any(SECRET_VAR.search(d) for d in data)
        return [Upload(short(cmd), urlsplit(url).hostname or url, local, secret)]
    stdin_files = [t for op, t in cmd.redirects if op == "<"]
    if cmd.name in _SOCKETS:
        host = next((a for a in args if not a.startswith("-") and not a.isdigit()), "")
        return [Upload(short(cmd), host, True, _secret(stdin_files, cmd, snippet))] if host else []
    if cmd.name == "ssh" and (cmd.upstream or stdin_files):  # what is piped into ssh lands on the other host
        host = next((a for a in args if not a.startswith("-")), "")
        return [Upload(short(cmd), host.rsplit("@", 1)[-1], True, _secret(stdin_files, cmd, snippet))] if host else []
    if cmd.name == "git":
        remote = _pushed_remote(cmd, snippet)
        return [Upload(short(cmd), remote, True, False)] if remote else []
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


def _pushed_remote(cmd: Command, snippet: list[Command]) -> str:
    """The host a ``git push`` sends the repository to, when it pushes to a URL or a remote the same snippet added."""
    sub, args = git_subcommand(cmd)
    if sub != "push":
        return ""
    target = next((a for a in args if not a.startswith("-")), "")
    added = {
        a[1]: a[2] for c in snippet if c.name == "git" for s, a in [git_subcommand(c)] if s == "remote" and len(a) >= 3 and a[0] in ("add", "set-url")
    }
    url = added.get(target, target if "://" in target or re.match(r"^[\w.-]+@[\w.-]+:", target) else "")
    return (urlsplit(url).hostname or url.split("@", 1)[-1].split(":", 1)[0]) if url else ""


def _option_values(args: list[str], i: int, arg: str) -> list[str]:
    """The value of a header-like option at ``args[i]`` (``-H V``, ``--header=V``, ``-HV``)."""
    opt, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
    if opt in _CARRIER_OPTS:
        return [value] if eq else args[i + 1 : i + 2]
    return [arg[2:]] if arg[:2] in ("-H", "-b") and len(arg) > 2 else []


def _secret(files: list[str], cmd: Command, snippet: list[Command]) -> bool:
    """Whether the payload of ``cmd`` holds credentials (module doc)."""
    if any(SECRET_PATH.search(f) for f in files):
        return True
    feeding = [c for u in cmd.upstream for c in (u, *u.all_subs())] + cmd.all_subs()
    if any(c.name in _ENV_DUMPERS or any(SECRET_PATH.search(a) for a in c.args) or any(SECRET_VAR.search(a) for a in c.args) for c in feeding):
        return True
    before = snippet[: snippet.index(cmd)] if cmd in snippet else []
    dumped = {t for c in before if c.name in _ENV_DUMPERS or any(SECRET_PATH.search(a) for a in c.args) for op, t in c.redirects if op in (">", ">>")}
    return bool(dumped & set(files))
