"""Command line: ``trace2skill distill | ingest | inspect | plan | validate | explain | report | evaluate``.

One module per group of commands; each registers its commands on the shared ``app``.
"""

from __future__ import annotations

import os
import sys

import typer

# Each module registers its commands on ``app``; imported in the order --help lists them.
from trace2skill.cli import (
    data,  # noqa: F401
    distill,  # noqa: F401, I001
    evaluate,  # noqa: F401
    plan,  # noqa: F401
    skills,  # noqa: F401
)
from trace2skill.cli.common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, CliError, app

try:  # typer >= 0.20 ships its own copy of click; its exceptions are the ones raised
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on plain click
    from click import exceptions as click_exceptions

__all__ = ["CliError", "app", "main"]


def main() -> None:
    """Entry point: user errors are one line on stderr and a non-zero exit, never a traceback."""
    from trace2skill.ingest import IngestError
    from trace2skill.run.checkpoint import RunError
    from trace2skill.run.recipes import RecipeError
    from trace2skill.skill.folder import SkillError

    try:
        code = app(standalone_mode=False)  # returns the code of a typer.Exit
    except click_exceptions.NoArgsIsHelpError as exc:  # bare `trace2skill`: its help
        typer.echo(exc.format_message())
        sys.exit(0)
    except click_exceptions.UsageError as exc:
        typer.echo(f"error: {exc.format_message()} (see --help)", err=True)
        sys.exit(EXIT_USAGE)
    except click_exceptions.ClickException as exc:
        typer.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(EXIT_INTERRUPTED)
    except (CliError, SkillError, IngestError, RecipeError, RunError, FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except OSError as exc:  # permissions, a full disk, a path that cannot exist: one line, no traceback
        where = f": {exc.filename}" if exc.filename else ""
        typer.echo(f"error: {exc.strerror or exc}{where}", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as exc:  # anything else (Ray failing to start...): still one line; the traceback on request
        if os.environ.get("TRACE2SKILL_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        typer.echo(f"error: {type(exc).__name__}: {first} (set TRACE2SKILL_DEBUG=1 for the traceback)", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else 0)
