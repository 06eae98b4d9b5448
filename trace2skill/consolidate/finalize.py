"""Apply the final patch to a copy of S0, guarded, and keep only a result that validates.

The parts of p* (one per cluster, in order) are first applied together as one patch, so
edits of different parts that touch the same span are both withheld and reported. If the
result does not validate, the parts are applied one at a time on the last valid state: a
part that makes the skill invalid gets at most ``fix_rounds`` LLM repair rounds, and if
it still does not validate it is withheld (its edits are reported, with the problems).
So a run never writes a skill that validates worse than S0. A fix round is shown the
state the failing part was applied to (S0 plus the parts kept before it), not S0.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from trace2skill.consolidate.merge import MergeOutcome, TreeStats
from trace2skill.schema import Edit, Patch, stable_id
from trace2skill.skill.anchors import ANCHOR_MATCH, AnchorRepair, Restater
from trace2skill.skill.apply import Refusal, apply_patch, protected_paths
from trace2skill.skill.model import Skill
from trace2skill.skill.once import NEAR_DUPLICATE, Folded
from trace2skill.skill.validate import validate_skill

# (patch, validation problems, the skill state the patch was applied to) -> repaired patch,
# or the reason there is none.
Fixer = Callable[[Patch, list[str], Skill], MergeOutcome]


class FinalSkill(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    skill: Skill
    applied: int = 0
    applied_edits: list[Edit] = Field(default_factory=list)
    refused: list[Refusal] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)
    fell_back: bool = False
    fix_rounds: int = 0
    withheld_parts: list[str] = Field(default_factory=list)
    fix_stats: TreeStats = Field(default_factory=TreeStats)
    repairs: list[AnchorRepair] = Field(default_factory=list, description="Anchors matched to the span they meant.")
    folded: list[Folded] = Field(default_factory=list, description="Lines left out because the file already had them.")


def finalize(
    s0: Skill,
    patches: list[Patch],
    *,
    protected: frozenset[str] | None = None,
    fixer: Fixer | None = None,
    fix_rounds: int = 2,
    restate: Restater | None = None,
    anchor_match: float = ANCHOR_MATCH,
    near_duplicate: float = NEAR_DUPLICATE,
) -> FinalSkill:
    """Apply ``patches`` (the parts of p*, in order) guarded, then validate; see the module doc.
    ``restate`` is handed to the guarded apply for anchors that no span matches."""
    protected = protected_paths(s0) if protected is None else protected

    def apply(skill: Skill, patch: Patch):
        return apply_patch(skill, patch, protected=protected, restate=restate, anchor_match=anchor_match, near_duplicate=near_duplicate)

    combined = _combine(patches)
    result = apply(s0, combined)
    problems = validate_skill(result.skill)
    baseline = set(validate_skill(s0))
    if not set(problems) - baseline:
        return FinalSkill(
            skill=result.skill, applied=len(result.applied), applied_edits=result.applied, refused=result.refused, problems=problems,
            repairs=result.repairs, folded=result.folded,
        )  # fmt: skip

    state, state_problems = s0, baseline
    out = FinalSkill(skill=s0, fell_back=True)
    for patch in patches:
        candidate = apply(state, patch)
        candidate_problems = set(validate_skill(candidate.skill))
        new = candidate_problems - state_problems
        tries = 0
        while new and fixer is not None and tries < fix_rounds:
            tries += 1
            outcome = fixer(patch, sorted(new), state)
            out.fix_rounds += 1
            out.fix_stats.merge_calls += 1
            out.fix_stats.usage = out.fix_stats.usage + outcome.usage
            if outcome.patch is None:
                out.fix_stats.failed_merges += 1
                break
            patch = outcome.patch
            candidate = apply(state, patch)
            candidate_problems = set(validate_skill(candidate.skill))
            new = candidate_problems - state_problems
        if new:
            why = "; ".join(sorted(new))
            out.withheld_parts.append(f"{patch.id}: {why}")
            out.refused.extend(Refusal(edit=e, reason=f"withheld: with this part the skill does not validate ({why})") for e in patch.edits)
            continue
        state, state_problems = candidate.skill, candidate_problems
        out.applied_edits.extend(candidate.applied)
        out.refused.extend(candidate.refused)
        out.repairs.extend(candidate.repairs)
        out.folded.extend(candidate.folded)
    out.skill = state
    out.applied = len(out.applied_edits)
    out.problems = sorted(state_problems)
    return out


def _combine(patches: list[Patch]) -> Patch:
    if len(patches) == 1:
        return patches[0]
    trajectory_ids = sorted({t for p in patches for t in p.trajectory_ids})
    return Patch(
        id=stable_id(*[p.id for p in patches], prefix="final-"),
        edits=[e for p in patches for e in p.edits],
        lesson_ids=sorted({l for p in patches for l in p.lesson_ids}),
        trajectory_ids=trajectory_ids,
        support=len(trajectory_ids),
    )
