"""The run summary written to ``summary.json`` and printed at the end of a run."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, Field, computed_field

from trace2skill.consolidate.models import ConsolidationStats
from trace2skill.run.budget_report import BudgetReport
from trace2skill.run.outcomes import outcome_counts
from trace2skill.run.update import UpdateCounts
from trace2skill.schema import Usage


class RunSummary(BaseModel):
    """What a run did. ``summary.json`` also carries the consolidation figures it shows
    (``groups``, ``merge_calls``, ...), computed from ``consolidation``, for readers of the
    JSON; they are not read back."""

    skill_dir: str = ""
    read: int = 0
    resumed: int = 0  # trajectories whose analysis an interrupted earlier run had already done
    analyzed: int = 0
    no_lesson: int = 0
    quarantined: int = 0
    failed: int = 0
    skipped: int = 0  # left out by --max-prompt-tokens
    seen: int = 0  # an update's trajectories the previous run analysed unchanged (no call)
    update: UpdateCounts | None = None  # what --update found and what it cost against a full run
    budget: BudgetReport | None = None  # what --max-prompt-tokens did: the sample, its strata, the tokens spent
    lessons: int = 0
    patches: int = 0
    consolidation: ConsolidationStats = Field(default_factory=ConsolidationStats)  # as in consolidation.json
    edits_applied: int = 0
    edits_refused: int = 0
    safety_withheld: int = 0  # edits the safety review kept out (also counted in edits_refused)
    safety_flagged: int = 0  # lower-severity findings kept for a human to look at
    safety_widespread: int = 0  # withheld instructions found in many trajectories (an injection campaign)
    safety_rules_off: list[str] = Field(default_factory=list)  # rules a recipe switched off
    personal_data: dict[str, int] = Field(default_factory=dict)  # personal data replaced at ingest, per kind, over all trajectories
    outcome_sources: dict[str, int] = Field(default_factory=dict)  # analysed trajectories per outcome source ("" unknown)
    personal_data_off: bool = False  # the recipe switched personal-data redaction off (redact.personal_data)
    draft_note: str = ""
    valid: bool = False
    validation_problems: list[str] = Field(default_factory=list)
    analysis_usage: Usage = Field(default_factory=Usage)
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    wall_seconds: float = 0.0

    @computed_field
    @property
    def groups(self) -> int:
        """Topic clusters."""
        return self.consolidation.clusters

    @computed_field
    @property
    def merge_calls(self) -> int:
        """Every merge call: in the topics' trees, across topics, and validation fixes."""
        c = self.consolidation
        return c.merge_calls + c.final_merge_calls + c.fix_calls

    @computed_field
    @property
    def failed_merges(self) -> int:
        """Merge calls without a usable answer."""
        return self.consolidation.failed_merges + self.consolidation.failed_fixes

    @computed_field
    @property
    def merge_usage(self) -> Usage:
        """The merge calls' tokens."""
        return self.consolidation.merge_usage

    @property
    def refused_instance(self) -> int:
        """Edits (or their lines) refused for a value of a few trajectories."""
        return self.consolidation.refused_by_reason.get("instance detail", 0)

    @property
    def refused_gold(self) -> int:
        """Edits (or their lines) refused for quoting a grader's reference answer or expected-action value."""
        return self.consolidation.refused_by_reason.get("quotes the grader", 0)

    @property
    def refused_noise(self) -> int:
        """Edits (or their lines) refused as noise."""
        return self.consolidation.refused_by_reason.get("noise", 0)

    def personal_data_line(self) -> str:
        """``12 (PERSON 8, EMAIL_ADDRESS 4)``, or ``0``."""
        total = sum(self.personal_data.values())
        return f"{total} ({', '.join(f'{k} {v}' for k, v in self.personal_data.items())})" if total else "0"

    def table(self) -> str:
        """A short aligned table for the terminal."""
        rows = [
            ("trajectories read", self.read),
            ("  analyzed", self.analyzed),
            ("  no_lesson", self.no_lesson),
            ("  quarantined", self.quarantined),
            ("  failed", self.failed),
            *([("  skipped (budget)", self.skipped)] if self.budget else []),
            *([("  seen (update)", self.seen), ("update", self.update.line())] if self.update else []),
            *([("budget", self.budget.line())] if self.budget else []),
            *([("outcomes", outcome_counts(Counter(self.outcome_sources)))] if self.outcome_sources else []),
            ("lessons", self.lessons),
            ("topic groups", self.groups),
            ("merge calls", f"{self.merge_calls} ({self.failed_merges} failed)"),
            ("edits applied / refused", f"{self.edits_applied} / {self.edits_refused}"),
            ("safety withheld / flagged", f"{self.safety_withheld} / {self.safety_flagged}" + (f" ({self.safety_widespread} widespread)" if self.safety_widespread else "")),
            *([("safety rules OFF", ", ".join(self.safety_rules_off))] if self.safety_rules_off else []),
            ("refused instance / noise", f"{self.refused_instance} / {self.refused_noise}"),
            ("refused grader quotes", self.refused_gold),
            ("personal data redacted", "OFF (redact.personal_data)" if self.personal_data_off else self.personal_data_line()),
            ("LLM calls", self.analysis_usage.calls + self.merge_usage.calls),
            ("tokens in / out", f"{self.analysis_usage.prompt_tokens + self.merge_usage.prompt_tokens} / {self.analysis_usage.completion_tokens + self.merge_usage.completion_tokens}"),
            ("valid skill", "yes" if self.valid else "no"),
            ("wall time", f"{self.wall_seconds:.1f} s"),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
