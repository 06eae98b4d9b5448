"""The fake LLM's merger: ``MergeResult`` answers a careful model would give, deterministically.

Patches are taken in order of support; a line that paraphrases a kept line is dropped, one
that contradicts it is resolved; the whole-skill pass answers by its own contract.
"""

from __future__ import annotations

import json
import re

from trace2skill.llm.fake_blocks import block

_NEGATIONS = frozenset({"never", "not", "no", "dont", "don't", "avoid", "cannot"})
_LINE_OPS = ("append_to_section", "add_section")
_EDIT_FIELDS = ("op", "path", "section", "anchor", "content", "reason")
MERGE_FAILS = "[fake:merge-fails]"  # a patch containing this makes every merge call it is in fail


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9_']+", text.lower())


def _stems(text: str) -> set[str]:
    return {w[:5] for w in _words(text) if len(w) > 3 and w not in _NEGATIONS}


def _negated(text: str) -> bool:
    return bool(set(_words(text)) & _NEGATIONS)


def alike(a: str, b: str, share: float = 0.5) -> bool:
    # Paraphrase test: ``share`` of the content-word stems of the shorter text occur in the
    # longer one (a contradiction needs fewer: the negation rewords the rest).
    sa, sb = _stems(a), _stems(b)
    if not sa or not sb:
        return a.strip().lower() == b.strip().lower()
    return len(sa & sb) / min(len(sa), len(sb)) >= share


def merge_answer(prompt: str) -> dict:
    """Merge like a careful model would, deterministically: patches in order of support; a line
    that paraphrases a kept line is dropped, one that contradicts it (same words, opposite
    polarity) loses to it and the resolution is written down; lines for the same section (same
    or paraphrased title, or paraphrased content) are gathered under one heading and split
    into edits that fit the schema's caps. Other edits are deduplicated exactly. An answer
    over the edit cap fails validation, as a real engine's would."""
    shown = block(prompt, "patches")
    patches = json.loads(shown or "[]")
    if MERGE_FAILS in shown:
        return {"edits": "merge failed on purpose (test hook)"}
    if "<!-- prompt: whole_skill" in prompt:
        return _whole_skill(patches)
    order = sorted(range(len(patches)), key=lambda i: -int(patches[i].get("support") or 0))
    homes: list[dict] = []  # one per target section: the first edit's fields, kept lines, support
    others: list[dict] = []
    resolutions: list[str] = []
    for i in order:
        weight = int(patches[i].get("support") or 0)
        for raw in patches[i].get("edits", []):
            edit = {k: raw.get(k) or "" for k in _EDIT_FIELDS}
            if edit["op"] not in _LINE_OPS:
                if edit not in others:
                    others.append(edit)
                continue
            lines = [line for line in edit["content"].split("\n") if line.strip()]
            home = next((h for h in homes if h["path"] == edit["path"] and _same_home(h, edit, lines)), None)
            if home is None:
                home = {**edit, "lines": [], "seen": [], "support": weight}
                homes.append(home)
            for line in lines:
                if any(alike(k, line) and _negated(k) == _negated(line) for k in home["lines"]):
                    home["seen"].append(line)  # a paraphrase of a kept line
                    continue
                twin = next((k for k in home["seen"] if _negated(k) != _negated(line) and alike(k, line, 0.35)), None)
                if twin is None:
                    home["lines"].append(line)
                    home["seen"].append(line)
                else:
                    resolutions.append(
                        f"kept {twin.strip()[:60]!r} (support {home['support']}) over the contradicting {line.strip()[:60]!r} (support {weight})"
                    )
    edits = [e for h in homes for e in _home_edits(h)] + others
    if len(resolutions) > 6:
        resolutions = resolutions[:5] + [f"{len(resolutions) - 5} more contradictions resolved the same way"]
    return {"edits": edits, "resolutions": resolutions}


def _whole_skill(inputs: list[dict]) -> dict:
    """The whole-skill pass as its prompt asks: inputs (one edit each) in order of support; one
    whose every line paraphrases a kept input's line is dropped as its duplicate, one with a line
    contradicting a kept line is dropped as the weaker side; the rest come back unchanged, in order."""
    kept: list[tuple[int, list[str]]] = []
    dropped, resolutions = [], []
    for i in sorted(range(len(inputs)), key=lambda i: -int(inputs[i].get("support") or 0)):
        lines = [line for e in inputs[i].get("edits", []) for line in e.get("content", "").split("\n") if line.strip()]
        same = next((n for n, k in kept if lines and all(any(alike(a, b) and _negated(a) == _negated(b) for a in k) for b in lines)), None)
        against = next((n for n, k in kept if any(_negated(a) != _negated(b) and alike(a, b, 0.35) for a in k for b in lines)), None)
        if same is not None:
            dropped.append({"input": i + 1, "reason": f"same advice as input {same + 1}"})
        elif against is not None:
            dropped.append({"input": i + 1, "reason": f"contradicts input {against + 1}, which more runs back"})
            resolutions.append(f"kept input {against + 1} over the contradicting input {i + 1}")
        else:
            kept.append((i, lines))
    edits = [{k: e.get(k) or "" for k in _EDIT_FIELDS} for i in sorted(n for n, _ in kept) for e in inputs[i].get("edits", [])]
    return {"edits": edits, "resolutions": resolutions, "dropped": dropped}


def _same_home(home: dict, edit: dict, lines: list[str]) -> bool:
    if alike(home["section"], edit["section"]):
        return True
    both_new = home["op"] == edit["op"] == "add_section"
    return both_new and any(alike(k, line) for k in home["lines"] for line in lines)


def _home_edits(home: dict, cap: int = 300) -> list[dict]:
    chunks: list[str] = []
    for line in home["lines"]:
        if chunks and len(chunks[-1]) + 1 + len(line) <= cap:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line[:cap])
    base = {k: home[k] for k in _EDIT_FIELDS}
    return [{**base, "content": c} if n == 0 else {**base, "op": "append_to_section", "anchor": "", "content": c} for n, c in enumerate(chunks)]
