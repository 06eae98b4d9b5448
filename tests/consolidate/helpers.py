"""Small builders shared by the consolidation tests."""

from __future__ import annotations

import json

import numpy as np

from trace2skill.consolidate.models import Proposal
from trace2skill.consolidate.reduce import ClusterResult
from trace2skill.consolidate.units import Unit
from trace2skill.llm.base import Completion
from trace2skill.schema import Edit, Usage


def unit(uid: str, text: str, traj: str | list[str], *, edits: list[Edit] | None = None, topic: str = "t", description: str = "") -> Unit:
    trajs = [traj] if isinstance(traj, str) else traj
    return Unit(id=uid, text=text, title=text[:20], description=description, topic=topic, edits=edits or [], lesson_ids=[f"l-{uid}"], trajectory_ids=trajs)


def append(section: str, content: str) -> Edit:
    return Edit(op="append_to_section", section=section, content=content)


def vecs(*rows: list[float]) -> np.ndarray:
    x = np.asarray(rows, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def cluster(cid: int, label: str, tier: str, support: int, edits: list[Edit], *, description: str = "", resolutions: list[str] | None = None) -> ClusterResult:
    trajs = [f"t{cid}-{i}" for i in range(support)]
    patch = Proposal(id=f"m-{cid}", edits=edits, lesson_ids=[f"l{cid}"], trajectory_ids=trajs, support=support, topic=label)
    return ClusterResult(
        cluster_id=cid, label=label, tier=tier, support=support, description=description, lesson_ids=[f"l{cid}"], trajectory_ids=trajs,
        patches=[patch], resolutions=resolutions or [],
    )  # fmt: skip


class ScriptedLLM:
    """Answers every call with one fixed JSON answer, keeping the prompts."""

    def __init__(self, answer: dict):
        self.answer = answer
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def complete(self, messages, output, max_tokens, schema=None) -> Completion:
        self.prompts.append("\n".join(m.content for m in messages))
        return Completion(text=json.dumps(self.answer), usage=Usage(prompt_tokens=10, completion_tokens=10, calls=1))
