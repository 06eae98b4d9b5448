"""Hierarchical merge of patches: an LLM merges up to B patches at a time, level by level.

A merge is shown, per input, the lessons behind it (title, content, failure causes), its
support and its edits, and may leave an input out only by saying why (``dropped``); the
drop is kept on the merged patch for provenance. See ``docs/consolidation.md``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from itertools import zip_longest

from pydantic import BaseModel, Field, field_validator

from trace2skill.analysts.analyze import to_edit
from trace2skill.analysts.context import TokenCounter
from trace2skill.consolidate.models import MAX_CARRIED_LESSONS, MAX_MERGE_EDITS, Dropped, InputDrop, LessonBrief, MergeResult, Proposal, merge_room
from trace2skill.consolidate.view import REFERENCE_BUDGET_TOKENS, call_view
from trace2skill.llm.base import LLMClient, LLMError, Message
from trace2skill.llm.structured import generate, schema_of
from trace2skill.prompting import fence_data, load_prompt
from trace2skill.schema import Edit, Patch, Usage, stable_id

MERGER_DROP = "dropped by the merger: "  # how the reason of an input a merge left out starts
MAX_SHOWN_LESSONS = 6  # lessons shown per input patch (a merged patch carries more up the tree) ...
LESSON_CHARS_PER_INPUT = 1200  # ... within this many characters of lesson text, so that B inputs fit small contexts


class MergeOutcome(BaseModel):
    """One merge call: the merged patch, or the reason it failed (inputs are then kept).
    ``oversize``: the inputs need more room than one call's context leaves (the tree splits them)."""

    patch: Proposal | None = None
    error: str = ""
    oversize: bool = False
    usage: Usage = Field(default_factory=Usage)

    @field_validator("patch", mode="before")
    @classmethod
    def _plain_patch(cls, value: object) -> object:
        return as_proposal(value) if isinstance(value, Patch) else value


class TreeStats(BaseModel):
    merge_calls: int = 0
    failed_merges: int = 0
    forced_merges: int = 0
    levels: int = 0
    calls_per_level: list[int] = Field(default_factory=list)  # merge calls at tree level 1, 2, ...
    usage: Usage = Field(default_factory=Usage)

    def __add__(self, other: TreeStats) -> TreeStats:
        return TreeStats(
            merge_calls=self.merge_calls + other.merge_calls,
            failed_merges=self.failed_merges + other.failed_merges,
            forced_merges=self.forced_merges + other.forced_merges,
            levels=max(self.levels, other.levels),
            calls_per_level=add_per_level(self.calls_per_level, other.calls_per_level),
            usage=self.usage + other.usage,
        )


def add_per_level(a: list[int], b: list[int]) -> list[int]:
    """Element-wise sum of two per-level counts of different depths."""
    return [x + y for x, y in zip_longest(a, b, fillvalue=0)]


MergeFn = Callable[[list[Patch]], MergeOutcome]
# Merges several independent groups; a Serve-backed one sends them all before waiting.
MergeManyFn = Callable[[list[list[Patch]]], list[MergeOutcome]]


def merge_messages(patches: list[Patch], skill_view: str, *, budget_tokens: int = REFERENCE_BUDGET_TOKENS, count_tokens: TokenCounter = lambda t: len(t) // 4) -> list[Message]:
    """The merge prompt: static rules and S0 (with the reference files the inputs edit, whole,
    within ``budget_tokens``: ``view.call_view``) first, then the numbered inputs as data,
    each with its support, the lessons behind it (and their failure causes) and its edits."""
    skill = call_view(skill_view, patches, budget_tokens=budget_tokens, count_tokens=count_tokens)
    brief = next((p.whole_skill for p in patches if isinstance(p, Proposal) and p.whole_skill), None)
    prompt = load_prompt("trace2skill.consolidate", "whole_skill" if brief else "merge")  # the whole-skill pass has its own task
    system = prompt.safe_substitute(skill=skill, room=merge_room(patches), inputs=len(patches), **(brief.model_dump() if brief else {}))
    payload = [
        {
            "input": n,
            "support": p.support,
            "topic": p.topic,
            "lessons": _shown_lessons(_lessons(p)),
            "edits": [e.model_dump(exclude_none=True) for e in p.edits],
            **({"alternatives": [e.model_dump(exclude_none=True) for e in p.alternatives]} if isinstance(p, Proposal) and p.alternatives else {}),
        }
        for n, p in enumerate(patches, start=1)
    ]
    user = f"<patches>\n{fence_data(json.dumps(payload, ensure_ascii=False, indent=1))}\n</patches>"  # lesson text is data
    return [Message(role="system", content=system), Message(role="user", content=user)]


def _lessons(patch: Patch) -> list[LessonBrief]:
    return patch.lessons if isinstance(patch, Proposal) else []


def _shown_lessons(lessons: list[LessonBrief]) -> list[dict]:
    """The first lessons of an input, whole, while they fit ``LESSON_CHARS_PER_INPUT``
    (the first one always, cut to it)."""
    out: list[dict] = []
    room = LESSON_CHARS_PER_INPUT
    for lesson in lessons[:MAX_SHOWN_LESSONS]:
        shown = {"title": lesson.title, "kind": lesson.kind, "content": lesson.content}
        if lesson.causes:
            shown["causes"] = lesson.causes
        size = sum(len(str(v)) for v in shown.values())
        if size > room:
            if out:
                break
            shown = {"title": lesson.title, "kind": lesson.kind, "content": lesson.content[: max(room - len(lesson.title), 0)]}
            size = room
        out.append(shown)
        room -= size
    return out


def union_provenance(patches: list[Patch], *, ids_from: list[Patch] | None = None) -> dict:
    """Provenance of a merge: union of lesson and trajectory ids; support = distinct
    trajectories. The merged id is derived from ``ids_from`` (default: ``patches``)."""
    lesson_ids = sorted({i for p in patches for i in p.lesson_ids})
    trajectory_ids = sorted({i for p in patches for i in p.trajectory_ids})
    topics = Counter(p.topic for p in (patches or ids_from or []))
    topic = sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if topics else ""
    return {
        "id": stable_id(*sorted(p.id for p in (ids_from or patches)), prefix="m-"),
        "lesson_ids": lesson_ids,
        "trajectory_ids": trajectory_ids,
        "support": len(trajectory_ids),
        "topic": topic,
    }


def answer_tokens(patches: list[Patch], analysis_chars: int) -> int:
    """The room a merge or fix answer needs: the inputs' edits once more (a merge rewrites at
    most what it is given), its reasoning (``analysis_chars``, 0 when the schema has none)
    and a resolution per input, at ~3 characters a token (JSON escapes), plus the JSON around them."""
    chars = sum(len(e.model_dump_json()) for p in patches for e in p.edits) + analysis_chars + 300 * len(patches)
    return chars // 3 + 256


def reference_budget(patches: list[Patch], context_tokens: int | None, schema: dict | None) -> int:
    """Tokens for the reference files one call shows: half of what the context leaves after
    the answer's room (the rules, SKILL.md and the inputs need the rest), or
    ``REFERENCE_BUDGET_TOKENS`` when the context is not known."""
    if context_tokens is None:
        return REFERENCE_BUDGET_TOKENS
    return max(0, context_tokens - answer_tokens(patches, analysis_chars(schema))) // 2


def analysis_chars(schema: dict | None) -> int:
    """The reasoning an engine's ``schema`` of ``MergeResult`` allows (0 when it has none)."""
    return (schema or schema_of(MergeResult))["properties"].get("analysis", {}).get("maxLength", 0)


def output_room(llm: LLMClient, messages: list[Message], patches: list[Patch], context_tokens: int | None, max_tokens: int, schema: dict | None) -> int | None:
    """``max_tokens`` when no context is given; else what the answer needs (``answer_tokens``
    with the reasoning the engine's ``schema`` allows), or None when the context left after
    the prompt is less (the inputs must be split)."""
    if context_tokens is None:
        return max_tokens
    need = answer_tokens(patches, analysis_chars(schema))
    left = context_tokens - sum(llm.count_tokens(m.content) for m in messages)
    return need if need <= left else None


def merge_patches(
    patches: list[Patch],
    skill_view: str,
    llm: LLMClient,
    *,
    max_tokens: int = 1024,
    retries: int = 2,
    schema: dict | None = None,
    context_tokens: int | None = None,
) -> MergeOutcome:
    """Merge ``patches`` into one conflict-free patch with one LLM call (validated, retried).

    The merged patch's ``notes`` keep the conflict resolutions of its inputs and add this
    call's, so a resolution made low in the tree is still on record at the top. Inputs the
    merger drops leave the provenance (lessons, trajectories, support) and are recorded
    with its reason; exact repeats among the returned edits are kept once. A single patch
    is reviewed the same way (the merger may drop it, with its reason).

    With ``context_tokens`` the answer's room follows the inputs (``output_room``) rather
    than ``max_tokens``; inputs too large for one call are not sent (``oversize``)."""
    messages = merge_messages(patches, skill_view, budget_tokens=reference_budget(patches, context_tokens, schema), count_tokens=llm.count_tokens)
    room = output_room(llm, messages, patches, context_tokens, max_tokens, schema)
    if room is None:
        return MergeOutcome(error=f"{len(patches)} inputs need more room than one call's context of {context_tokens} tokens", oversize=True)
    try:
        result, usage = generate(llm, messages, MergeResult, max_tokens=room, retries=retries, schema=schema)
    except LLMError as exc:
        return MergeOutcome(error=str(exc), usage=exc.usage)
    except ValueError as exc:  # e.g. a prompt longer than the engine's context: the inputs stay unmerged
        return MergeOutcome(error=f"{type(exc).__name__}: {exc}")
    gone = {d.input - 1: d for d in result.dropped if d.input <= len(patches)}
    kept = [p for i, p in enumerate(patches) if i not in gone]
    notes = [line for p in patches for line in p.notes.splitlines() if line.strip()] + [r for r in result.resolutions if r.strip()]
    dropped = [d for p in patches for d in as_proposal(p).dropped] + [_merger_drop(patches[i], d) for i, d in sorted(gone.items())]
    lessons = {lesson.id: lesson for p in sorted(kept, key=lambda p: -p.support) for lesson in _lessons(p)}
    merged = Proposal(
        edits=_unique([to_edit(e) for e in result.edits]),
        notes="\n".join(notes),
        lessons=list(lessons.values())[:MAX_CARRIED_LESSONS],
        dropped=dropped,
        **union_provenance(kept, ids_from=patches),
    )
    return MergeOutcome(patch=merged, usage=usage)


def as_proposal(patch: Patch) -> Proposal:
    """``patch`` as a ``Proposal`` (no lessons known when it is a plain patch)."""
    return patch if isinstance(patch, Proposal) else Proposal(**patch.model_dump())


def _merger_drop(patch: Patch, drop: InputDrop) -> Dropped:
    content = "\n".join(e.content for e in patch.edits) or "\n".join(lesson.content for lesson in _lessons(patch))
    return Dropped(
        reason=MERGER_DROP + (drop.reason.strip() or "no reason given"),
        cluster_label=patch.topic,
        lesson_ids=list(patch.lesson_ids),
        trajectory_ids=list(patch.trajectory_ids),
        content=content[:500],
        input=drop.input,
    )


def _unique(edits: list[Edit]) -> list[Edit]:
    seen: set[str] = set()
    out = []
    for edit in edits:
        key = edit.model_dump_json()
        if key not in seen:
            seen.add(key)
            out.append(edit)
    return out


def sequential(merge: MergeFn) -> MergeManyFn:
    """A ``MergeManyFn`` that runs ``merge`` on each group in turn."""
    return lambda groups: [merge(g) for g in groups]


def single(merge_many: MergeManyFn) -> MergeFn:
    """A ``MergeFn`` that sends its one group through ``merge_many``."""
    return lambda patches: merge_many([patches])[0]


def merge_groups(level: list[Patch], fan_in: int) -> list[list[Patch]]:
    """``level`` cut in order into groups of at most ``fan_in`` patches whose edits together
    fit one merge answer (``MAX_MERGE_EDITS``); a patch larger than that is a group alone."""
    groups: list[list[Patch]] = []
    for patch in level:
        last = groups[-1] if groups else None
        if last is not None and len(last) < fan_in and sum(len(p.edits) for p in last) + len(patch.edits) <= MAX_MERGE_EDITS:
            last.append(patch)
        else:
            groups.append([patch])
    return groups


def merge_level(groups: list[list[Patch]], merge_many: MergeManyFn, stats: TreeStats) -> tuple[list[Patch], bool]:
    """One tree level: every group of two or more merged together; a group too large for one
    call (``oversize``) is split in halves and those merged in the same level; a failed merge
    keeps its inputs. Returns the next level and whether any merge succeeded."""
    nxt: list[Patch] = [p for g in groups if len(g) == 1 for p in g]
    pending = [g for g in groups if len(g) > 1]
    progressed = False
    calls = 0
    while pending:
        outcomes = merge_many(pending)
        calls += len(pending)
        retry: list[list[Patch]] = []
        for group, outcome in zip(pending, outcomes):
            stats.merge_calls += 1
            stats.usage = stats.usage + outcome.usage
            if outcome.patch is not None:
                nxt.append(outcome.patch)
                progressed = True
            elif outcome.oversize and len(group) > 2:
                half = len(group) // 2
                retry += [group[:half], group[half:]]
            else:
                stats.failed_merges += 1
                nxt.extend(group)
        pending = retry
    stats.calls_per_level.append(calls)
    return sorted(nxt, key=lambda p: p.id), progressed


def merge_tree(
    patches: list[Patch],
    fan_in: int,
    merge: MergeFn | None = None,
    *,
    max_levels: int = 8,
    merge_many: MergeManyFn | None = None,
) -> tuple[list[Patch], TreeStats]:
    """Reduce ``patches`` level by level in groups of ``fan_in`` until one is left.

    All merges of a level are independent and go to ``merge_many`` together. Groups hold no
    more edits than one answer may (``merge_groups``), and a group whose prompt leaves too
    little context for its answer is split, never truncated (``merge_level``). A failed
    merge keeps its inputs for the next level, so nothing is lost. When the levels run out
    (``max_levels``, or a level in which every merge failed) with more than one patch left,
    one forced final merge of all survivors is tried when they fit one answer; if it fails
    too, the survivors are returned as they are (apply then takes them one after another,
    guarded).
    """
    if fan_in < 2:
        raise ValueError("fan_in must be at least 2")
    if merge_many is None:
        if merge is None:
            raise ValueError("give merge or merge_many")
        merge_many = sequential(merge)
    stats = TreeStats()
    level = sorted(patches, key=lambda p: p.id)
    while len(level) > 1 and stats.levels < max_levels:
        stats.levels += 1
        level, progressed = merge_level(merge_groups(level, fan_in), merge_many, stats)
        if not progressed:
            break
    if len(level) > 1 and len(merge_groups(level, len(level))) == 1:
        outcome = merge_many([level])[0]
        stats.merge_calls += 1
        stats.forced_merges += 1
        stats.usage = stats.usage + outcome.usage
        if outcome.patch is None:
            stats.failed_merges += 1
        else:
            level = [outcome.patch]
    return level, stats
