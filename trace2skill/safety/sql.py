"""SQL as the safety rules read it: statements parsed with ``sqlglot`` (PostgreSQL dialect).

What a statement does to data and rights is read from its syntax tree: the tables a
``DROP``/``TRUNCATE``/``DELETE``/``UPDATE`` touches (scratch objects are fine: a
``scratch``/``tmp``/``temp``/``staging`` schema, a ``tmp_``/``temp_``/``scratch_``/``stage_``
name, or a table the same text created as temporary), and what a ``GRANT``/``ALTER ROLE``/
``CREATE ROLE`` hands out. Statements sqlglot keeps as raw commands (role options) are read
by their keywords. ``sqlglot`` is imported on the first SQL statement (most skills have none).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

_SCRATCH_SCHEMA = re.compile(r"^(?:scratch|tmp|temp|staging|sandbox|pg_temp\w*)$")
_SCRATCH_NAME = re.compile(r"^(?:tmp|temp|scratch|stage|stg)_|_(?:tmp|temp|scratch)$")
# Role names are read by their parts: analytics_owner and db_admin are as powerful as owner and admin.
_POWERFUL_ROLES = re.compile(r"(?:\b|_)(?:pg_\w+|superuser|admin\w*|root|owner|dba|rds_superuser|cloudsqlsuperuser|db_owner|sysadmin)\b", re.IGNORECASE)
_ROLE_POWERS = re.compile(
    r"\b(?:superuser|createrole|createdb|bypassrls|replication|admin\s+option|grant\s+option)\b|\bin\s+(?:role|group)\s+[^;]*?(?:\b|_)(?:pg_\w+|superuser|admin\w*|root|owner|dba|sysadmin)\b",
    re.IGNORECASE,
)
# Switching off row-level security or ownership checks opens every row to every role that can read the table.
_SECURITY_OFF = re.compile(r"\b(?:disable|no\s+force)\s+row\s+level\s+security\b|\bset\s+row_security\s*=?\s*(?:off|false)\b|\bsecurity\s+definer\b", re.IGNORECASE)
_LOG = logging.getLogger("sqlglot")


@lru_cache(maxsize=4096)
def statements(sql: str) -> tuple:
    """The parsed statements of ``sql`` (``sqlglot`` expressions; empty when it is not SQL)."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    level = _LOG.level
    _LOG.setLevel(logging.ERROR)
    try:
        return tuple(e for e in sqlglot.parse(sql, read="postgres") if e is not None)
    except (SqlglotError, ValueError, RecursionError):
        return ()
    finally:
        _LOG.setLevel(level)


def temporary_tables(sql: list[str]) -> set[str]:
    """Tables the given statements create as temporary."""
    from sqlglot import exp

    out = set()
    for s in sql:
        for e in statements(s):
            table = e.this.find(exp.Table) if isinstance(e, exp.Create) and e.this is not None else None
            if table is not None and e.find(exp.TemporaryProperty) is not None:
                out.add(table.name.casefold())
    return out


def destroyed(sql: str, temporary: set[str]) -> list[str]:
    """The non-scratch objects that ``DROP``, ``TRUNCATE`` or an unfiltered ``DELETE``/``UPDATE`` in ``sql`` destroy."""
    from sqlglot import exp

    out = []
    for e in statements(sql):
        if isinstance(e, (exp.Drop, exp.TruncateTable)):
            kind = str(e.args.get("kind") or "table").casefold()
            targets = (
                [e.this] if isinstance(e, exp.Drop) and e.this is not None and not isinstance(e.this, exp.Table) and kind != "table" else e.find_all(exp.Table)
            )
            out += [f"{'truncate' if isinstance(e, exp.TruncateTable) else 'drop ' + kind} {_name(t)}" for t in targets if not _scratch(t, temporary, kind)]
        elif isinstance(e, (exp.Delete, exp.Update)) and _unfiltered(e.args.get("where")):
            table = e.this if isinstance(e.this, exp.Table) else e.find(exp.Table)
            if table is not None and not _scratch(table, temporary, "table"):
                out.append(f"{type(e).__name__.casefold()} {_name(table)} without where")
    return out


def _unfiltered(where) -> bool:
    """No ``WHERE``, or one that reads no column (``WHERE true``, ``WHERE 1=1``): every row."""
    from sqlglot import exp

    return where is None or where.find(exp.Column) is None


def grants_power(sql: str) -> list[str]:
    """Grants to ``PUBLIC``, of all privileges, of powerful roles, role options such as
    ``SUPERUSER`` or membership in a powerful role, and row-level security switched off."""
    from sqlglot import exp

    out = []
    for e in statements(sql):
        text = " ".join(e.sql(dialect="postgres").split())
        head = text.split(" ", 2)
        if isinstance(e, exp.Grant) or head[0].upper() == "GRANT":
            if re.search(
                r"\bto\s+(?:.*\b)?public\b|\ball(?:\s+privileges)?\b|\bwith\s+(?:grant|admin)\s+option\b", text, re.IGNORECASE
            ) or _POWERFUL_ROLES.search(text.split(" TO ")[0] if " TO " in text else text):
                out.append(text[:160])
        elif _SECURITY_OFF.search(text) or (
            head[0].upper() in ("ALTER", "CREATE") and len(head) > 1 and head[1].upper() in ("ROLE", "USER", "GROUP") and _ROLE_POWERS.search(text)
        ):
            out.append(text[:160])
    return out


def runs_program(sql: str) -> list[str]:
    """``COPY ... TO/FROM PROGRAM`` and server-side file or shell functions."""
    return [m.group(0) for m in re.finditer(r"\b(?:to|from)\s+program\b|\b(?:lo_export|pg_read_file|pg_read_binary_file|xp_cmdshell)\s*\(", sql, re.IGNORECASE)]


def _scratch(node, temporary: set[str], kind: str) -> bool:
    from sqlglot import exp

    if kind in ("schema", "database"):
        return bool(_SCRATCH_SCHEMA.match(node.name.casefold()))
    schema, name = ((node.db if isinstance(node, exp.Table) else "").casefold(), node.name.casefold())
    return bool(_SCRATCH_SCHEMA.match(schema) or _SCRATCH_NAME.search(name) or (not schema and name in temporary))


def _name(node) -> str:
    return node.sql(dialect="postgres") if node.key == "table" else node.name
