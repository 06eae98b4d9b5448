"""What ``trace2skill validate`` says about a skill: a verdict with its exit code, as text,
JSON or SARIF 2.1.0 (for code-scanning tools).

Exit codes: 0 clean; 1 withheld (a high-severity finding: distill would keep that line
out); 3 flagged (only medium or low findings, for a human to read); 4 not a valid skill
(the Agent Skills spec, the size limits, or the folder does not load) and nothing withheld.
2 is the command line's own usage error.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, Field

from trace2skill.safety.review import Finding
from trace2skill.safety.rules import load_rules

EXIT_CODES = {"clean": 0, "withheld": 1, "flagged": 3, "invalid": 4}
_SARIF_LEVEL = {"high": "error", "medium": "warning", "low": "note"}
SPEC_RULE = "agent-skills-spec"


class Verdict(BaseModel):
    """The outcome of validating one skill folder."""

    skill: str
    verdict: Literal["clean", "withheld", "flagged", "invalid"]
    rules_version: int
    problems: list[str] = Field(default_factory=list, description="Spec and limit problems.")
    findings: list[Finding] = Field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    @classmethod
    def of(cls, skill: str, problems: list[str], findings: list[Finding]) -> Verdict:
        if any(f.severity == "high" for f in findings):
            verdict = "withheld"
        elif problems:
            verdict = "invalid"
        else:
            verdict = "flagged" if findings else "clean"
        return cls(skill=skill, verdict=verdict, rules_version=load_rules().version, problems=problems, findings=findings)

    def text(self) -> str:
        lines = [f"- {p}" for p in self.problems]
        lines += [f"{f.severity.upper()} {f.rule} {f.path}:{f.line_no}: {f.evidence!r} ({f.explanation})" for f in self.findings]
        summary = {
            "clean": "valid; no safety finding",
            "flagged": f"valid; {len(self.findings)} finding(s) to review, none high",
            "withheld": f"{sum(f.severity == 'high' for f in self.findings)} high-severity finding(s): distill would withhold these lines",
            "invalid": "not a valid skill",
        }[self.verdict]
        return "\n".join([*lines, f"{self.skill}: {summary}"])

    def json(self) -> str:
        return json.dumps({**self.model_dump(mode="json"), "exit_code": self.exit_code}, indent=2, ensure_ascii=False)

    def sarif(self) -> str:
        """SARIF 2.1.0: one run, the rules in force as the driver's rules, one result per finding
        (high: error, medium: warning, low: note) and per spec problem."""
        rules = [
            {"id": r.id, "shortDescription": {"text": r.explanation}, "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]}} for r in load_rules().rules
        ] + [{"id": SPEC_RULE, "shortDescription": {"text": "The folder must follow the Agent Skills spec and the size limits."}}]
        results = [
            {
                "ruleId": f.rule,
                "level": _SARIF_LEVEL[f.severity],
                "message": {"text": f"{f.explanation} Evidence: {f.evidence}"},
                "locations": [
                    {"physicalLocation": {"artifactLocation": {"uri": f.path, "uriBaseId": "SKILLROOT"}, "region": {"startLine": max(f.line_no, 1)}}}
                ],
            }
            for f in self.findings
        ] + [{"ruleId": SPEC_RULE, "level": "error", "message": {"text": p}} for p in self.problems]
        run = {
            "tool": {"driver": {"name": "trace2skill", "version": f"rules-{self.rules_version}", "rules": rules}},
            "originalUriBaseIds": {"SKILLROOT": {"uri": self.skill.rstrip("/") + "/"}},
            "results": results,
        }
        return json.dumps({"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [run]}, indent=2, ensure_ascii=False)
