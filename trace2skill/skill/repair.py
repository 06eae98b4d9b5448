"""Repair of what an edit names but its file does not hold as written: the section title,
then the anchor inside it (``skill.anchors`` scores the candidates).

Both follow one rule: the closest unique candidate scoring at least ``threshold`` stands
for what the edit meant; under it the injected ``Restater`` (an LLM, consolidation's) is
asked once, with the edit in view, and its answer is used only when it names exactly one
candidate; else the edit is refused with the reason.
"""

from __future__ import annotations

from trace2skill.schema import Edit
from trace2skill.skill import ops
from trace2skill.skill.anchors import AnchorRepair, Restatement, Restater, SpanMatch, closest_span, closest_title
from trace2skill.skill.model import parse_markdown

# Ops that address an existing section; a delete_section is never redirected to another one.
SECTION_REPAIR_OPS = frozenset({"append_to_section", "insert_after", "insert_before", "replace_in_section"})


def repair_section(text: str, path: str, section: str, edit: Edit, threshold: float, restate: Restater | None) -> tuple[str, AnchorRepair | None]:
    """The title of the section of ``text`` that ``edit``'s ``section`` means; unchanged when
    it is there (or the op adds or deletes a section); refused when no title stands for it."""
    doc = parse_markdown(text)
    if edit.op not in SECTION_REPAIR_OPS or doc.indices_of(section):
        return section, None
    titles = doc.titles()
    match = closest_title(titles, section)
    if match is not None and match.unique and match.score >= threshold:
        how, title = f"fuzzy {match.score:g}", match.span
    else:
        asked = Restatement(kind="section", written=section, body="\n".join(titles), edit=edit)
        title, how = _restated(restate, asked, lambda answer: len(doc.indices_of(answer)) == 1), "restated"
        if title is None:
            raise ops.EditRefused(f"section {section!r} not found in {path}: {_closest(match, threshold, restate, 'title')}")
        title = doc.sections[doc.indices_of(title)[0]].title
    return title, AnchorRepair(path=path, section=title, before=section, after=title, how=how, kind="section")


def repair_anchor(text: str, path: str, section: str, edit: Edit, threshold: float, restate: Restater | None) -> tuple[Edit, AnchorRepair | None]:
    """``edit`` with its anchor replaced by the span of the section it means; unchanged when
    the anchor occurs as written or the section is not there (``ops`` then gives the reason);
    refused when no span can stand for it."""
    doc = parse_markdown(text)
    where = doc.indices_of(section)
    anchor = (edit.anchor or "").strip()
    if len(where) != 1 or not anchor:
        return edit, None
    title, body = doc.sections[where[0]].title, doc.sections[where[0]].body
    replacement = edit.content.strip()
    if edit.op == "replace_in_section" and replacement and replacement in body and anchor not in body.replace(replacement, ""):
        raise ops.EditRefused(f"duplicate: the replacement text is already in section {title!r} (applied before)")
    if anchor in body:
        return edit, None
    match = closest_span(body, anchor)
    if match is not None and match.unique and match.score >= threshold:
        how, span = f"fuzzy {match.score:g}", match.span
    else:
        asked = Restatement(kind="anchor", written=anchor, title=title, body=body, edit=edit)
        span, how = _restated(restate, asked, lambda answer: body.count(answer) == 1), "restated"
        if span is None:
            raise ops.EditRefused(f"anchor text not found in section {title!r}: {_closest(match, threshold, restate, 'anchor')}")
    repair = AnchorRepair(path=path, section=title, before=anchor, after=span, how=how)
    return edit.model_copy(update={"anchor": span}), repair


def _restated(restate: Restater | None, asked: Restatement, fits) -> str | None:
    answer = (restate(asked) or "").strip() if restate is not None else ""
    return answer if answer and fits(answer) else None


def _closest(match: SpanMatch | None, threshold: float, restate: Restater | None, what: str) -> str:
    closest = "no span to compare" if match is None else f"closest {'span' if what == 'anchor' else 'title'} scores {match.score:g}{'' if match.unique else ' and is not unique'}"
    restatement = "no restatement available" if restate is None else f"the restated {what} does not occur exactly once either"
    return f"{closest} (needs {threshold:g}); {restatement}"
