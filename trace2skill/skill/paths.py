"""Which relative paths inside a skill folder may be read, written or edited."""

from __future__ import annotations

import re
import unicodedata

from trace2skill.skill.model import SKILL_MD

_DRIVE = re.compile(r"^[A-Za-z]:")


class PathRefused(ValueError):
    """A path that may not be used inside a skill folder; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def contained_relpath(path: str) -> str:
    """``path`` as a normalised relative posix path that cannot leave the folder it is
    relative to, or raise ``PathRefused``. Any file name is allowed (LICENSE.txt, assets/...)."""
    if not isinstance(path, str) or not path.strip():
        raise PathRefused("empty path")
    path = path.strip()
    # Cf covers invisible direction overrides that make a name read differently than it is.
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in path):
        raise PathRefused(f"control or invisible character in path {path!r}")
    if "\\" in path:
        raise PathRefused(f"backslash in path {path!r} (use '/')")
    if _DRIVE.match(path):
        raise PathRefused(f"Windows drive in path {path!r}")
    if path.startswith("/"):
        raise PathRefused(f"absolute path {path!r}")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts:
        raise PathRefused(f"path {path!r} names the folder itself")
    if ".." in parts:
        raise PathRefused(f"'..' in path {path!r}")
    for part in parts:
        if part != part.strip():
            raise PathRefused(f"path component {part!r} has surrounding whitespace")
    return "/".join(parts)


def relpath_or_none(path: str) -> str | None:
    """``contained_relpath(path)``, or None when the path leaves the folder."""
    try:
        return contained_relpath(path)
    except PathRefused:
        return None


def safe_relpath(path: str, *, allow_scripts: bool = False) -> str:
    """``path`` normalised, if an edit may target it: ``SKILL.md``, ``references/<name>.md``
    or, with ``allow_scripts``, ``scripts/<name>``; otherwise raise ``PathRefused``."""
    rel = contained_relpath(path)
    if rel == SKILL_MD:
        return rel
    parts = rel.split("/")
    top, leaf = parts[0], parts[-1]
    if top == "references":
        if len(parts) == 1:
            raise PathRefused(f"{rel!r} is the folder; name a file in it (references/<name>.md)")
        if len(parts) != 2:
            raise PathRefused(f"{rel!r}: references must be one level deep (references/<name>.md)")
        if not leaf.endswith(".md") or leaf == ".md" or leaf.startswith("."):
            raise PathRefused(f"{rel!r}: a reference must be a visible markdown file (<name>.md)")
        return rel
    if top == "scripts":
        if not allow_scripts:
            raise PathRefused(f"{rel!r}: scripts/ may not be written (allow_scripts is off)")
        if len(parts) != 2 or leaf.startswith("."):
            raise PathRefused(f"{rel!r}: a script must be a visible file directly in scripts/")
        return rel
    raise PathRefused(
        f"{rel!r} is outside what edits may touch (SKILL.md, references/<name>.md, scripts/<name>)"
    )


def is_markdown(relpath: str) -> bool:
    """Whether the file at ``relpath`` is markdown (and so has ``##`` sections)."""
    return relpath.endswith(".md")
