"""Shell commands as the safety rules read them: parsed with ``bashlex`` into commands,
pipes, substitutions and redirections, so a rule cannot be dodged by spelling.

``parse_shell`` turns a snippet (a fenced block, an inline code span, the command part of
a prose line) into ``Command`` records: the program (wrappers such as ``sudo``/``env``
removed, path and case folded), its arguments, its redirections, the commands upstream of
it in a pipeline and the commands inside its substitutions. A snippet the parser refuses
is retried line by line (here-documents cut off), then given up: regex rules still read it.

What a command hands to another shell is read as shell too: the string of ``sh -c``/``bash
-c``/``su -c``/``eval``/``alias name='...'``, a here-document (an interpreter's script, or
any other command's stdin: its substitutions feed the command), and a base64 literal that
``base64 -d`` decodes. Variables assigned earlier in the snippet (``RUN=sh``) are read in
the words that use them (``curl "$U" | $RUN``).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

import bashlex
import bashlex.errors

_WRAPPERS = frozenset({"sudo", "doas", "env", "nohup", "time", "command", "exec", "nice", "stdbuf", "timeout", "xargs"})
_WRAPPER_OPTS_WITH_VALUE = frozenset({"-u", "-g", "-n", "-s", "-k"})
_HEREDOC = re.compile(r"<<-?\s*['\"]?\w+['\"]?")
# Python and node spelled with a version (python3.11) or a path (/usr/bin/python3) are one program.
_VERSIONED = re.compile(r"^(python|pip|pwsh|node|perl|ruby|php)[0-9.]*$")
# Programs whose string argument (after -c) is itself a shell command line.
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "su", "fish"})
_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)\}?")
_DECODERS = frozenset({"base64", "b64decode"})


@dataclass
class Command:
    """One simple command of a snippet."""

    name: str  # the program, e.g. "curl", "sh", "git" ("" for a bare assignment)
    args: list[str]
    line: int  # line number (in the text reviewed) where the command starts
    sudo: bool = False
    assignments: list[str] = field(default_factory=list)
    redirects: list[tuple[str, str]] = field(default_factory=list)  # (">>", "~/.bashrc")
    upstream: list[Command] = field(default_factory=list)  # earlier commands of its pipeline
    subs: list[Command] = field(default_factory=list)  # commands in its substitutions, at any depth
    text: str = ""
    invoked: str = ""  # the program word as written ("./install.sh", "/bin/sh")
    unchecked: bool = False  # its failure is ignored (``cmd || true``, a make recipe's ``-cmd``)

    @property
    def runs_file(self) -> bool:
        """Whether the program is a file named by path (``./install.sh``)."""
        return self.invoked.startswith(("./", "/", "~/", "$"))

    def all_subs(self) -> list[Command]:
        return [c for s in self.subs for c in (s, *s.all_subs())]


def program(word: str) -> str:
    """The program a word names: basename, case folded, version suffix of interpreters dropped."""
    base = word.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].casefold().removesuffix(".exe")
    m = _VERSIONED.match(base)
    return m.group(1) if m else base


def parse_shell(text: str, first_line: int = 1) -> list[Command] | None:
    """The commands of ``text`` (line numbers from ``first_line``), or None if it is not shell."""
    whole = _parse(text, first_line)
    if whole is not None:
        return whole
    out: list[Command] = []
    for i, line in enumerate(text.split("\n")):
        got = _parse(_HEREDOC.sub("", line), first_line + i)
        out += got or []
    return out or None


def _parse(text: str, first_line: int) -> list[Command] | None:
    if not text.strip():
        return None
    try:
        trees = bashlex.parse(text)
    except (bashlex.errors.ParsingError, NotImplementedError, IndexError, AttributeError, TypeError, ValueError, AssertionError):
        return None
    out: list[Command] = []
    starts = [m.end() for m in re.finditer("\n", text)]
    for tree in trees:
        _walk(tree, out, [], text, first_line, starts)
    _resolve_variables(out)
    for cmd in [c for top in out for c in (top, *top.all_subs())]:
        cmd.subs += _inner_shell(cmd)
    return out


def _resolve_variables(commands: list[Command]) -> None:
    """Read ``$NAME`` in program words and arguments as the value assigned to it earlier in the snippet."""
    values: dict[str, str] = {}
    for cmd in commands:
        sub = lambda w: _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), w)
        if cmd.invoked.startswith("$"):
            resolved = sub(cmd.invoked).split()
            if resolved and not resolved[0].startswith("$"):
                cmd.invoked, cmd.name, cmd.args = resolved[0], program(resolved[0]), resolved[1:] + cmd.args
        cmd.args = [sub(a) for a in cmd.args]
        for a in cmd.assignments + (cmd.args if cmd.name in ("export", "declare", "readonly", "set") else []):
            name, eq, value = a.partition("=")
            if eq and re.fullmatch(r"[A-Za-z_]\w*", name):
                values[name] = value


def _inner_shell(cmd: Command) -> list[Command]:
    """The commands of a string that ``cmd`` runs as shell (module doc)."""
    strings: list[str] = []
    if cmd.name in _SHELLS and "-c" in cmd.args[:-1]:
        strings.append(cmd.args[cmd.args.index("-c") + 1])
    elif cmd.name in ("eval", "watch"):
        strings.append(" ".join(cmd.args))
    elif cmd.name == "alias":
        strings += [a.partition("=")[2] for a in cmd.args if "=" in a]
    if cmd.name in _DECODERS and any(a in ("-d", "--decode", "-D") for a in cmd.args):
        strings += [_b64(a) for u in cmd.upstream if u.name in ("echo", "printf") for a in u.args if not a.startswith("-")]
    # A string that is one substitution was read as such already.
    return [c for text in strings if text and not text.startswith(("$(", "`")) for c in parse_shell(text, cmd.line) or []]


def _b64(word: str) -> str:
    try:
        return base64.b64decode(word + "=" * (-len(word) % 4), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def _line_of(pos: int, first_line: int, starts: list[int]) -> int:
    return first_line + sum(1 for s in starts if s <= pos)


def _walk(node, out: list[Command], upstream: list[Command], text: str, first_line: int, starts: list[int]) -> list[Command]:
    """Append the commands under ``node`` to ``out``; return them (for pipelines)."""
    kind = node.kind
    if kind == "command":
        cmd = _command(node, text, first_line, starts)
        cmd.upstream = list(upstream) + cmd.upstream
        out.append(cmd)
        return [cmd]
    if kind == "pipeline":
        seen: list[Command] = []
        for part in node.parts:
            if part.kind != "pipe":
                seen += _walk(part, out, upstream + seen, text, first_line, starts)
        return seen
    found: list[Command] = []
    children = getattr(node, "parts", None) or getattr(node, "list", None) or []
    for i, child in enumerate(children):
        got = _walk(child, out, upstream, text, first_line, starts)
        if got and i + 2 < len(children) and getattr(children[i + 1], "op", "") == "||" and not _fails(children[i + 2]):
            got[-1].unchecked = True
        found += got
    return found


def _fails(node) -> bool:
    """Whether ``node`` is ``exit N`` (N not 0) or ``false``: what keeps a failure a failure after ``||``."""
    words = [p.word for p in getattr(node, "parts", []) if p.kind == "word"]
    return words[:1] == ["false"] or (words[:1] == ["exit"] and words[1:2] not in ([], ["0"]))


def _command(node, text: str, first_line: int, starts: list[int]) -> Command:
    words: list[str] = []
    cmd = Command(name="", args=[], line=_line_of(node.pos[0], first_line, starts), text=text[node.pos[0] : node.pos[1]])
    for part in node.parts:
        if part.kind == "word":
            words.append(part.word)
        elif part.kind == "assignment":
            cmd.assignments.append(part.word)
        elif part.kind == "redirect" and getattr(part, "heredoc", None) is not None:
            # A here-document is the command's stdin: what its substitutions print feeds it.
            body = part.heredoc.value.rsplit("\n", 1)[0] if "\n" in part.heredoc.value else ""
            cmd.upstream += parse_shell(body, _line_of(node.pos[0], first_line, starts)) or []
        elif part.kind == "redirect" and hasattr(part.output, "word"):
            cmd.redirects.append((part.type, part.output.word))
        cmd.subs += _substitutions(part, text, first_line, starts)
    while len(words) > 1 and program(words[0]) in _WRAPPERS:
        cmd.sudo |= program(words[0]) in ("sudo", "doas")
        words = words[1:]
        while words and (words[0].startswith("-") or "=" in words[0]):
            words = words[2:] if words[0] in _WRAPPER_OPTS_WITH_VALUE else words[1:]
    if words:
        cmd.name, cmd.args, cmd.invoked = program(words[0]), words[1:], words[0]
    return cmd


def _substitutions(node, text: str, first_line: int, starts: list[int]) -> list[Command]:
    out: list[Command] = []
    for child in [*(getattr(node, "parts", None) or []), *([node.output] if getattr(node, "kind", "") == "redirect" and hasattr(node.output, "kind") else [])]:
        if child.kind in ("commandsubstitution", "processsubstitution"):
            _walk(child.command, out, [], text, first_line, starts)
        else:
            out += _substitutions(child, text, first_line, starts)
    return out
