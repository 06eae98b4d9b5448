"""What a token budget did to a run: ``budget.json`` and ``budget`` in the summary."""

from __future__ import annotations

from pydantic import BaseModel

STRATIFIED_BY = "task x outcome"


class BudgetReport(BaseModel):
    """What a token budget did to a run (``budget.json``, and ``budget`` in the summary)."""

    max_prompt_tokens: int
    trajectories: int  # read and not held out
    selected: int
    sampled_out: int
    unsent: int = 0  # selected, but the spent tokens reached the budget before they were sent
    strata: int
    stratified_by: str = STRATIFIED_BY
    seed: int
    tokenizer: str
    estimated_tokens: int  # of every trajectory's analysis
    estimated_selected_tokens: int
    spent_prompt_tokens: int = 0

    @property
    def skipped(self) -> int:
        return self.sampled_out + self.unsent

    def line(self) -> str:
        """One sentence for the progress lines and the summary table."""
        if not self.sampled_out:
            head = f"all {self.trajectories} trajectory(ies) fit --max-prompt-tokens {self.max_prompt_tokens:,} (estimated {self.estimated_tokens:,})"
        else:
            head = (
                f"sampled {self.selected} of {self.trajectories} trajectory(ies), stratified by {self.stratified_by} over {self.strata} strata "
                f"(seed {self.seed}), to fit --max-prompt-tokens {self.max_prompt_tokens:,}: estimated {self.estimated_selected_tokens:,} "
                f"of {self.estimated_tokens:,} prompt tokens"
            )
        tail = f"; {self.unsent} left unsent when the budget was spent" if self.unsent else ""
        return f"{head}; tokens counted with {self.tokenizer}{tail}"
