"""The report of a library run: how the pool was routed, and a section per skill.

``write_library_report(run_dir, library_json)`` writes ``RUN_DIR/report.html`` and
``report.md`` for the library from ``library.json``: the routing table (each skill, deepened
or created, its trajectories, success rate, lessons and description, linked to the skill
run's own report), the skills whose descriptions claim the same tasks, and what stayed
unrouted and why. Each skill's run has its full report in its own run dir.
"""

from __future__ import annotations

import os
from pathlib import Path

from trace2skill.report.doc import Link, Links, Report, Section, Table, Text
from trace2skill.report.html import render_html
from trace2skill.report.markdown import render_markdown
from trace2skill.run.library import Library, LibrarySkill


def library_report(library: Library, run_dir: Path, out_dir: Path) -> Report:
    """The library's report as the document model both renderers walk."""
    routing = Section("Routing", "routing", [Text(f"{library.read} trajectories read, {library.quarantined} quarantined, {library.unrouted} unrouted. {library.criterion}.")])
    rows = []
    for s in library.skills:
        report = Path(os.path.relpath((out_dir / s.report).resolve(), run_dir.resolve())).as_posix()
        rate = "-" if s.success_rate is None else f"{s.success_rate:.0%}"
        rows.append([Links([Link(s.name, report)]), s.origin, s.group, str(s.routed), rate, str(s.lessons), str(s.edits_applied), "yes" if s.valid else "no", s.description])
    routing.blocks.append(Table(["skill", "origin", "group", "routed", "success", "lessons", "edits", "valid", "description"], rows))
    if library.update:
        routing.blocks.append(Text(f"An update of the library {library.update}: {library.update_total().line()}."))
        counts = [[s.name, str(s.update.seen), str(s.update.changed), str(s.update.new), str(s.update.calls), str(s.update.full_calls)] for s in library.skills if s.update]
        routing.blocks.append(Table(["skill", "seen (no call)", "changed", "new", "analysis calls", "a full run's"], counts))
    sections = [routing]
    overlaps = Section("Overlapping descriptions", "overlaps")
    if library.overlaps:
        overlaps.blocks.append(Table(["skill", "skill", "share", "why"], [[o.a, o.b, f"{o.share:.0%}", o.reason] for o in library.overlaps]))
    else:
        overlaps.blocks.append(Text("No two skills' descriptions claim the same tasks."))
    sections.append(overlaps)
    unrouted = Section("Unrouted", "unrouted")
    if library.unrouted_reasons:
        unrouted.blocks.append(Table(["reason", "trajectories"], [[reason, str(n)] for reason, n in library.unrouted_reasons.items()]))
        unrouted.blocks.append(Text("The manifest names each unrouted trajectory (status unrouted, with its reason)."))
    else:
        unrouted.blocks.append(Text("Every trajectory read was routed to a skill."))
    sections.append(unrouted)
    for s in library.skills:
        sections.append(
            Section(
                f"Skill: {s.name}",
                f"skill-{s.name}",
                [
                    Text(s.description),
                    Text(f"{s.origin}; group {s.group}; keywords: {', '.join(s.keywords) or '-'}; {s.routed} trajectories, {s.lessons} lessons, {s.edits_applied} edits applied."),
                    *[Text(note) for note in _update_note(s)],
                    Table(["what", "where"], [["skill", s.skill_dir], ["run", s.run_dir], ["provenance", s.provenance], ["report", s.report]]),
                ],
            )
        )
    return Report(title=f"Library of {len(library.skills)} skills", subtitle=str(run_dir), sections=sections)


def _update_note(skill: LibrarySkill) -> list[str]:
    """What a library update did with ``skill``: its counts, or that it was carried over."""
    if skill.update:
        return [skill.update.line()]
    if skill.origin == "carried":
        return ["Carried over unchanged from the previous library: no trajectory of this pool was routed to it."]
    return []


def write_library_report(run_dir: Path, library_json: Path) -> tuple[Path, Path]:
    """Write the library's ``report.html`` and ``report.md`` into ``run_dir``; their paths."""
    library = Library.model_validate_json(library_json.read_text())
    report = library_report(library, run_dir, library_json.parent)
    html_path, md_path = run_dir / "report.html", run_dir / "report.md"
    html_path.write_text(render_html(report), encoding="utf-8")
    md_path.write_text(render_markdown(report)[0], encoding="utf-8")
    return html_path, md_path
