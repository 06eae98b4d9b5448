"""Checks over parsed shell commands (``shell.Command``): what a command does, however it
is spelled. Each returns the evidence of its hits (a piece of the command), or nothing.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from trace2skill.safety.shell import Command

FETCHERS = frozenset({"curl", "wget", "fetch", "aria2c", "http", "https", "iwr", "irm", "invoke-webrequest", "invoke-restmethod", "lwp-download", "lynx"})
INTERPRETERS = frozenset(
    {
        "sh",
        "bash",
        "zsh",
        "dash",
        "ksh",
        "fish",
        "csh",
        "tcsh",
        "python",
        "perl",
        "ruby",
        "node",
        "php",
        "pwsh",
        "powershell",
        "iex",
        "invoke-expression",
        "source",
        ".",
        "eval",
        "deno",
        "bun",
        "osascript",
    }
)
_OUTPUT_OPTS = ("-o", "-O", "--output", "--output-document")
PERSISTENCE_PATH = re.compile(
    r"authorized_keys2?$|/etc/sudoers|sudoers\.d|(?:^|/)\.(?:bashrc|bash_profile|bash_login|bash_logout|profile|zshrc|zshenv|zprofile|zlogin|kshrc|cshrc|tcshrc|inputrc)$|"
    r"config\.fish$|^/etc/(?:profile|bash\.bashrc|environment|rc\.local|ld\.so\.preload|passwd|shadow|group|hosts|crontab|cron\.|init\.d|systemd)|"
    r"/var/spool/cron|(?:^|/)\.ssh/(?:config|rc)$|\.config/(?:systemd|autostart)/|/launch(?:agents|daemons)/|\.git/hooks/|"
    # Python runs .pth files and sitecustomize at every start-up.
    r"(?:site|dist)-packages/.*\.pth$|(?:^|/)(?:sitecustomize|usercustomize)\.py$",
    re.IGNORECASE,
)
_PRIVILEGED_GROUPS = re.compile(r"\b(?:sudo|wheel|admin|root|docker|adm|lxd|disk|shadow)\b")
_LOOSE_MODE = re.compile(r"^(?:0?[0-7]?7[0-7][67]|0?[0-7]?[0-7]{2}[2367]|[ugoa]*[+=][rwxXst]*w[rwxXst]*|[ugoa]*[+=][rwxXt]*s[rwxXt]*|[24][0-7]{3})$")
_SYSTEM_TARGET = re.compile(
    r"^(?:/|/\*|~/?\*?|\$\{?home\}?/?\*?|(?:~|\$\{?home\}?)/(?:documents|desktop|downloads|pictures|music|videos|library|\.ssh|\.config|\.gnupg|\.local)/?\*?|/(?:home|root|etc|usr|var|bin|sbin|lib\w*|boot|opt|srv|sys|dev|proc)(?:/\*?)?)$", re.IGNORECASE
)
_DEFAULT_BRANCH = re.compile(r"(?:^|[:+/])(?:main|master|trunk|develop|production|prod|release|default)$")
TEST_PATH = re.compile(
    r"(?:^|/)(?:tests?|__tests__|spec|specs|testing)(?:/|$)|(?:^|/)test_\w+\.py$|_test\.(?:py|go|js|ts)$|\.(?:test|spec)\.[jt]sx?$|\.github/workflows",
    re.IGNORECASE,
)
_HOOK_SKIP = re.compile(r"^(?:skip|husky|husky_skip_hooks|pre_commit_allow_no_config|skip_hooks|no_verify|lefthook)=", re.IGNORECASE)
_INSTALLERS = {
    "pip": ("install",),
    "pipx": ("install", "run"),
    "uv": ("add", "install", "pip"),
    "poetry": ("add",),
    "npm": ("install", "i", "add"),
    "pnpm": ("add", "install", "i"),
    "yarn": ("add",),
    "gem": ("install",),
    "cargo": ("install",),
    "go": ("install", "get"),
    "conda": ("install",),
}
_INDEX_OPTS = ("--index-url", "-i", "--extra-index-url", "--trusted-host", "--registry", "-f", "--find-links", "--source", "--index")


def words(cmd: Command) -> list[str]:
    """The command as one list of words, program first."""
    return [cmd.name, *cmd.args]


def git_subcommand(cmd: Command) -> tuple[str, list[str]]:
    """(subcommand, its arguments) of a ``git`` command, past git's own options (``-c k=v``, ``-C dir``)."""
    args = cmd.args
    while args and args[0].startswith("-"):
        args = args[2:] if args[0] in ("-c", "-C", "--git-dir", "--work-tree", "--namespace") else args[1:]
    return (args[0], args[1:]) if args else ("", [])


def git_config(cmd: Command) -> dict[str, str]:
    """The settings a ``git`` command sets: ``git -c k=v ...`` and ``git config [--global] k v``."""
    out = {}
    for i, a in enumerate(cmd.args[:-1]):
        if a == "-c" and "=" in cmd.args[i + 1]:
            key, _, value = cmd.args[i + 1].partition("=")
            out[key.casefold()] = value
    sub, args = git_subcommand(cmd)
    plain = [a for a in args if not a.startswith("-")]
    if sub == "config" and len(plain) >= 2:
        out[plain[0].casefold()] = plain[1]
    return out


def short(cmd: Command) -> str:
    return " ".join(words(cmd))[:160]


def is_fetch(cmd: Command) -> bool:
    return cmd.name in FETCHERS or any(is_fetch(s) for s in cmd.subs)


def downloaded_files(snippet: list[Command]) -> set[str]:
    """Files that a fetch of the snippet writes (-o FILE, -O FILE, > FILE)."""
    out = set()
    for c in snippet:
        if c.name not in FETCHERS:
            continue
        for i, a in enumerate(c.args):
            if a in _OUTPUT_OPTS and i + 1 < len(c.args) and c.args[i + 1] != "-":
                out.add(c.args[i + 1])
            elif a.startswith(("-O", "-o")) and len(a) > 2 and a[2] not in "-":
                out.add(a[2:])
            elif a.startswith("-") and not a.startswith("--") and a[-1] in "oO" and i + 1 < len(c.args) and c.args[i + 1] != "-":
                out.add(c.args[i + 1])  # a cluster such as -qO FILE
        out |= {t for op, t in c.redirects if op in (">", ">>")}
    return {f.removeprefix("./") for f in out}


def fetch_into_interpreter(cmd: Command, snippet: list[Command]) -> list[str]:
    """A fetch piped into an interpreter, substituted into one, or saved and then run."""
    if cmd.name not in INTERPRETERS and not (cmd.name == "chmod" and any("x" in a for a in cmd.args)) and not cmd.runs_file:
        return []
    if cmd.name in INTERPRETERS and (any(is_fetch(u) for u in cmd.upstream) or any(s.name in FETCHERS for s in cmd.all_subs())):
        return [" | ".join(short(c) for c in [*cmd.upstream, cmd])[:200]]
    saved = downloaded_files(snippet[: snippet.index(cmd)] if cmd in snippet else snippet)
    ran = {a.removeprefix("./") for a in cmd.args if not a.startswith("-")} | {cmd.invoked.removeprefix("./")}
    return [short(cmd)] if saved & ran else []


def persistence_or_privilege(cmd: Command) -> list[str]:
    """Writes to keys, sudoers, shell start-up, cron or system files; crontab installs; joining
    privileged groups; loosening permissions (world-writable, setuid) or taking ownership of system paths."""
    targets = [t for op, t in cmd.redirects if op in (">", ">>", ">|", "&>")]
    if cmd.name in ("tee", "cp", "mv", "install", "ln", "rsync"):
        targets += [a for a in cmd.args if not a.startswith("-")][-1 if cmd.name != "tee" else 0 :]
    if cmd.name == "dd":
        targets += [a[3:] for a in cmd.args if a.startswith("of=")]
    if cmd.name == "sed" and any(a.startswith("-i") for a in cmd.args):
        targets += [a for a in cmd.args if not a.startswith("-")][1:]
    hits = [f"{short(cmd)} (writes {t})" for t in targets if PERSISTENCE_PATH.search(t.strip("'\""))]
    hooks = git_config(cmd).get("core.hookspath") if cmd.name == "git" and git_subcommand(cmd)[0] == "config" else None
    if hooks is not None and ("--global" in cmd.args or "--system" in cmd.args or hooks.startswith(("/", "~", "$"))):
        hits.append(f"{short(cmd)} (hooks run from {hooks})")
    if cmd.name == "crontab" and not {"-l", "-e", "-r"} & set(cmd.args):
        hits.append(short(cmd))
    if cmd.name in ("visudo", "chpasswd", "passwd", "ssh-copy-id"):
        hits.append(short(cmd))
    if cmd.name in ("usermod", "gpasswd", "adduser", "useradd") and _PRIVILEGED_GROUPS.search(" ".join(cmd.args)):
        hits.append(short(cmd))
    if cmd.name == "chmod" and any(_LOOSE_MODE.match(a) for a in cmd.args):
        loose_everywhere = (
            any(_SYSTEM_TARGET.match(a) for a in cmd.args)
            or any("s" in a.split("+")[-1] for a in cmd.args if "+" in a)
            or any(a.startswith(("4", "2")) and len(a) == 4 for a in cmd.args)
        )
        if loose_everywhere or any(a.lstrip("0").startswith("77") or a.endswith("666") for a in cmd.args):
            hits.append(short(cmd))
    if cmd.name == "chown" and any(_SYSTEM_TARGET.match(a) for a in cmd.args):
        hits.append(short(cmd))
    return hits


def destroys_home_or_root(cmd: Command) -> list[str]:
    """Recursive deletes of /, home or system folders; wiping disks."""
    flags = "".join(a[1:] for a in cmd.args if a.startswith("-") and not a.startswith("--"))
    long_flags = {a for a in cmd.args if a.startswith("--")}
    paths = [a for a in cmd.args if not a.startswith("-")]
    if cmd.name == "rm" and (
        "--no-preserve-root" in long_flags
        or (("r" in flags.casefold() or "--recursive" in long_flags) and any(_SYSTEM_TARGET.match(p.strip("'\"")) for p in paths))
    ):
        return [short(cmd)]
    if cmd.name == "find" and paths and _SYSTEM_TARGET.match(paths[0]) and ({"-delete"} & set(cmd.args) or "rm" in cmd.args):
        return [short(cmd)]
    if cmd.name.startswith("mkfs") or (cmd.name in ("dd", "shred") and any(a.startswith(("of=/dev/", "/dev/sd", "/dev/nvme")) for a in cmd.args)):
        return [short(cmd)]
    return []


def force_pushes_default(cmd: Command, snippet: list[Command]) -> list[str]:
    """``git push`` that forces (``-f``, ``--force``, ``+ref``) onto a default branch (named, or the
    branch the snippet checked out when no ref is named), mirrors or deletes one."""
    sub, args = git_subcommand(cmd) if cmd.name == "git" else ("", [])
    if sub != "push":
        return []
    refs = [a for a in args if not a.startswith("-")][1:]
    if not refs:
        before = snippet[: snippet.index(cmd)] if cmd in snippet else []
        checked_out = [a[-1] for c in before if c.name == "git" for s, a in [git_subcommand(c)] if s in ("checkout", "switch") and a]
        refs = checked_out[-1:]
    force = any(a in ("-f", "--force") or a.startswith("--force") or (a.startswith("-") and not a.startswith("--") and "f" in a) for a in args)
    to_default = any(_DEFAULT_BRANCH.search(r.casefold()) for r in refs)
    if "--mirror" in args or (("--delete" in args or "-d" in args) and to_default) or (to_default and (force or any(r.startswith("+") for r in refs))):
        return [short(cmd)]
    return []


def bypasses_checks(cmd: Command) -> list[str]:
    """Commits or pushes that skip the hooks (``--no-verify``, ``SKIP=``, ``HUSKY=0``) and deletes of tests or CI workflows."""
    sub, args = git_subcommand(cmd) if cmd.name == "git" else ("", [])
    if sub in ("commit", "push", "merge", "rebase", "am", "cherry-pick", "revert"):
        no_verify = "--no-verify" in args or (sub == "commit" and any(a.startswith("-") and not a.startswith("--") and "n" in a for a in args))
        if no_verify or any(_HOOK_SKIP.match(a) for a in cmd.assignments) or "core.hookspath" in git_config(cmd):
            return [short(cmd)]
    if _runs_tests(cmd) and cmd.unchecked:
        return [f"{short(cmd)} (its failure is ignored)"]
    if _runs_tests(cmd):
        options = [*cmd.args, *(w for a in cmd.assignments if a.startswith("PYTEST_ADDOPTS=") for w in a.partition("=")[2].split())]
        keyword = next((options[i + 1] for i, a in enumerate(options[:-1]) if a == "-k"), "")
        if any(a.startswith(("--deselect", "--ignore")) for a in options) or re.search(r"\bnot\b", keyword):
            return [f"{short(cmd)} (leaves tests out)"]
    in_place = cmd.name in ("sed", "perl") and any(a.startswith(("-i", "-pi")) for a in cmd.args)
    if in_place and any(TEST_PATH.search(a) for a in cmd.args) and any(re.search(r"assert|expect|skip|def test", a) for a in cmd.args if not TEST_PATH.search(a)):
        return [f"{short(cmd)} (edits the checks of a test)"]
    deleting = cmd.name in ("rm", "unlink", "shred") or (cmd.name == "git" and cmd.args[:1] == ["rm"])
    if deleting and any(TEST_PATH.search(a) for a in cmd.args if not a.startswith("-")):
        return [short(cmd)]
    return []


def _runs_tests(cmd: Command) -> bool:
    if cmd.name in ("python", "uv", "poetry", "pipenv") and "pytest" in cmd.args[:3]:
        return True
    return cmd.name in ("pytest", "py.test", "tox", "nox", "jest", "mocha", "vitest") or (cmd.name in ("npm", "yarn", "pnpm", "make", "go", "cargo") and "test" in cmd.args[:2])


_SOURCE_SETTING = re.compile(r"(?:index[-_]url|find[-_]links|trusted[-_]host|registry)[\"']?\s*[=: ]\s*[\"']?([a-z][\w+.-]*://[^\s\"']+)")


def package_sources(norm: str, named: set[str]) -> list[str]:
    """Package indexes or registries set anywhere (requirements files, ``pip config``, ``.npmrc``,
    ``PIP_INDEX_URL=``) that are neither the default registry nor named by the starting skill."""
    return [f"package source {m.group(1)}" for m in _SOURCE_SETTING.finditer(norm) if not _named_source(m.group(1), named)]


def installs_from_outside(cmd: Command, snippet: list[Command], named: set[str]) -> list[str]:
    """Package installs from a URL, a git remote or an index the starting skill does not name;
    a ``git clone`` whose checkout is then run."""
    verbs = _INSTALLERS.get(cmd.name)
    args = cmd.args
    if cmd.name == "python" and args[:2] == ["-m", "pip"]:
        verbs, args = _INSTALLERS["pip"], args[2:]
    if verbs and args and args[0] in verbs:
        sources = [a for a in args if "://" in a or a.startswith("git+")]
        sources += [args[i + 1] for i, a in enumerate(args[:-1]) if a in _INDEX_OPTS]
        sources += [a.split("=", 1)[1] for a in args if a.startswith(tuple(o + "=" for o in _INDEX_OPTS))]
        return [f"{short(cmd)} (from {s})" for s in sources if not _named_source(s, named)]
    if cmd.name == "git" and args[:1] == ["clone"] and cmd in snippet:
        url = next((a for a in args[1:] if not a.startswith("-")), "")
        later = snippet[snippet.index(cmd) + 1 :]
        runs = [c for c in later if c.runs_file or (c.name in INTERPRETERS | {"make", "pip", "npm"} and c.args)]
        if url and runs and not _named_source(url, named):
            return [f"{short(cmd)} then {short(runs[0])}"]
    return []


def _named_source(source: str, named: set[str]) -> bool:
    """Whether a package source is the default registry or one the starting skill names (for
    shared hosts such as github.com: the same owner)."""
    parts = urlsplit(source.removeprefix("git+"))
    host = (parts.hostname or "").removeprefix("www.")
    if host in ("pypi.org", "files.pythonhosted.org", "registry.npmjs.org", "registry.yarnpkg.com", "rubygems.org", "crates.io", "proxy.golang.org"):
        return True
    if host in ("github.com", "gitlab.com", "bitbucket.org", "raw.githubusercontent.com", "codeberg.org"):
        owner = parts.path.strip("/").split("/")[0].casefold()
        return any(n.startswith(f"{host}/{owner}") for n in named)
    return bool(host) and any(host == n or host.endswith("." + n) for n in named)
