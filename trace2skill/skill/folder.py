"""Reading and writing skill folders on disk, and the starting skill for create mode."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

import yaml

from trace2skill.skill.model import SKILL_MD, MarkdownDoc, Skill, parse_markdown
from trace2skill.skill.paths import PathRefused, contained_relpath

DEFAULT_MAX_FILE_BYTES = 1_000_000
DEFAULT_MAX_TOTAL_BYTES = 20_000_000
# Editor, VCS and bytecode droppings are not part of a skill and are often binary.
_IGNORED_NAMES = frozenset({"__pycache__"})


class SkillError(Exception):
    """A skill folder that cannot be loaded or written; the message says which file and why."""


def load_skill(
    path: str | os.PathLike[str],
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
) -> Skill:
    """Load the skill folder at ``path``.

    Every file must be UTF-8 text of at most ``max_file_bytes``, all of them together at most
    ``max_total_bytes``, under a name the skill could be written back with; symlinks inside
    the folder are refused (they could point outside it). Entries whose name starts with
    ``.`` and ``__pycache__`` folders are ignored. Raises ``SkillError``.
    """
    root = Path(path)
    if not root.is_dir():
        raise SkillError(f"{root}: not a directory")
    if not (root / SKILL_MD).is_file():
        raise SkillError(f"{root}: no {SKILL_MD} in the folder")
    files = _walk(root)
    total = sum((root / rel).stat().st_size for rel in files)
    if total > max_total_bytes:
        raise SkillError(f"{root}: {len(files)} files of {total} bytes, over the {max_total_bytes}-byte limit per skill")
    texts = {rel: _read_text(root, rel, max_file_bytes) for rel in files}
    skill_md = texts.pop(SKILL_MD)
    frontmatter_raw, data, body = split_frontmatter(skill_md, where=str(root / SKILL_MD))
    return Skill(
        name=data["name"],
        description=data["description"],
        frontmatter=data,
        body=parse_markdown(body),
        files=texts,
        frontmatter_raw=frontmatter_raw,
    )


def split_frontmatter(text: str, *, where: str = SKILL_MD) -> tuple[str, dict[str, Any], str]:
    """Split SKILL.md text into (frontmatter YAML text, its mapping, markdown body).

    Raises ``SkillError`` when the frontmatter is missing, not closed, not a YAML mapping,
    uses YAML aliases, or lacks a string ``name`` and ``description``."""
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        raise SkillError(f"{where}: must start with a '---' YAML frontmatter line")
    close = next((i for i in range(1, len(lines)) if lines[i].rstrip() == "---"), None)
    if close is None:
        raise SkillError(f"{where}: frontmatter is not closed with a '---' line")
    raw = "\n".join(lines[1:close]) + "\n"
    body = "\n".join(lines[close + 1 :])
    try:
        # Aliases can expand exponentially when the mapping is later walked or dumped.
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(raw)):
            raise SkillError(f"{where}: frontmatter uses YAML aliases, which are not allowed")
        data = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise SkillError(f"{where}: frontmatter is not valid YAML ({error})") from error
    except RecursionError:
        raise SkillError(f"{where}: frontmatter is nested too deeply") from None
    if not isinstance(data, dict):
        raise SkillError(f"{where}: frontmatter must be a YAML mapping")
    for key in ("name", "description"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise SkillError(f"{where}: frontmatter needs a non-empty string '{key}'")
    return raw, data, body


def _walk(root: Path) -> list[str]:
    """Relative posix paths of the files to load, refusing symlinks and special files."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d))
        for name in dirnames:
            if (here / name).is_symlink():
                raise SkillError(f"{here / name}: symlinks are not allowed in a skill folder")
        for name in sorted(filenames):
            if _ignored(name):
                continue
            full = here / name
            mode = full.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise SkillError(f"{full}: symlinks are not allowed in a skill folder")
            if not stat.S_ISREG(mode):
                raise SkillError(f"{full}: not a regular file")
            found.append(_writable_name(full.relative_to(root).as_posix(), full))
    return found


def _writable_name(rel: str, full: Path) -> str:
    """``rel`` if the skill can be written back under it (and shown in a prompt), else SkillError."""
    try:
        rel.encode("utf-8")
        if contained_relpath(rel) != rel:
            raise PathRefused(f"it would be written back as {contained_relpath(rel)!r}")
        return rel
    except UnicodeEncodeError:
        raise SkillError(f"{str(full)!r}: file name is not valid UTF-8") from None
    except PathRefused as refused:
        raise SkillError(f"{str(full)!r}: unusable file name ({refused.reason})") from None


def _ignored(name: str) -> bool:
    return name.startswith(".") or name in _IGNORED_NAMES


def _read_text(root: Path, rel: str, max_bytes: int) -> str:
    full = root / rel
    size = full.stat().st_size
    if size > max_bytes:
        raise SkillError(f"{full}: {size} bytes, over the {max_bytes}-byte limit per file")
    data = full.read_bytes()
    if b"\x00" in data:
        raise SkillError(f"{full}: binary file (only UTF-8 text files are supported)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SkillError(
            f"{full}: not UTF-8 text at byte {error.start} (only UTF-8 text files are supported)"
        ) from error
    # Same newline handling as text-mode reads, so CRLF files parse like LF ones.
    return text.replace("\r\n", "\n")


def write_skill(skill: Skill, dest_dir: str | os.PathLike[str]) -> Path:
    """Write ``skill`` as the folder ``dest_dir`` (SKILL.md at its top) and return its path.

    The folder is built next to ``dest_dir`` and renamed into place, so readers never see a
    half-written skill. An existing ``dest_dir`` is replaced only if it is empty or holds a
    SKILL.md (so a mistyped path cannot wipe an unrelated folder). Raises ``SkillError``.
    """
    dest = Path(dest_dir)
    _check_destination(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        _write_files(skill, staging)
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
            os.rename(dest, old / dest.name)
            os.rename(staging, dest)
            shutil.rmtree(old)
        else:
            os.rename(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def _check_destination(dest: Path) -> None:
    if dest.is_symlink():
        raise SkillError(f"{dest}: destination is a symlink; give the real folder")
    if not dest.exists():
        return
    if not dest.is_dir():
        raise SkillError(f"{dest}: exists and is not a directory")
    if any(dest.iterdir()) and not (dest / SKILL_MD).is_file():
        raise SkillError(
            f"{dest}: not empty and not a skill folder (no SKILL.md); refusing to replace it"
        )


def _write_files(skill: Skill, folder: Path) -> None:
    outputs = {SKILL_MD: skill.skill_md(), **skill.files}
    for rel, text in outputs.items():
        try:
            clean = contained_relpath(rel)
        except PathRefused as refused:
            raise SkillError(f"cannot write {rel!r}: {refused.reason}") from refused
        target = folder / clean
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")


def minimal_skill(name: str, description: str) -> Skill:
    """A small valid skill for create mode: a title and short ``When to use``, ``Workflow``
    and ``Pitfalls`` sections for the analysts' patches to grow."""
    title = name.replace("-", " ").strip().capitalize() or name
    body = (
        f"\n# {title}\n\n"
        "## When to use\n\n"
        f"{description.strip()}\n\n"
        "## Workflow\n\n"
        "1. Read the task and restate what a correct result looks like.\n"
        "2. Gather the information the task depends on before acting.\n"
        "3. Act in small steps and check each result before the next step.\n"
        "4. Verify the final result against the task before finishing.\n\n"
        "## Pitfalls\n\n"
        "- Do not assume facts that a tool or the task text can confirm.\n"
    )
    return Skill(
        name=name,
        description=description,
        frontmatter={"name": name, "description": description},
        body=parse_markdown(body),
    )


_NO_OTHER_FILES = "\n(no other files in this skill)\n"
_OTHER_FILES = "Other files in this skill (contents not shown):"


def skill_prompt_view(skill: Skill) -> str:
    """SKILL.md text followed by the other files of the skill (paths, and the ``##`` sections
    of markdown ones), for showing S0 in an LLM prompt without the reference contents."""
    view = skill.skill_md().rstrip("\n") + "\n"
    if not skill.files:
        return view + _NO_OTHER_FILES
    lines = ["", _OTHER_FILES]
    for path in sorted(skill.files):
        titles = _titles(skill.files[path]) if path.endswith(".md") else []
        suffix = f" (sections: {'; '.join(titles)})" if titles else ""
        lines.append(f"- {path}{suffix}")
    return view + "\n".join(lines) + "\n"


def skill_md_titles(view: str) -> list[str]:
    """The ``##`` section titles of SKILL.md's body in a :func:`skill_prompt_view`."""
    skill_md = view.split(_NO_OTHER_FILES, 1)[0].split("\n" + _OTHER_FILES, 1)[0]
    return _titles(split_frontmatter(skill_md)[2])


def _titles(text: str) -> list[str]:
    doc: MarkdownDoc = parse_markdown(text)
    return doc.titles()
