"""PowerShell as the safety rules read it: rewritten into the shell commands it stands for,
then parsed like any shell (``shell.parse_shell``), so every command check applies.

Cmdlets and their aliases map to their POSIX counterparts (``Invoke-RestMethod``/``iwr`` to
``curl``, ``Remove-Item -Recurse`` to ``rm -r``, ``Add-Content -Path P`` to ``>> P``,
``Get-Content`` to ``cat``, ``Invoke-Expression`` and ``[scriptblock]::Create`` to ``iex``);
a ``WebClient().DownloadString(U)`` is a fetch; a parenthesised pipeline is a substitution;
``$env:USERPROFILE``/``$HOME`` are home and backslashes are path separators. Variables
assigned in the snippet are replaced by their expressions first, so a download kept in
``$s`` and run with ``& ([scriptblock]::Create($s))`` is a download run. The mapping reads
what a command does to files, the network and code, not every option of every cmdlet.
"""

from __future__ import annotations

import re

from trace2skill.safety.shell import Command, parse_shell

_CMDLETS = {
    "curl": ("invoke-webrequest", "iwr", "invoke-restmethod", "irm", "start-bitstransfer"),
    "rm": ("remove-item", "ri", "del", "erase", "rd", "rmdir"),
    "cat": ("get-content", "gc", "type"),
    "iex": ("invoke-expression",),
    "cp": ("copy-item", "cpi", "copy"),
    "mv": ("move-item", "mi", "move"),
}
_ALIASES = {alias: posix for posix, names in _CMDLETS.items() for alias in names}
_WRITERS = {"add-content": ">>", "ac": ">>", "set-content": ">", "sc": ">", "out-file": ">"}
_PARAMS = {"-recurse": "-r", "-force": "-f", "-body": "-d", "-infile": "-T", "-outfile": "-o", "-headers": "-H", "-headers:": "-H"}
_DROPPED = ("-uri", "-path", "-literalpath", "-filepath", "-destination", "-raw", "-usebasicparsing", "-nop", "-noprofile", "-noninteractive")
_WITH_VALUE = ("-method", "-encoding", "-executionpolicy", "-windowstyle", "-contenttype")
_ASSIGN = re.compile(r"^\s*\$(\w+)\s*=\s*(.+?)\s*$")
_DOWNLOAD = re.compile(r"\(?\s*new-object\s+(?:system\.)?net\.webclient\s*\)?\s*\.\s*download(?:string|data|file)\s*\(\s*(['\"]?)([^'\")]+)\1[^)]*\)", re.IGNORECASE)
_SCRIPTBLOCK = re.compile(r"&?\s*\(?\s*\[scriptblock\]::create\s*\(\s*(\$\w+|'[^']*'|\"[^\"]*\")\s*\)\s*\)?(?:\.invoke\(\))?", re.IGNORECASE)
_HOST_CALL = re.compile(r"^(?:powershell|pwsh)(?:\.exe)?\b.*?\s-(?:c|command)\s+([\"'])(.*)\1$", re.IGNORECASE | re.DOTALL)
_HOME = re.compile(r"\$env:(?:userprofile|homepath)|\$home\b|\$env:home\b", re.IGNORECASE)


def to_shell(text: str) -> str:
    """``text`` (PowerShell) rewritten as shell (module doc)."""
    if (inner := _HOST_CALL.match(text.strip())) is not None:
        return to_shell(inner.group(2))
    values: dict[str, str] = {}
    out = []
    for statement in re.split(r"\n|;", text):
        if (m := _ASSIGN.match(statement)) is not None:
            values[m.group(1).casefold()] = _statement(m.group(2))
            continue
        out.append(_statement(statement))
    # A variable stands for what was assigned to it (a download stays a download).
    joined = "\n".join(s for s in out if s.strip())
    return re.sub(r"\$(\w+)\b", lambda m: values.get(m.group(1).casefold(), m.group(0)), joined)


def parse_powershell(text: str, first_line: int = 1) -> list[Command] | None:
    """The commands of PowerShell ``text``, read as the shell commands they stand for."""
    return parse_shell(to_shell(text), first_line)


def _statement(text: str) -> str:
    text = _HOME.sub("~", text).replace("\\", "/")
    text = re.sub(r"\$env:(\w+)", r"$\1", text, flags=re.IGNORECASE)
    text = _DOWNLOAD.sub(lambda m: f"$(curl {m.group(2)})", text)
    text = _SCRIPTBLOCK.sub(lambda m: f"iex {m.group(1)}", text)
    text = re.sub(r"(?<!\$)\(([^()]*)\)", lambda m: f"$({_statement(m.group(1))})" if m.group(1).strip() else "", text)
    return " | ".join(_command(part) for part in text.split("|"))


def _command(text: str) -> str:
    words = re.findall(r"\"[^\"]*\"|'[^']*'|\S+", text)
    if not words:
        return ""
    name, args, out = words[0].casefold(), words[1:], []
    if name in _WRITERS:
        value = args[args.index("-Value") + 1] if "-Value" in args[:-1] else ""
        path = next((a for a in args if not a.startswith("-") and a != value), "")
        return f"echo {value} {_WRITERS[name]} {path}"
    skip = False
    for a in args:
        low = a.casefold()
        if skip:
            skip = False
        elif low in _WITH_VALUE:
            skip = True
        elif low in _PARAMS:
            out.append(_PARAMS[low])
        elif low not in _DROPPED:
            out.append(a)
    return " ".join([_ALIASES.get(name, words[0]), *out])
