"""The safety review: every added or changed line of a patch (or every line of a skill)
against the rules, with S0 as what the operator already allowed.

``review_parts`` runs before the guarded apply, over the parts of p*: the lines of an edit
with a high-severity finding are withheld (a ``Refusal`` naming the rule ids and the evidence;
the rest of the edit goes on), lower severities are kept and flagged for a human. ``review_skill`` runs the same rules over a whole folder, for
``trace2skill validate``.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from trace2skill.safety.checks import CHECKS, Context
from trace2skill.safety.code import Line, read_lines
from trace2skill.safety.rules import Rule, SafetyConfig, load_rules
from trace2skill.safety.text import code_spans, same_line_key, warns_against
from trace2skill.schema import Edit, Patch, Usage
from trace2skill.skill.apply import Refusal
from trace2skill.skill.model import SKILL_MD, Skill

MAX_EVIDENCE = 200
# Ops whose text ends up in the skill (delete ops add nothing to check).
_ADDING_OPS = frozenset({"append_to_section", "insert_after", "insert_before", "replace_in_section", "add_section", "create"})


class Finding(BaseModel):
    """One rule hit on one line."""

    rule: str
    severity: str
    explanation: str
    evidence: str
    line: str  # the line as written (trimmed)
    path: str = ""
    section: str = ""
    line_no: int = 0  # 1-based, in the file (validate) or in the edit's content (review)


class WithheldEdit(BaseModel):
    """An edit the review kept out of the skill, with the provenance of its patch part."""

    edit: Edit
    findings: list[Finding]
    lesson_ids: list[str] = Field(default_factory=list)
    trajectory_ids: list[str] = Field(default_factory=list)

    @property
    def rules(self) -> list[str]:
        return sorted({f.rule for f in self.findings if f.severity == "high"})

    def refusal(self) -> Refusal:
        high = [f for f in self.findings if f.severity == "high"]
        evidence = "; ".join(f"{f.rule}: {f.evidence[:MAX_EVIDENCE]!r}" for f in high)
        return Refusal(edit=self.edit, reason=f"safety: withheld by rule(s) {', '.join(self.rules)} ({evidence})")


class SafetyReview(BaseModel):
    """What the review of one run decided; written to ``run/safety.json``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    rules_version: int = 0
    rules_in_force: list[str] = Field(default_factory=list)
    rules_off: list[str] = Field(default_factory=list)
    severity_raised: dict[str, str] = Field(default_factory=dict)
    withheld: list[WithheldEdit] = Field(default_factory=list)
    flagged: list[Finding] = Field(default_factory=list)
    model_usage: Usage = Field(default_factory=Usage)  # the model reviewer's calls (``model_review``); none when it is off
    kept: list[Patch] = Field(default_factory=list, exclude=True)  # the parts of p* without the withheld edits
    config: SafetyConfig = Field(default_factory=SafetyConfig, exclude=True)
    context: Context = Field(default_factory=Context, exclude=True)

    def record(self, applied: list[Edit]) -> list[Refusal]:
        """After the guarded apply: keep only the flags of edits that were ``applied``, and
        return the withheld edits as refusals (for ``refusals.json`` and provenance)."""
        done = {(e.path, e.section or "", e.content) for e in applied}
        self.flagged = [f for f in self.flagged if any(f.line in content and (p, s) == (f.path, f.section) for p, s, content in done)]
        return [w.refusal() for w in self.withheld]

    def screen(self, patch: Patch) -> tuple[list[Edit], Patch]:
        """Split every edit of ``patch`` into what passes and what is withheld; return all the
        pieces (for provenance) and the patch of the pieces to apply."""
        pieces, kept = [], []
        for edit in patch.edits:
            passed, withheld, high, flags = split_edit(edit, self.context, self.config)
            if withheld is not None:
                self.withheld.append(WithheldEdit(edit=withheld, findings=high, lesson_ids=patch.lesson_ids, trajectory_ids=patch.trajectory_ids))
                pieces.append(withheld)
            if passed is not None:
                kept.append(passed)
                pieces.append(passed)
            self.flagged.extend(flags)
        return pieces, patch.model_copy(update={"edits": kept})


def skill_text(skill: Skill) -> str:
    """All of a skill's text, SKILL.md (frontmatter included) and every file."""
    return "\n".join([skill.skill_md(), *skill.files.values()])


def start_review(s0: Skill, config: SafetyConfig | None = None) -> SafetyReview:
    """An empty review against S0: ``screen`` each part of p*, keeping what passes in ``.kept``."""
    config = config or SafetyConfig()
    return _empty_review(config, Context.of(skill_text(s0), config.allow_domains))


def review_parts(s0: Skill, patches: list[Patch], config: SafetyConfig | None = None) -> SafetyReview:
    """Review the parts of p* against S0 (see the module doc); ``.kept`` holds the parts to apply."""
    review = start_review(s0, config)
    review.kept = [review.screen(p)[1] for p in patches]
    return review


def split_edit(edit: Edit, ctx: Context, config: SafetyConfig) -> tuple[Edit | None, Edit | None, list[Finding], list[Finding]]:
    """(the edit without its high-severity lines, an edit of those lines, the high findings,
    the other findings). An edit is withheld whole when its title is the hit or nothing
    else is left; otherwise the lines around a hit are kept (a merge often puts one
    poisoned lesson into the same edit as good ones)."""
    findings = review_edit(edit, ctx, config)
    high = [f for f in findings if f.severity == "high"]
    if not high:
        return edit, None, [], findings
    bad = {f.line_no for f in high}
    blocks = _blocks(edit.content)
    keep = [line for start, physical, _ in blocks if start not in bad for line in physical]
    if 0 in bad or not any(line.strip() for line in keep):
        return None, edit, high, []
    tail = "\n" if edit.content.endswith("\n") else ""
    drop = [line for start, physical, _ in blocks if start in bad for line in physical]
    flags = [f for f in findings if f.severity != "high" and f.line_no not in bad]
    return edit.model_copy(update={"content": "\n".join(keep) + tail}), edit.model_copy(update={"content": "\n".join(drop) + tail}), high, flags


def review_edit(edit: Edit, ctx: Context, config: SafetyConfig) -> list[Finding]:
    """Findings on the lines ``edit`` adds or changes (lines S0 already has are not new)."""
    if edit.op not in _ADDING_OPS:
        return []
    lines = list(logical_lines(edit.content))
    if edit.op == "add_section" and edit.section:
        lines.insert(0, (0, edit.section))
    section = "" if edit.op == "create" else edit.section or ""
    return [f.model_copy(update={"path": edit.path, "section": section}) for f in review_lines(lines, ctx, config.effective())]


def review_skill(skill: Skill, s0: Skill | None = None, config: SafetyConfig | None = None) -> list[Finding]:
    """Every line of every file of ``skill`` against the rules; S0 (if given) and
    ``config.allow_domains`` are what is allowed. For ``trace2skill validate``."""
    config = config or SafetyConfig()
    ctx = Context.of(skill_text(s0) if s0 else "", config.allow_domains)
    rules = config.effective()
    out = []
    for path, text in [(SKILL_MD, skill.skill_md()), *sorted(skill.files.items())]:
        out += [f.model_copy(update={"path": path}) for f in review_lines(list(logical_lines(text)), ctx, rules)]
    return out


def review_lines(lines: list[tuple[int, str]], ctx: Context, rules: list[Rule]) -> list[Finding]:
    """Every rule over every (numbered) line, at most one finding per line and rule. The lines
    are read together (fenced blocks span lines); a line S0 has word for word is not new."""
    out: list[Finding] = []
    for line in read_lines(lines):
        if same_line_key(line.norm) in ctx.s0_lines:
            continue
        for rule in rules:
            evidence = _hits(rule, line, ctx)
            if evidence:
                out.append(_finding(rule, "; ".join(evidence), line.raw, line.n))
    return out


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers; a line ending in a backslash continues."""
    for start, _, logical in _blocks(text):
        if logical:
            yield start, logical


def _blocks(text: str) -> list[tuple[int, list[str], str]]:
    """(first line number, physical lines, the logical line) for each line of ``text``;
    lines ending in a backslash are joined with the next."""
    out: list[tuple[int, list[str], str]] = []
    pending: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        pending.append(line)
        if line.rstrip().endswith("\\"):
            continue
        logical = " ".join(p.rstrip().removesuffix("\\") for p in pending).strip()
        out.append((n - len(pending) + 1, pending, logical))
        pending = []
    if pending:
        out.append((len(text.splitlines()) - len(pending) + 1, pending, " ".join(p.rstrip().removesuffix("\\") for p in pending).strip()))
    return out


def _hits(rule: Rule, line: Line, ctx: Context) -> list[str]:
    found: list[str] = []
    if rule.check is not None and not (rule.excuse_warnings and not line.in_block and _warned(line)):
        found = CHECKS[rule.check](line, ctx, rule.params)
    if rule.regex is not None and not found:
        found += [m.group(0) for m in rule.regex.finditer(line.norm) if not (rule.excuse_warnings and warns_against(line.norm, m.start(), m.end()))]
    return list(dict.fromkeys(found))


def _warned(line: Line) -> bool:
    """Whether the prose of ``line`` warns against its code (a clause that says no before it, or a code span it calls an attack)."""
    end = len(line.before_code)
    return warns_against(line.before_code, end, end) or any(warns_against(line.norm, s.start(), s.end()) for s in code_spans(line.norm))


def _finding(rule: Rule, evidence: str, raw: str, line_no: int) -> Finding:
    return Finding(
        rule=rule.id, severity=rule.severity, explanation=rule.explanation, evidence=evidence[:MAX_EVIDENCE], line=raw.strip()[:300], line_no=line_no
    )


def _empty_review(config: SafetyConfig, ctx: Context) -> SafetyReview:
    rules = load_rules()
    return SafetyReview(
        rules_version=rules.version,
        rules_in_force=[r.id for r in config.effective()],
        rules_off=sorted(config.off),
        severity_raised=dict(config.severity),
        config=config,
        context=ctx,
    )
