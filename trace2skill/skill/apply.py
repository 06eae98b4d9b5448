"""Guarded, deterministic application of a patch to a copy of a skill.

Every edit is either applied whole or refused with a reason; nothing raises. Order of work:
static guards per edit (path, protection, size, required fields), conflict detection
across the patch, then the edits are run in patch order on a copy of the files. A
``create`` of ``references/x.md`` and the SKILL.md edits that link it form an atomic
group: when one side ends up refused the other is withdrawn and the run is repeated.
"""

from __future__ import annotations

import re
from typing import get_args

from dataclasses import dataclass

from pydantic import BaseModel, Field

from trace2skill.schema import Edit, Patch, SectionOp
from trace2skill.skill import ops
from trace2skill.skill.anchors import ANCHOR_MATCH, AnchorRepair, Restater
from trace2skill.skill.conflicts import Target, find_conflicts
from trace2skill.skill.links import mentions
from trace2skill.skill.model import SKILL_MD, Skill, parse_markdown
from trace2skill.skill.once import NEAR_DUPLICATE, Folded, fold_repeats
from trace2skill.skill.paths import PathRefused, contained_relpath, is_markdown, relpath_or_none, safe_relpath
from trace2skill.skill.repair import repair_anchor, repair_section

SECTION_OPS = frozenset(get_args(SectionOp))
# Ops whose content lands in an existing markdown file (and so may carry a link).
CONTENT_OPS = frozenset(
    {"append_to_section", "insert_after", "insert_before", "replace_in_section", "add_section"}
)
# Ops whose content is added to the file (and so is folded when it is already there).
ADDING_OPS = frozenset({"append_to_section", "insert_after", "insert_before", "add_section", "create"})
ANCHOR_OPS = frozenset({"insert_after", "insert_before", "replace_in_section"})
_LEADING_HASHES = re.compile(r"^#+\s+")


class Refusal(BaseModel):
    """An edit that was not applied, and why."""

    edit: Edit
    reason: str


class ApplyResult(BaseModel):
    """The patched copy of the skill, the edits applied (patch order, as applied: repaired
    anchor, repeated lines left out) and those refused; the anchor repairs and folded lines."""

    skill: Skill
    applied: list[Edit] = Field(default_factory=list)
    refused: list[Refusal] = Field(default_factory=list)
    repairs: list[AnchorRepair] = Field(default_factory=list)
    folded: list[Folded] = Field(default_factory=list)


@dataclass(frozen=True)
class _Limits:
    max_edit_chars: int
    max_file_chars: int
    anchor_match: float = ANCHOR_MATCH
    near_duplicate: float = NEAR_DUPLICATE
    restate: Restater | None = None


@dataclass
class _Done:
    """What running one edit did: the edit as applied, its section and anchor repairs, the lines folded."""

    edit: Edit
    repairs: tuple[AnchorRepair, ...] = ()
    folded: tuple[Folded, ...] = ()


def protected_paths(skill: Skill) -> frozenset[str]:
    """The paths a deepen run should pass as ``protected``: every S0 file under ``scripts/``
    and every licence file (``LICENSE*``/``LICENCE*`` at any depth)."""
    found = set()
    for path in skill.files:
        leaf = path.rsplit("/", 1)[-1].upper()
        if path.startswith("scripts/") or leaf.startswith(("LICENSE", "LICENCE")):
            found.add(path)
    return frozenset(found)


def apply_patch(
    skill: Skill,
    patch: Patch,
    *,
    protected: frozenset[str] = frozenset(),
    allow_scripts: bool = False,
    max_edit_chars: int = 20_000,
    max_file_chars: int = 200_000,
    anchor_match: float = ANCHOR_MATCH,
    near_duplicate: float = NEAR_DUPLICATE,
    restate: Restater | None = None,
) -> ApplyResult:
    """Apply ``patch`` to a copy of ``skill`` (which is never mutated).

    Edits address markdown files by ``##`` section title; SKILL.md edits address its body
    only, so the frontmatter cannot be changed by a patch. Conflict reasons start with
    ``"conflict"`` and name the other edit by its 0-based position in the patch.

    Exactly once (``skill.once``): lines already in the target file, or near-identical to
    one there (rapidfuzz ratio >= ``near_duplicate``), are left out of what an edit adds; an
    edit with nothing new left is refused as a duplicate, so applying a patch to its own
    result changes nothing. Anchors (``skill.anchors``): one that does not occur exactly is
    replaced by the closest unique span of its section scoring >= ``anchor_match``, else by
    ``restate``'s answer when that occurs exactly once; else the edit is refused with why.
    """
    edits = list(patch.edits)
    limits = _Limits(max_edit_chars, max_file_chars, anchor_match, near_duplicate, restate)
    guard_protected = _normalise_protected(protected)

    refused: dict[int, str] = {}
    targets: list[Target] = []
    for i, edit in enumerate(edits):
        target_or_reason = _static_check(i, edit, guard_protected, allow_scripts, limits)
        if isinstance(target_or_reason, str):
            refused[i] = target_or_reason
        else:
            targets.append(target_or_reason)
    for i, reason in find_conflicts(targets).items():
        refused[i] = reason
    live = [t for t in targets if t.index not in refused]

    paths = [relpath_or_none(e.path) for e in edits]
    groups = _link_groups(edits, paths)
    for create_index, links in groups.items():
        if not links:
            refused.setdefault(
                create_index,
                f"no edit in this patch links {paths[create_index]} from SKILL.md "
                "(a new reference file is applied only together with its link)",
            )

    base = {SKILL_MD: skill.body.render(), **skill.files}
    texts, done = _settle(base, live, refused, groups, paths, limits)

    new_skill = skill.model_copy(
        deep=True,
        update={
            "body": parse_markdown(texts[SKILL_MD]),
            "files": {p: t for p, t in texts.items() if p != SKILL_MD},
        },
    )
    kept = [done[i] for i in range(len(edits)) if i not in refused]
    return ApplyResult(
        skill=new_skill,
        applied=[d.edit for d in kept],
        refused=[Refusal(edit=e, reason=refused[i]) for i, e in enumerate(edits) if i in refused],
        repairs=[r for d in kept for r in d.repairs],
        folded=[f for d in kept for f in d.folded],
    )


def _normalise_protected(protected: frozenset[str]) -> frozenset[str]:
    out = set()
    for path in protected:
        try:
            out.add(contained_relpath(path))
        except PathRefused:
            continue
    return frozenset(out)


def _static_check(
    index: int, edit: Edit, protected: frozenset[str], allow_scripts: bool, limits: _Limits
) -> Target | str:
    """The edit's target, or the reason it is refused before looking at any file."""
    try:
        path = safe_relpath(edit.path, allow_scripts=allow_scripts)
    except PathRefused as refused:
        return f"unsafe path: {refused.reason}"
    if path in protected:
        return f"{path} is protected"
    for field in ("path", "section", "anchor", "content", "reason"):
        if "\x00" in (getattr(edit, field) or ""):
            return f"NUL character in {field}"
    if len(edit.content) > limits.max_edit_chars:
        return f"content is {len(edit.content)} chars, over the {limits.max_edit_chars} limit"
    section = _clean_title(edit.section)
    problem = _op_problem(edit, path, section)
    if problem:
        return problem
    return Target(
        index=index, edit=edit, path=path, section=section if edit.op in SECTION_OPS else None
    )


def _op_problem(edit: Edit, path: str, section: str | None) -> str | None:
    op = edit.op
    if op in SECTION_OPS:
        if not is_markdown(path):
            return f"{op} needs a markdown file, {path} is not one"
        if not section:
            return f"{op} needs a section title"
    if (
        op in ("insert_after", "insert_before", "replace_in_section")
        and not (edit.anchor or "").strip()
    ):
        return f"{op} needs an anchor (text to find in the section)"
    if (
        op in ("append_to_section", "insert_after", "insert_before", "create")
        and not edit.content.strip()
    ):
        return f"{op} with empty content changes nothing"
    if op in CONTENT_OPS and ops.has_level2_heading(edit.content):
        return "content contains a '## ' heading; new sections must come through add_section"
    if op in ("delete_section", "delete_file") and not edit.reason.strip():
        return f"{op} needs a reason (nothing from the skill is deleted without saying why)"
    if op == "replace_in_section" and not edit.content.strip() and not edit.reason.strip():
        return "replace_in_section with empty content deletes text and needs a reason"
    if op == "delete_file" and path == SKILL_MD:
        return "SKILL.md cannot be deleted"
    return None


def _clean_title(section: str | None) -> str | None:
    # LLMs often quote a heading as "## Title"; the title is what follows the hashes.
    if section is None:
        return None
    return _LEADING_HASHES.sub("", section.strip()).strip() or None


def _settle(
    base: dict[str, str],
    live: list[Target],
    refused: dict[int, str],
    groups: dict[int, list[int]],
    paths: list[str | None],
    limits: _Limits,
) -> tuple[dict[str, str], dict[int, _Done]]:
    """Run the live edits, withdraw the partners of refused create+link edits, and repeat
    until nothing more is withdrawn. Records every refusal in ``refused``; returns the texts
    and what each applied edit did."""
    # Withdrawals only grow, so this settles in at most len(live) + 1 rounds.
    while True:
        texts, run_refused, done = _run(base, [t for t in live if t.index not in refused], limits)
        withdrawn = _pair_withdrawals(groups, {**refused, **run_refused}, paths)
        new = {i: r for i, r in withdrawn.items() if i not in refused and i not in run_refused}
        if not new:
            refused.update(run_refused)
            return texts, done
        refused.update(new)


def _link_groups(edits: list[Edit], paths: list[str | None]) -> dict[int, list[int]]:
    """For every create of a reference file: the SKILL.md edits whose content links it.

    Built from all edits, refused ones included, so a refusal on either side is seen."""
    groups: dict[int, list[int]] = {}
    for i, edit in enumerate(edits):
        created = paths[i]
        if edit.op != "create" or created is None or not created.startswith("references/"):
            continue
        groups[i] = [
            j
            for j, other in enumerate(edits)
            if paths[j] == SKILL_MD and other.op in CONTENT_OPS and mentions(other.content, created)
        ]
    return groups


def _pair_withdrawals(
    groups: dict[int, list[int]], refused: dict[int, str], paths: list[str | None]
) -> dict[int, str]:
    """Edits to withdraw because the other side of their create+link group was refused."""
    out: dict[int, str] = {}
    for create_index, links in groups.items():
        path = paths[create_index]
        if create_index in refused:
            for link in links:
                out.setdefault(
                    link, f"links {path}, whose create was refused ({refused[create_index]})"
                )
        elif links and all(link in refused for link in links):
            out[create_index] = (
                f"the SKILL.md edit linking {path} was refused ({refused[links[0]]})"
            )
    return out


def _run(
    base: dict[str, str], targets: list[Target], limits: _Limits
) -> tuple[dict[str, str], dict[int, str], dict[int, _Done]]:
    """Run ``targets`` on a copy of ``base``, the ones that add a file or section first and
    the rest in patch order (so an edit into a new section does not depend on where the
    patch lists it, and a second run of the patch finds nothing left to do); return the
    texts, the refusals and what each applied edit did."""
    texts = dict(base)
    refused: dict[int, str] = {}
    done: dict[int, _Done] = {}
    for target in sorted(targets, key=lambda t: t.edit.op not in ("create", "add_section")):
        try:
            done[target.index] = _apply_one(texts, target, limits)
        except ops.EditRefused as refusal:
            refused[target.index] = refusal.reason
    return texts, refused, done


def _apply_one(texts: dict[str, str], target: Target, limits: _Limits) -> _Done:
    edit, path = target.edit, target.path
    if edit.op == "create":
        if path in texts:
            raise ops.EditRefused(f"{path} already exists")
        edit, folded = _fold(edit, path, "", limits)
        _check_size(path, "", edit.content, limits)
        texts[path] = edit.content
        return _Done(edit=edit, folded=folded)
    if path not in texts:
        raise ops.EditRefused(f"{path} does not exist")
    if edit.op == "delete_file":
        del texts[path]
        return _Done(edit=edit)
    old = texts[path]
    section, renamed = repair_section(old, path, target.section or "", edit, limits.anchor_match, limits.restate)
    edit = edit.model_copy(update={"section": section}) if renamed else edit
    repair = None
    if edit.op in ANCHOR_OPS:
        edit, repair = repair_anchor(old, path, section, edit, limits.anchor_match, limits.restate)
    edit, folded = _fold(edit, path, old, limits)
    new = _section_edit(old, edit, section)
    _check_size(path, old, new, limits)
    texts[path] = new
    return _Done(edit=edit, repairs=tuple(r for r in (renamed, repair) if r is not None), folded=folded)


def _fold(edit: Edit, path: str, existing: str, limits: _Limits) -> tuple[Edit, tuple[Folded, ...]]:
    """``edit`` without the lines its file already holds; refused when nothing new is left."""
    if edit.op not in ADDING_OPS:
        return edit, ()
    content, folded = fold_repeats(path, edit.content, existing, limits.near_duplicate)
    if not folded:
        return edit, ()
    if not content.strip():
        raise ops.EditRefused(f"duplicate: every line of this edit is already in {path} (e.g. {folded[0].into[:80]!r})")
    return edit.model_copy(update={"content": content}), tuple(folded)


def _section_edit(text: str, edit: Edit, section: str) -> str:
    anchor = edit.anchor or ""
    if edit.op == "append_to_section":
        return ops.append_to_section(text, section, edit.content)
    if edit.op == "insert_after":
        return ops.insert_after(text, section, anchor, edit.content)
    if edit.op == "insert_before":
        return ops.insert_before(text, section, anchor, edit.content)
    if edit.op == "replace_in_section":
        return ops.replace_in_section(text, section, anchor, edit.content)
    if edit.op == "add_section":
        return ops.add_section(text, section, edit.content, after=_clean_title(edit.anchor))
    if edit.op == "delete_section":
        return ops.delete_section(text, section)
    raise ops.EditRefused(f"unknown op {edit.op!r}")


def _check_size(path: str, old: str, new: str, limits: _Limits) -> None:
    # An edit that shrinks an already oversized file is still welcome.
    if len(new) > limits.max_file_chars and len(new) > len(old):
        raise ops.EditRefused(
            f"{path} would be {len(new)} chars, over the {limits.max_file_chars} limit"
        )
