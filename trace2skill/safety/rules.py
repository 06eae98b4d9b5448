"""The safety rules as data (``rules.yaml``) and the recipe settings that tighten them.

A recipe can raise a rule's severity (``severity``), name more allowed domains
(``allow_domains``) or switch rules off (``off``); it cannot lower a severity, and a
rule switched off is said in the run summary and the report, never silently.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from trace2skill.safety.checks import CHECKS

Severity = Literal["low", "medium", "high"]
RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2}


class Rule(BaseModel):
    """One entry of ``rules.yaml``: a regex ``pattern``, a named ``check``, or a check with a
    pattern searched where the check found nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    severity: Severity
    explanation: str = Field(min_length=10)
    pattern: str | None = None
    check: str | None = None
    params: dict[str, int | bool] = Field(default_factory=dict)
    excuse_warnings: bool = False  # a hit in a clause that warns against it (never, do not ...) or quotes it as data is not a finding

    @model_validator(mode="after")
    def _one_test(self) -> Rule:
        if self.pattern is None and self.check is None:
            raise ValueError(f"rule {self.id}: give a pattern or a check")
        if self.check is not None and self.check not in CHECKS:
            raise ValueError(f"rule {self.id}: unknown check {self.check!r} (known: {', '.join(CHECKS)})")
        if self.pattern is not None:
            re.compile(self.pattern)
        return self

    @property
    def regex(self) -> re.Pattern[str] | None:
        return _compiled(self.pattern) if self.pattern else None


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _unique(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("rule ids must be unique")
        return self

    def get(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@cache
def load_rules() -> RuleSet:
    """The rule file shipped in this package."""
    return RuleSet.model_validate(yaml.safe_load(files("trace2skill.safety").joinpath("rules.yaml").read_text(encoding="utf-8")))


class SafetyConfig(BaseModel):
    """How the safety review of the final patch runs (``consolidate.safety`` in a recipe)."""

    model_config = ConfigDict(extra="forbid")

    severity: dict[str, Severity] = Field(
        default_factory=dict,
        description="Raise rules' severity, e.g. {new-external-domain: high} withholds every new domain. "
        "Lowering a severity is refused: switch a rule off instead, which the summary reports.",
    )
    off: list[str] = Field(default_factory=list, description="Rule ids switched off; listed in the run summary and the report.")
    allow_domains: list[str] = Field(
        default_factory=list, description="Domains an edit may name as if S0 named them (their subdomains too)."
    )
    model_review: bool | None = Field(
        default=None,
        description="Ask the run's model about every edit the rules kept (a harmful verdict withholds it, never the reverse); "
        "unset: on for the openai and vllm backends, off for embedded and fake.",
    )

    @model_validator(mode="after")
    def _known_and_stricter(self) -> SafetyConfig:
        rules = {r.id: r for r in load_rules().rules}
        unknown = sorted({*self.severity, *self.off} - set(rules))
        if unknown:
            raise ValueError(f"unknown safety rule id(s): {', '.join(unknown)} (known: {', '.join(rules)})")
        for rule_id, level in self.severity.items():
            if RANK[level] < RANK[rules[rule_id].severity]:
                raise ValueError(f"safety rule {rule_id} is {rules[rule_id].severity}; a recipe can only make it stricter (or list it under off)")
        return self

    def effective(self) -> list[Rule]:
        """The rules in force, with the recipe's severities."""
        return [r.model_copy(update={"severity": self.severity.get(r.id, r.severity)}) for r in load_rules().rules if r.id not in self.off]
