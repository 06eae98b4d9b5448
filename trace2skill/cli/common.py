"""What every command shares: the Typer app, the one-line user error and input checks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import BaseModel

from trace2skill import __version__
from trace2skill.run.recipes import option_error
from trace2skill.run.suggest import did_you_mean

app = typer.Typer(
    help="Distill LLM-agent trajectories into a transferable Agent Skill.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# Exit codes (README "Exit codes"): 0 done; 1 an error (the one line says which and how to fix it);
# 2 a usage error; validate: 3 flagged, 4 not a valid skill; evaluate: 5 no candidate promoted;
# 130 interrupted (Ctrl-C).
EXIT_ERROR, EXIT_USAGE, EXIT_NOT_PROMOTED, EXIT_INTERRUPTED = 1, 2, 5, 130
RECIPE_HELP = "A recipe of options: a YAML file, or the name of one `trace2skill recipes` lists (e.g. demo); flags override it."


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trace2skill {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Distill LLM-agent trajectories into a transferable Agent Skill."""


# --include / --exclude, on every command that takes inputs (ingest.inputs has the rules).
Include = Annotated[Optional[list[str]], typer.Option("--include", metavar="GLOB", help="Read only input files whose path or name matches GLOB (repeatable).")]
Exclude = Annotated[Optional[list[str]], typer.Option("--exclude", metavar="GLOB", help="Skip input files whose path or name matches GLOB (repeatable).")]


def warn(lines: list[str]) -> None:
    """Input warnings (files skipped, sidecars read) on stderr, the same in every command."""
    for line in lines:
        typer.echo(f"warning: {line}" if line.startswith("skipped") else line, err=True)


class CliError(Exception):
    """An error the user can fix; printed as one line."""


def given(flags: dict) -> dict:
    """The flags the user set (None means not given), nested mappings included."""
    out = {}
    for key, value in flags.items():
        if isinstance(value, dict):
            value = given(value)
            if value:
                out[key] = value
        elif value is not None:
            out[key] = value
    return out


def help_of(model: type[BaseModel], field: str) -> str:
    """The help of a flag that sets ``field`` of ``model``: the field's description, and its
    default where it has a plain one, written as Typer writes the defaults it shows, so a flag
    never restates what the config says and every default reads alike."""
    info = model.model_fields[field]
    default = info.default
    if isinstance(default, (int, float, str)) and not isinstance(default, bool) and default != "":
        return f"{info.description}  [default: {default}]"
    return info.description


first_error = option_error  # a pydantic ValidationError as one line: where, what, and the key meant


def known_format(name: str) -> None:
    """Fail with one line on a --format no reader has, naming the closest one."""
    from trace2skill.ingest import FORMATS

    if name != "auto" and name not in FORMATS:
        raise CliError(f"unknown --format {name!r}{did_you_mean(name, FORMATS)} (known formats: auto, {', '.join(FORMATS)})")


def readable(inputs: list[Path], fmt: str, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> None:
    """Fail in a second, with the fix, when ``inputs`` (less what ``include`` / ``exclude`` leave
    out) hold nothing a run could read under ``fmt`` (before Ray starts and a whole run reads nothing)."""
    from trace2skill.ingest.preflight import readable_files

    require(inputs)
    known_format(fmt)
    readable_files(inputs, fmt, include=include, exclude=exclude)


def output_file(out: Path) -> None:
    """Make the parents of output dataset ``out`` (a folder of part files, written anew); an
    existing folder that holds anything but such parts is an error, so nothing else is overwritten."""
    from trace2skill.parts import PART_GLOB

    if out.is_dir() and (out.suffix != ".parquet" or any(not p.match(PART_GLOB) for p in out.iterdir())):
        raise CliError(f"--out {out} is a folder, not a Parquet dataset; give a new name, e.g. {out / 'trajectories.parquet'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the folder of --out {out}: {exc.strerror or exc}") from None


def require(paths: list[Path]) -> None:
    """Fail with one line when an input path does not exist."""
    for path in paths:
        if not path.exists():
            raise CliError(f"input not found: {path}")


def require_options(*, skill: Path | None = None, labels: Path | None = None, holdout_ids: Path | None = None, skills: Path | None = None) -> None:
    """Fail with one line for the first given option path that is not what it must be."""
    for path, flag in ((skill, "--skill"), (skills, "--skills")):
        if path is not None and not path.is_dir():
            raise CliError(f"{flag} {path} is not a directory")
    for path, what in ((labels, "labels file"), (holdout_ids, "holdout ids file")):
        if path is not None and not path.is_file():
            raise CliError(f"{what} not found: {path}")
