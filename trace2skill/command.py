"""A user's command template, run as a process group of its own with a timeout.

The plug-in contracts (``evaluate --runner``, ``distill --checker``) take a shell command
with ``{placeholder}`` fields. :func:`build_command` replaces each field the contract names
with its value, shell-quoted, and leaves every other brace alone (a JSON literal in the
command stays as written); :func:`run_in_group` runs the result through the shell in a new
session, so a timeout or a cancelled caller kills the command with every child it started.
Values from a trajectory never reach the command line: contracts pass them in files.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

FIELD_RE = re.compile(r"\{([a-z_]+)\}")
KILL_GRACE_S = 2.0  # between SIGTERM and SIGKILL of a command's process group


def build_command(template: str, values: dict[str, str]) -> str:
    """``template`` with each ``{name}`` of ``values`` replaced by its shell-quoted value; other braces are left alone."""
    return FIELD_RE.sub(lambda m: shlex.quote(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def run_in_group(command: str, *, cwd: Path, stdout: Path, stderr: Path, timeout_s: float | None, env: dict[str, str] | None = None) -> tuple[int | None, bool]:
    """Run ``command`` through the shell in its own process group, its output into the two
    files; (exit code, timed out). The whole group dies on a timeout, on the caller's
    interruption, and after the command ends (what it left running in the background)."""
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            command, shell=True, cwd=cwd, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
        )
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return None, True
        except BaseException:  # the Ray task was cancelled, or the driver interrupted: leave nothing behind
            kill_group(proc)
            raise
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return code, False


def kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group of ``proc``, then SIGKILL whatever of the group is left after a short grace."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    try:  # children that ignored SIGTERM, or outlived the leader
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def tail(path: Path, chars: int = 2000) -> str:
    """The last ``chars`` characters of a text file, stripped."""
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - chars))
        return fh.read().decode("utf-8", "replace").strip()
