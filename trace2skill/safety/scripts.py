"""Code that a command line carries inline (``python -c``, ``node -e``) and spreadsheet
formulas, as the safety rules read them.

Python is parsed with ``ast``: its calls are resolved through the imports (``import
urllib.request as u`` makes ``u.urlopen`` a network call), and a call is read with what its
arguments hold: a network call whose arguments reach ``os.environ``, ``getenv`` or a
credential file sends secrets; ``exec``/``eval`` of a network call runs fetched code;
``shutil.rmtree`` of home or ``/`` destroys it; ``os.system``/``subprocess`` strings are
shell (``shell_strings``). JavaScript has no parser here: its calls are recognised by name
(``fetch``, ``https.get``, ``eval``, ``new Function``) within the one inline program. A
formula (``=WEBSERVICE``, ``IMPORTXML``, ``IMAGE``, ...) that appends cell values to a URL
sends the sheet to that host.
"""

from __future__ import annotations

import ast
import re

from trace2skill.safety.exfil import SECRET_PATH

_NETWORK_MODULES = ("requests", "httpx", "urllib", "socket", "aiohttp", "http")
_NETWORK_CALLS = frozenset({"get", "post", "put", "patch", "request", "urlopen", "urlretrieve", "send", "sendall", "connect", "create_connection", "Request"})
_DELETERS = frozenset({"shutil.rmtree", "os.removedirs", "os.rmdir"})
_SHELL_CALLS = frozenset({"os.system", "os.popen", "subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output", "subprocess.Popen"})
_JS_NETWORK = re.compile(r"\bfetch\s*\(|\bhttps?['\"]?\s*\)?\s*\.\s*(?:get|request)\s*\(|\baxios\b|XMLHttpRequest|sendBeacon|\bWebSocket\s*\(")
_JS_SECRETS = re.compile(r"process\.env\b(?!\.\w)|process\.env\.\w*(?:key|token|secret|pass)|readFileSync\([^)]*(?:\.ssh|\.aws|\.env|\.netrc|credentials)|document\.cookie", re.IGNORECASE)
_JS_EVAL = re.compile(r"\beval\s*\(|\bnew\s+Function\s*\(|\bvm\.run\w*\s*\(")
_JS_HOME_DELETE = re.compile(r"\brm(?:dir)?Sync\s*\([^)]*(?:homedir\(\)|['\"]/['\"]|['\"]~['\"])")
_FORMULA_UPLOAD = re.compile(r"\b(?:webservice|importxml|importdata|importhtml|importfeed|image|hyperlink|filterxml)\s*\(\s*\"([a-z][\w+.-]*://[^\"]*)\"\s*&", re.IGNORECASE)


def inline_code(name: str, args: list[str]) -> tuple[str, str] | None:
    """(language, program) that a command line runs inline, or None."""
    flags = {"python": ("-c",), "node": ("-e", "--eval", "-p", "--print"), "deno": ("eval",), "bun": ("-e", "--eval")}
    for flag in flags.get(name, ()):
        if flag in args[:-1]:
            return ("python" if name == "python" else "js", args[args.index(flag) + 1])
    return None


def effects(language: str, code: str) -> dict[str, list[str]]:
    """What an inline program does: ``sends_secrets``, ``runs_fetched``, ``deletes_home`` (evidence each)."""
    if language == "js":
        network = _JS_NETWORK.search(code)
        return {
            "sends_secrets": [code[:120]] if network and _JS_SECRETS.search(code) else [],
            "runs_fetched": [code[:120]] if network and _JS_EVAL.search(code) else [],
            "deletes_home": [code[:120]] if _JS_HOME_DELETE.search(code) else [],
        }
    tree = _parse(code)
    out: dict[str, list[str]] = {"sends_secrets": [], "runs_fetched": [], "deletes_home": []}
    if tree is None:
        return out
    aliases = _aliases(tree)
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name, inner = _name(call.func, aliases), [n for a in [*call.args, *(k.value for k in call.keywords)] for n in ast.walk(a)]
        if _is_network(name) and any(_is_secret(n, aliases) for n in inner):
            out["sends_secrets"].append(ast.unparse(call)[:120])
        if name in ("exec", "eval") and any(isinstance(n, ast.Call) and _is_network(_name(n.func, aliases)) for n in inner):
            out["runs_fetched"].append(ast.unparse(call)[:120])
        if name in _DELETERS and any(_is_home(n, aliases) for n in inner):
            out["deletes_home"].append(ast.unparse(call)[:120])
    return out


def shell_strings(code: str) -> list[str]:
    """The constant command lines a Python program hands to the shell (``os.system('...')``)."""
    tree = _parse(code)
    if tree is None:
        return []
    aliases = _aliases(tree)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and _name(n.func, aliases) in _SHELL_CALLS and n.args]
    return [c.args[0].value for c in calls if isinstance(c.args[0], ast.Constant) and isinstance(c.args[0].value, str)]


def formula_uploads(raw: str) -> list[tuple[str, str]]:
    """(evidence, URL) of formulas that append cell values to a URL."""
    return [(m.group(0)[:120], m.group(1)) for m in _FORMULA_UPLOAD.finditer(raw)]


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local names of imported modules and names (``u`` -> ``urllib.request``, ``rmtree`` -> ``shutil.rmtree``)."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update({(a.asname or a.name.split(".")[0]): (a.name if a.asname else a.name.split(".")[0]) for a in node.names})
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.update({(a.asname or a.name): f"{node.module}.{a.name}" for a in node.names})
    return out


def _name(node: ast.AST, aliases: dict[str, str]) -> str:
    """The dotted name a call goes to, with imports resolved (``__import__('os')`` counts as ``os``)."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value, aliases)}.{node.attr}"
    if isinstance(node, ast.Call) and _name(node.func, aliases) == "__import__" and node.args and isinstance(node.args[0], ast.Constant):
        return str(node.args[0].value)
    return ""


def _is_network(name: str) -> bool:
    return name.split(".")[0] in _NETWORK_MODULES and name.rsplit(".", 1)[-1] in _NETWORK_CALLS


def _is_secret(node: ast.AST, aliases: dict[str, str]) -> bool:
    if isinstance(node, (ast.Attribute, ast.Name)) and _name(node, aliases) in ("os.environ", "os.environb"):
        return True
    if isinstance(node, ast.Call) and _name(node.func, aliases) in ("os.getenv", "os.environ.copy"):
        return True
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(SECRET_PATH.search(node.value))


def _is_home(node: ast.AST, aliases: dict[str, str]) -> bool:
    if isinstance(node, ast.Call) and _name(node.func, aliases).endswith(("Path.home", "path.expanduser", "expanduser")):
        return not node.args or (isinstance(node.args[0], ast.Constant) and node.args[0].value in ("~", "~/"))
    return isinstance(node, ast.Constant) and node.value in ("/", "~", "~/", "/home", "/root")
