"""Two skills whose descriptions both claim the same tasks (an agent could not tell which to load).

A description claims a task when its cosine to the task reaches the claim threshold and
``RATIO`` of the cosine of the task's own skill's description: the agent would find it
about as fitting. A pair is flagged when each description claims at least ``MIN_SHARE``
of the other skill's tasks (a seeded sample of ``SAMPLE`` unique tasks of each).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from trace2skill.library.models import Overlap, SkillRoute

SAMPLE = 50
RATIO = 0.9
MIN_SHARE = 0.5


def overlaps(
    skills: list[SkillRoute],
    tasks: dict[str, list[str]],
    *,
    embed: Callable[[list[str]], np.ndarray],
    claim: float,
    min_share: float = MIN_SHARE,
    sample: int = SAMPLE,
    seed: int = 0,
) -> list[Overlap]:
    """The pairs of ``skills`` whose descriptions claim each other's tasks (``tasks``: each
    skill's unique task texts by name); see the module doc."""
    if len(skills) < 2:
        return []
    rng = np.random.default_rng(seed)
    descriptions = embed([s.description for s in skills])
    sampled = []
    for s in skills:
        texts = tasks.get(s.skill, [])
        picked = [texts[i] for i in sorted(rng.choice(len(texts), sample, replace=False))] if len(texts) > sample else texts
        sampled.append(embed(picked) if picked else np.zeros((0, descriptions.shape[1]), dtype=np.float32))
    found = []
    for i, a in enumerate(skills):
        for j in range(i + 1, len(skills)):
            b = skills[j]
            a_of_b = _claimed(descriptions[i], descriptions[j], sampled[j], claim)
            b_of_a = _claimed(descriptions[j], descriptions[i], sampled[i], claim)
            share = min(a_of_b, b_of_a)
            if share >= min_share:
                reason = (
                    f"{a.skill!r}'s description claims {a_of_b:.0%} of {b.skill!r}'s tasks and {b.skill!r}'s claims {b_of_a:.0%} of {a.skill!r}'s "
                    f"(cosine at least {claim} and {RATIO:.0%} of the task's own skill's)"
                )
                found.append(Overlap(a=a.skill, b=b.skill, share=round(share, 4), reason=reason))
    return found


def _claimed(other: np.ndarray, own: np.ndarray, tasks: np.ndarray, claim: float) -> float:
    """The share of ``tasks`` (of the skill described by ``own``) that the description ``other`` claims."""
    if not len(tasks):
        return 0.0
    theirs, ours = tasks @ other, tasks @ own
    return float(np.mean((theirs >= claim) & (theirs >= RATIO * ours)))
