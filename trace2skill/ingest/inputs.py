"""What a folder of inputs holds: trajectory files, label sidecars, and files neither reads.

Agent harnesses write a run's grade next to its trajectory (mini-swe-agent and the SWE-bench
harness write ``<instance>.report.json``; a harness summary lists ``resolved_ids``). Every
command sorts its inputs the same way (:func:`sort_inputs`):

- a file a registered format claims is a trajectory file;
- a file no format claims but :func:`read_labels` reads is a **sidecar**: its labels join
  the trajectories like ``--labels`` (which wins where both name one run);
- any other file is **skipped**, with a warning naming it and why, never the end of the run.

With an explicit ``--format`` every file is read in that format, except files named
``*report.json``, which are taken as sidecars. ``include`` / ``exclude`` are globs matched
against a file's path and its name; a file must match an ``include`` (when given) and no
``exclude``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from trace2skill.ingest.base import UnknownFormatError
from trace2skill.ingest.labels import Label, LabelsError, read_labels
from trace2skill.ingest.registry import detect_format, discover_files

SIDECAR_NAME = "*report.json"  # taken as a sidecar even under an explicit --format


@dataclass
class Inputs:
    """Input files sorted: trajectory files with their format, labels read from sidecars, warnings."""

    files: list[tuple[Path, str]] = field(default_factory=list)
    sidecars: list[Path] = field(default_factory=list)
    labels: dict[str, Label] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # "PATH: why", one per file neither read

    def warnings(self) -> list[str]:
        """One line per skipped file, and one per sidecar read, for every command to print alike."""
        lines = [f"skipped {why}" for why in self.skipped]
        if self.sidecars:
            lines.append(f"{len(self.labels)} label(s) read from {len(self.sidecars)} sidecar file(s) next to the trajectories")
        return lines

    def scoped(self) -> list[tuple[Path, str, str]]:
        """Each trajectory file with its format and id scope: the basename, or the path where two
        inputs share a basename, so trajectory ids never collide."""
        names = Counter(f.name for f, _ in self.files)
        return [(f, fmt, f.name if names[f.name] == 1 else str(f)) for f, fmt in self.files]

    def with_labels(self, given: dict[str, Label] | None) -> dict[str, Label] | None:
        """The sidecars' labels, overridden by ``given`` (``--labels``) where both name a run; None for none."""
        merged = {**self.labels, **(given or {})}
        return merged or None


def selected(path: Path, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """Whether ``path`` passes the ``include`` / ``exclude`` globs (matched against the path and the name)."""

    def hit(globs: Sequence[str]) -> bool:
        return any(fnmatch(str(path), g) or fnmatch(path.name, g) for g in globs)

    return (not include or hit(include)) and not hit(exclude)


def _sidecar(path: Path, why: str, inputs: Inputs) -> None:
    try:
        labels = read_labels(path)
    except (LabelsError, UnicodeDecodeError, OSError) as exc:
        inputs.skipped.append(f"{path}: {why}; not a labels sidecar either ({str(exc).removeprefix(f'{path}: ')})")
        return
    if not labels:
        inputs.skipped.append(f"{path}: {why}; an empty labels sidecar")
        return
    inputs.sidecars.append(path)
    for key, label in labels.items():
        inputs.labels.setdefault(key, label)  # the first sidecar (in path order) that names a run gives its label


def sort_inputs(paths: Iterable[str | Path], fmt: str = "auto", *, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> Inputs:
    """The files under ``paths`` sorted into trajectory files, sidecars and skipped files (rules above).
    A missing input raises FileNotFoundError."""
    inputs = Inputs()
    for path in discover_files(paths):
        if not selected(path, include, exclude):
            continue
        if fmt != "auto":
            if fnmatch(path.name, SIDECAR_NAME):
                _sidecar(path, f"named like a sidecar ({SIDECAR_NAME})", inputs)
            else:
                inputs.files.append((path, fmt))
            continue
        try:
            inputs.files.append((path, detect_format(path)))
        except UnknownFormatError:
            _sidecar(path, "not a recognised trajectory file", inputs)
        except (OSError, UnicodeDecodeError) as exc:
            inputs.skipped.append(f"{path}: cannot be read: {exc}")
    return inputs
