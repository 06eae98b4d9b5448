"""A checker (``distill --checker``) for coding tasks: apply a proposed patch to a scratch
copy of the task's repository and run its tests.

``python patch_tests.py (--repo PATH | --repos-dir DIR) --test "CMD" TASK_FILE PROPOSAL_FILE OUT_DIR``
prints ``{"pass": bool, "detail": str}``.

The repository is ``--repo``, or ``DIR/<task_id>`` under ``--repos-dir`` (one checkout per
task, e.g. SWE-bench instances at their base commit). It is copied to ``OUT_DIR/repo``, so
the original is never touched; the proposal, a unified diff, is applied there with
``git apply``; then the test command runs in the copy (split like a shell would, never
through one). The check passes when the patch applies and the tests exit 0; the detail is
the end of their output. The test command is the user's, from the checker's own command
line: nothing of the task file is ever executed.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

DETAIL_CHARS = 1500
TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # one path component, never '..' or a separator


def repository(args: argparse.Namespace, task: dict) -> Path:
    """The repository of the task: ``--repo``, or the task's folder under ``--repos-dir``."""
    if args.repo:
        return Path(args.repo)
    task_id = str(task.get("task_id", ""))
    if not TASK_ID.match(task_id):
        raise ValueError(f"task id {task_id[:80]!r} is not a plain folder name")
    return Path(args.repos_dir) / task_id


def judge(args: argparse.Namespace) -> dict:
    """The verdict on the proposal of ``args``."""
    task = json.loads(Path(args.task_file).read_text(encoding="utf-8"))
    try:
        source = repository(args, task)
    except ValueError as exc:
        return {"pass": False, "detail": str(exc)}
    if not source.is_dir():
        return {"pass": False, "detail": f"no repository for this task at {source}"}
    scratch = Path(args.out_dir) / "repo"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(source, scratch, symlinks=True)
    applied = subprocess.run(["git", "apply", "--whitespace=nowarn", str(Path(args.proposal_file).resolve())], cwd=scratch, capture_output=True, text=True)
    if applied.returncode != 0:
        return {"pass": False, "detail": f"the patch does not apply: {applied.stderr.strip()[-DETAIL_CHARS:]}"}
    try:
        tests = subprocess.run(shlex.split(args.test), cwd=scratch, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"pass": False, "detail": f"the tests ran past {args.timeout:g} s"}
    output = (tests.stdout + tests.stderr).strip()[-DETAIL_CHARS:]
    return {"pass": tests.returncode == 0, "detail": f"tests exited {tests.returncode}: {output}"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--repo", help="The repository every task uses.")
    where.add_argument("--repos-dir", help="A folder with one repository per task, named by task id.")
    parser.add_argument("--test", required=True, help="The test command, run in the patched copy.")
    parser.add_argument("--timeout", type=float, default=600.0, help="Seconds the tests may take.")
    parser.add_argument("task_file")
    parser.add_argument("proposal_file")
    parser.add_argument("out_dir")
    verdict = judge(parser.parse_args(argv))
    print(json.dumps(verdict))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
