"""The lines of a skill as the rules read them: the text, and the code in it.

A skill mixes prose, fenced code blocks and inline code spans. ``read_lines`` walks the
(numbered) lines once, tracking fences, and hands each line its shell commands
(``shell.parse_shell``: fenced shell blocks whole, so a file downloaded on one line and run
on the next is one story; inline spans and the command part of a prose line alone), its SQL
statements (``sqlglot`` in ``sql``) and, for prose, the text before the code (a line that
warns against a command is not the command).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from trace2skill.safety.powershell import parse_powershell
from trace2skill.safety.shell import Command, parse_shell
from trace2skill.safety.text import deobfuscate, normalise

_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
_SPAN = re.compile(r"`([^`]+)`")
_SHELL_LANGS = frozenset({"", "sh", "bash", "shell", "console", "zsh", "shell-session", "ksh", "fish"})
_PS_LANGS = frozenset({"powershell", "ps1", "pwsh", "ps"})
_MAKE_LANGS = frozenset({"make", "makefile", "mk"})
_YAML_LANGS = frozenset({"yaml", "yml"})
_YAML_SHELL_KEY = re.compile(r"^(\s*)(?:-\s+)?(?:run|script|command|before_script|after_script|entrypoint)\s*:\s*(.*)$")
_YAML_KEY = re.compile(r"^\s*(?:-\s+)?[\w.-]+\s*:(?:\s|$)")
_MAKE_RULE = re.compile(r"^\s*(?:[\w.%/${}() -]+::?(?!=)|[\w.]+\s*[:?+!]?=|\.PHONY|include\b|#)")
_SQL_LANGS = frozenset({"sql", "postgres", "postgresql", "psql", "mysql", "sqlite", "plpgsql", "tsql"})
SQL_START = re.compile(r"^\s*(?:select|with|insert|update|delete|drop|truncate|grant|revoke|alter|create|copy|merge|replace)\b", re.IGNORECASE)
# Programs whose name starts the command part of a prose line ("Then run: curl ... | sh").
_PROGRAMS = (
    r"sudo|curl|wget|bash|sh|zsh|python[0-9.]*|pip[0-9.]*|npm|yarn|pnpm|git|rm|chmod|chown|echo|printf|cat|tee|env|printenv|"
    r"dig|nslookup|host|nc|ncat|scp|rsync|gsutil|aws|az|rclone|tar|crontab|usermod|source|eval|iwr|irm|node|perl|ruby|find|dd|mkfs|alias|ssh|pytest"
)
# PowerShell is told by a Verb-Noun cmdlet or a variable assignment at the start of the code.
_PS_START = re.compile(r"^\s*(?:\$\w+\s*=|(?:invoke|add|set|remove|get|new|start|copy|move|out)-[a-z]+\b)", re.IGNORECASE)
_COMMAND_START = re.compile(rf"(?:^|(?<=[\s:(]))(?:[A-Z_][A-Z0-9_]*=\S*\s+)*(?:{_PROGRAMS})(?=\s|$)")


@dataclass
class Line:
    """One logical line: as written, normalised, and the code that starts on it."""

    n: int
    raw: str
    norm: str
    commands: list[Command] = field(default_factory=list)
    snippet: list[Command] = field(default_factory=list)  # every command of the block or line it belongs to
    sql: list[str] = field(default_factory=list)
    sql_context: list[str] = field(default_factory=list)  # every SQL statement of the text (temporary tables)
    before_code: str = ""  # prose before the first code on the line (normalised)
    in_block: bool = False
    hidden: bool = False  # inside an HTML comment opened on an earlier line (not rendered)


def read_lines(lines: list[tuple[int, str]]) -> list[Line]:
    """``Line`` records for numbered logical lines (all of a text, so fences pair up)."""
    out = [Line(n=n, raw=raw, norm=normalise(raw)) for n, raw in lines]
    shown = {line.n: deobfuscate(line.raw) for line in out}
    i, comment = 0, False
    while i < len(out):
        fence = _FENCE.match(out[i].raw)
        if fence is None or comment:
            out[i].hidden = comment
            comment = (comment or "<!--" in out[i].raw) and "-->" not in out[i].raw.rsplit("<!--", 1)[-1]
            _read_prose(out[i], shown[out[i].n])
            i += 1
            continue
        end = next((j for j in range(i + 1, len(out)) if out[j].raw.strip().startswith(fence.group(1))), len(out))
        _read_block(out[i + 1 : end], fence.group(2).casefold(), shown)
        i = end + 1
    every = [s for line in out for s in line.sql]
    for line in out:
        line.sql_context = every
    return out


def _read_block(block: list[Line], lang: str, shown: dict[int, str]) -> None:
    for line in block:
        line.in_block = True
    text = "\n".join(shown[line.n] for line in block)
    if lang in _SQL_LANGS or (lang == "" and block and SQL_START.match(block[0].raw)):
        _read_sql(block)
    elif lang in _SHELL_LANGS | _PS_LANGS | _MAKE_LANGS | _YAML_LANGS:
        commands = _parse_block(text, lang)
        for c in commands:
            c.line = block[min(c.line, len(block) - 1)].n
        for line in block:
            line.commands = [c for c in commands if c.line == line.n]
            line.snippet = commands


def _parse_block(text: str, lang: str) -> list[Command]:
    """The commands of a fenced block of shell, PowerShell, a Makefile (its recipe lines) or
    CI yaml (the values of ``run:``/``script:`` keys); other lines are blanked so line numbers hold."""
    if lang in _PS_LANGS:
        return parse_powershell(text, 0) or []
    lines = text.split("\n")
    if lang in _MAKE_LANGS:
        # A recipe line runs in a shell; make ignores the failure of one prefixed with "-".
        lines = [_recipe(line) for line in lines]
    elif lang in _YAML_LANGS:
        lines = _yaml_shell(lines)
    return parse_shell("\n".join(lines), 0) or []


def _recipe(line: str) -> str:
    """A Makefile line as shell: a recipe line as it runs, a target or variable line blank
    (lines arrive trimmed, so a recipe is told by not being a rule or an assignment)."""
    if _MAKE_RULE.match(line) or not line.strip():
        return ""
    body = line.strip()
    ignored = body.lstrip("@+").startswith("-")
    body = body.lstrip("@+-").strip()
    return f"{body} || true" if ignored and body else body


def _yaml_shell(lines: list[str]) -> list[str]:
    """CI yaml as shell: the value of a ``run:``/``script:`` key, and the lines of its block
    (``run: |``) up to the next key."""
    out, in_block = [], False
    for line in lines:
        m = _YAML_SHELL_KEY.match(line)
        if m is None and in_block and not _YAML_KEY.match(line):
            out.append(line.strip().removeprefix("- "))
            continue
        value = m.group(2).strip() if m else ""
        in_block = m is not None and value in ("", "|", ">", "|-", ">-")
        quoted = len(value) > 1 and value[0] == value[-1] and value[0] in "'\""
        out.append("" if m is None or in_block else value[1:-1] if quoted else value)
    return out


def _read_sql(block: list[Line]) -> None:
    start, parts = None, []
    for line in block:
        if start is None and SQL_START.match(line.raw):
            start, parts = line, []
        if start is not None:
            parts.append(line.raw)
            if line.raw.rstrip().endswith(";"):
                start.sql.append("\n".join(parts))
                start = None
    if start is not None:
        start.sql.append("\n".join(parts))


def _read_prose(line: Line, text: str) -> None:
    pieces = [(m.start(), m.group(1)) for m in _SPAN.finditer(text)]
    if not pieces:
        # Every place a known program starts: prose before a command parses as words of another.
        pieces = [(m.start(), text[m.start() :].rstrip(" .")) for m in _COMMAND_START.finditer(text)] or [(0, text)]
    for start, code in pieces:
        if SQL_START.match(code):
            line.sql.append(code)
            break
        line.commands += (parse_powershell if _PS_START.match(code) else parse_shell)(code, line.n) or []
    line.snippet = line.commands
    if line.commands or line.sql:
        line.before_code = normalise(text[: pieces[0][0]])
