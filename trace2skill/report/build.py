"""Turn the loaded run into the report's sections: tables, charts and diffs, all plain text.

The order follows the questions a reader has after a run: did it work (summary), what
did the trajectories teach (topics), how was it merged (consolidation), what changed in
the skill and why (diff with evidence), what was left out and why (dropped, refused),
and which trajectories gave nothing (reasons).
"""

from __future__ import annotations

from trace2skill.report import plots
from trace2skill.report.checks import checks_section
from trace2skill.report.diff import Change, skill_diff
from trace2skill.report.doc import Block, Cell, Chart, Diff, Link, Links, Report, Section, Table, Text
from trace2skill.report.evidence import place_key
from trace2skill.report.load import EXAMPLE_IDS, STATUSES, TIERS, RunData
from trace2skill.report.transcripts import Pages
from trace2skill.skill.validate import MAX_SKILL_MD_LINES

MAX_ROWS = 50
MAX_CELL = 200


def build_report(run: RunData, pages: Pages | None = None) -> Report:
    """The whole report of ``run``, ready for ``render_html`` / ``render_markdown``; the
    trajectory ids with a transcript page in ``pages`` are links to it."""
    name = run.skill.name if run.skill else run.s0.name if run.s0 else "skill"
    pages = pages or Pages()
    return Report(
        title=f"trace2skill run report: {name}",
        subtitle=str(run.run_dir),
        sections=[
            _summary(run),
            _safety(run, pages),
            _topics(run, pages),
            _consolidation(run),
            _changes(run, pages),
            _left_out(run, pages),
            _no_lesson(run, pages),
            *checks_section(run.run_dir),
        ],
    )


def cited_trajectories(run: RunData) -> set[str]:
    """The trajectories the report names from provenance (the ids its evidence cells can
    show: topics, places of the skill, dropped and refused items, withheld edits): the ones
    that get a transcript page."""
    lists = [r.trajectory_ids for r in run.provenance if r.kind in ("dropped", "refused")] + [c.example_ids for c in run.clusters] + [p.example_ids for p in run.places.values()]
    lists += [w.trajectory_ids for w in run.safety.withheld] if run.safety else []
    return {t for ids in lists for t in ids[:EXAMPLE_IDS]} | {lesson.trajectory_id for found in run.place_lessons.values() for lesson in found}


def _summary(run: RunData) -> Section:
    s = run.summary
    blocks: list[Block] = [Text(note) for note in run.notes]
    verdict = "valid" if s.valid else "NOT valid: " + "; ".join(s.validation_problems)
    blocks.append(Text(f"Skill written to {s.skill_dir or '(not recorded)'}; it is {verdict}. Wall time {s.wall_seconds:.1f} s."))
    if s.budget:
        blocks.append(Text(f"Token budget: {s.budget.line()}; the analyses spent {s.budget.spent_prompt_tokens:,} prompt tokens."))
    if s.update:
        blocks.append(Text(f"Update: {s.update.line()}."))
    if s.draft_note:
        blocks.append(Text(f"S0 was drafted by the model: {s.draft_note}."))
    counts = [
        ("trajectories read", s.read),
        *([("of them, analysed before a resumption", s.resumed)] if s.resumed else []),
        ("analysed (gave lessons)", s.analyzed),
        ("no lesson", s.no_lesson),
        ("quarantined (unreadable)", s.quarantined),
        ("failed (LLM output unusable)", s.failed),
        *([("skipped (over --max-prompt-tokens)", s.skipped)] if s.budget else []),
        *([("seen (analysed by the previous run; no call)", s.seen)] if s.update else []),
        ("lessons", s.lessons),
        ("topic groups", s.groups),
        ("merge calls (failed)", f"{s.merge_calls} ({s.failed_merges})"),
        ("edits applied / refused", f"{s.edits_applied} / {s.edits_refused}"),
        ("safety: withheld / flagged (widespread)", f"{s.safety_withheld} / {s.safety_flagged} ({s.safety_widespread})"),
        *([("safety rules switched OFF", ", ".join(s.safety_rules_off))] if s.safety_rules_off else []),
        ("refused: quotes the grader / instance detail / noise", f"{s.refused_gold} / {s.refused_instance} / {s.refused_noise}"),
        ("personal data redacted at ingest", "switched OFF (redact.personal_data: false)" if s.personal_data_off else s.personal_data_line()),
    ]
    blocks.append(Table(["", "count"], [[k, str(v)] for k, v in counts]))
    total = s.analysis_usage + s.merge_usage
    usage = [("analysis", s.analysis_usage), ("consolidation", s.merge_usage), ("total", total)]
    blocks.append(Table(["LLM usage", "calls", "prompt tokens", "completion tokens"], [[k, f"{u.calls:,}", f"{u.prompt_tokens:,}", f"{u.completion_tokens:,}"] for k, u in usage]))
    wall = s.wall_seconds or 1.0
    stages = [[k, f"{v:.1f}", f"{100 * v / wall:.0f}%"] for k, v in s.stage_seconds.items()]
    blocks.append(Table(["stage", "seconds", "share of wall time"], stages + [["whole run", f"{s.wall_seconds:.1f}", "100%"]]))
    by_status = {status: getattr(s, status) for status in STATUSES}
    blocks.append(Chart("outcomes", "Outcome split", plots.outcome_chart(by_status), "Every input record ends in the manifest with exactly one status."))
    return Section("Summary", "summary", blocks)


def _safety(run: RunData, pages: Pages) -> Section:
    """What the safety review withheld (with the trajectories that carried it), what it
    flagged for a human, and which rules were tightened or switched off."""
    rec = run.safety
    if rec is None:
        return Section("Safety", "safety", [Text("No safety.json in this run dir: the run predates the safety review.")])
    blocks: list[Block] = []
    if rec.rules_off:
        blocks.append(Text(f"WARNING: safety rule(s) switched off by the recipe: {', '.join(rec.rules_off)}."))
    raised = ", ".join(f"{k} → {v}" for k, v in rec.severity_raised.items())
    blocks.append(Text(f"Rules v{rec.rules_version}: {len(rec.rules_in_force)} in force" + (f"; made stricter: {raised}" if raised else "") + ". High-severity hits are withheld; the rest is kept and flagged below."))
    for w, t in zip(rec.withheld, rec.traces):
        if t.widespread:
            where = ", ".join(f"{k} ({n})" for k, n in t.carriers.items()) or "not found verbatim"
            blocks.append(Text(f"WIDESPREAD INJECTION: the text withheld by {', '.join(w.rules)} is in {t.trajectories} of {rec.trajectories} trajectories ({t.share:.1%}); it came through: {where}. Check the tool or site that carried it."))
    rows = [
        [", ".join(w.rules), f"{w.edit.path} § {w.edit.section}" if w.edit.section else w.edit.path, _cell("; ".join(f.evidence for f in w.findings if f.severity == "high")), str(len(w.trajectory_ids)), pages.ids(w.trajectory_ids), str(t.trajectories), _cell(", ".join(t.carriers) or "-")]
        for w, t in zip(rec.withheld, rec.traces)
    ]
    blocks.append(Text(f"Edits withheld ({len(rows)}): the rule, the evidence, the trajectories provenance names, and how many of all {rec.trajectories} trajectories hold the text (and where in them)."))
    blocks.append(_table(["rules", "target", "evidence", "provenance trajectories", "examples", "trajectories holding it", "carried by"], rows))
    flagged = [[f.severity, f.rule, f"{f.path} § {f.section}" if f.section else f.path, _cell(f.evidence), _cell(f.line)] for f in rec.flagged]
    blocks.append(Text(f"Kept but flagged for a human ({len(flagged)}):"))
    blocks.append(_table(["severity", "rule", "where", "evidence", "line"], flagged))
    return Section("Safety", "safety", blocks)


def _topics(run: RunData, pages: Pages) -> Section:
    items = [(r.support, r.kind) for r in run.provenance if r.kind in TIERS]  # these provenance kinds are the tiers
    rows = [
        [c.label, plots.TIER_NAMES[c.tier], str(c.support), ", ".join(f"{n} {k}" for k, n in c.lessons_by_kind.items()), pages.ids(c.example_ids, c.trajectories)]
        for c in run.clusters
    ]
    return Section(
        "Lessons and topics",
        "topics",
        [
            Chart(
                "clusters",
                "Lessons per topic cluster",
                plots.clusters_chart(run.clusters),
                "Lessons are embedded and clustered by topic; the bracket says where the topic's content went.",
            ),
            Chart(
                "support",
                "Support histogram",
                plots.support_chart(items),
                "Support = distinct trajectories behind a piece of content. High support goes to SKILL.md, "
                "lower (one-offs the merger kept included) to references/.",
            ),
            _table(["topic", "went to", "support", "lessons", "example trajectories"], rows),
        ],
    )


def _consolidation(run: RunData) -> Section:
    counts = [[key.replace("_", " "), str(value)] for key, value in run.consolidation.items() if isinstance(value, int)]
    blocks: list[Block] = [
        Chart("merges", "Merge calls", plots.merge_chart(run.consolidation), "LLM merge calls of consolidation, by merge-tree level and stage, from consolidation.json."),
        Table(["consolidation.json", "count"], counts),
    ]
    conflicts = [[r.cluster_label, _cell(r.reason)] for r in run.provenance if r.kind == "conflict"]
    if conflicts:
        blocks += [Text("Conflicts the merges resolved, with their stated justification:"), _table(["topic", "resolution"], conflicts)]
    return Section("Consolidation", "consolidation", blocks)


def _changes(run: RunData, pages: Pages) -> Section:
    if run.s0 is None or run.skill is None:
        return Section("Skill changes", "changes", [Text("The skill diff needs both s0/ and the final skill; see the notes in the summary.")])
    changes = skill_diff(run.s0, run.skill, run.provenance, run.places)
    blocks: list[Block] = [
        Chart("skill_lines", "SKILL.md before and after", plots.lines_chart(run.s0, run.skill, MAX_SKILL_MD_LINES), "Lines per SKILL.md section in S0 and in the result."),
    ]
    if not changes:
        return Section("Skill changes", "changes", blocks + [Text("The run left the skill as S0 was.")])
    rows = []
    for c in changes:
        cited = run.place_lessons.get(place_key(c.path, c.section), [])
        steps = {lesson.trajectory_id: lesson.step for lesson in cited}
        lessons = Links([pages.link(lesson.trajectory_id, lesson.step, text=_cell(f"{lesson.title}: {_first_line(lesson.content)}")) for lesson in cited] or [Link("-")], lines=True)
        rows.append([c.kind, c.place, f"{c.lines_before} → {c.lines_after}", str(c.support) if c.support else "-", str(c.lessons), lessons, pages.ids(c.example_ids, c.support, steps), ", ".join(c.topics), _cell(c.note)])
    blocks.append(
        Text(
            f"{len(changes)} place(s) differ from S0. Support, lessons and trajectories come from provenance.parquet; a change without support was made by code "
            "(e.g. the References index) or a validation fix. A lesson or trajectory opens its transcript at the step the lesson cites."
        )
    )
    blocks.append(_table(["change", "where", "lines", "support", "lessons", "lesson text (examples)", "example trajectories", "topics", "note"], rows))
    blocks.extend(Diff(_diff_title(c), c.diff) for c in changes)
    return Section("Skill changes", "changes", blocks)


def _left_out(run: RunData, pages: Pages) -> Section:
    blocks: list[Block] = []
    if run.collapsed:
        blocks.append(Text(f"{run.collapsed} near-duplicate lesson(s) were folded into others; their evidence counts toward the lesson they joined."))
    dropped = sorted((r for r in run.provenance if r.kind == "dropped"), key=lambda r: (-r.support, r.cluster_label))
    blocks.append(
        Text(
            f"Dropped by consolidation ({len(dropped)}): inputs a merge judged not worth keeping (its reason), reference content past the "
            "reference budget or a file's line budget, edits of existing text below the SKILL.md bar."
        )
    )
    for kind, what in (("repaired", "edit anchor(s) were matched to the text they meant"), ("folded", "added line(s) were left out because their file already had them")):
        count = sum(r.kind == kind for r in run.provenance)
        if count:
            blocks.append(Text(f"{count} {what} (kind '{kind}' in provenance.parquet)."))
    blocks.append(_table(["topic", "support", "reason", "content", "trajectories"], [[r.cluster_label, str(r.support), _cell(r.reason), _cell(_first_line(r.content)), pages.ids(r.trajectory_ids, r.support)] for r in dropped]))
    # refusals.json has no provenance; the provenance row of the same refused edit has it
    evidence = {(r.reason, r.content): (r.trajectory_ids, r.support) for r in run.provenance if r.kind == "refused"}
    refused = [
        [f.edit.op, f"{f.edit.path} § {f.edit.section}" if f.edit.section else f.edit.path, _cell(f.reason), _cell(_first_line(f.edit.content)), pages.ids(*evidence.get((f.reason, f.edit.content[:2000]), ([], 0)))]
        for f in run.refusals
    ]
    blocks.append(Text(f"Edits the guards refused at apply time ({len(refused)}), from refusals.json:"))
    blocks.append(_table(["op", "target", "reason", "content", "trajectories"], refused))
    return Section("Left out", "left-out", blocks)


def _no_lesson(run: RunData, pages: Pages) -> Section:
    rows = [[r.status, _cell(r.reason), str(r.count), pages.ids(r.examples, r.count)] for r in run.reasons]
    shown = [s for s in STATUSES if s != "analyzed"]
    return Section(
        "Trajectories without lessons",
        "no-lessons",
        [
            Text(f"The most frequent reasons per status ({', '.join(shown)}); manifest.parquet has every trajectory with its reason."),
            _table(["status", "reason", "trajectories", "examples"], rows),
        ],
    )


def _table(columns: list[str], rows: list[list[Cell]]) -> Table:
    if len(rows) <= MAX_ROWS:
        return Table(columns, rows)
    return Table(columns, rows[:MAX_ROWS], note=f"{len(rows) - MAX_ROWS} more row(s) not shown; provenance.parquet and manifest.parquet have them all.")


def _diff_title(c: Change) -> str:
    return f"{c.kind}: {c.place} ({c.lines_before} → {c.lines_after} lines)"


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _cell(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"
