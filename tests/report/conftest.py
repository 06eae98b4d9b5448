"""Hand-built run dirs for the report tests: a real consolidation of the synthetic corpus
(no Ray, hashing embeddings, fake merges) written out the way ``distill`` writes a run,
plus manifest rows, a refusal and provenance rows carrying hostile text."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from benchmarks.consolidation_corpus import Corpus, make_corpus
from tests.consolidate.test_corpus import S0, run
from trace2skill.consolidate.provenance import ProvenanceRow, write_provenance
from trace2skill.consolidate.run import Consolidation
from trace2skill.run.summary import RunSummary
from trace2skill.schema import LESSON_SCHEMA, MANIFEST_SCHEMA, PATCH_SCHEMA, Edit, ManifestRow, Usage, to_table
from trace2skill.skill.apply import Refusal
from trace2skill.skill.folder import write_skill

# Markup, a link, a table pipe and a mathtext macro that does not exist (matplotlib would
# raise on it): what a trajectory could smuggle into a report.
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> | *bold* [link](http://evil.example) $\\nosuchmacro$'


@pytest.fixture(scope="session")
def corpus_run() -> tuple[Corpus, Consolidation]:
    """The corpus and its consolidation (skill, reference and dropped topics, a conflict)."""
    corpus = make_corpus(60, seed=3, supports={"refunds": 12, "identity": 9, "compensation": 3}, one_offs=3)
    return corpus, run(corpus, "hashing", max_reference_files=2)  # rare lessons past the reference budget are dropped


@pytest.fixture
def hand_run(tmp_path, corpus_run) -> Path:
    """A fresh run dir of the corpus consolidation (each test may write into it)."""
    return write_run_dir(tmp_path, *corpus_run)


def write_run_dir(root: Path, corpus: Corpus, result: Consolidation) -> Path:
    """``root/out/run`` laid out as ``distill`` writes it, with ``root/out/airline-agent`` the skill."""
    run_dir, skill_dir = root / "out" / "run", root / "out" / S0.name
    run_dir.mkdir(parents=True)
    write_skill(S0, run_dir / "s0")
    write_skill(result.final.skill, skill_dir)
    analysed = sorted({l.trajectory_id for l in corpus.lessons})
    manifest = [ManifestRow(trajectory_id=t, source_file="corpus.jsonl", status="analyzed", prompt_tokens=100, completion_tokens=20, llm_calls=1) for t in analysed]
    manifest += [ManifestRow(trajectory_id=f"f{i}", status="failed", reason="invalid JSON after 3 attempts", llm_calls=3) for i in range(4)]
    manifest += [ManifestRow(trajectory_id="f-hostile", status="failed", reason=HOSTILE, llm_calls=3)]
    manifest += [ManifestRow(trajectory_id=f"n{i}", status="no_lesson", reason="the analyst could not explain the failure") for i in range(2)]
    manifest += [ManifestRow(trajectory_id="q0", status="quarantined", reason="invalid JSON: Expecting value")]
    pq.write_table(to_table(manifest, MANIFEST_SCHEMA), run_dir / "manifest.parquet")
    pq.write_table(to_table(corpus.lessons, LESSON_SCHEMA), run_dir / "lessons.parquet")
    pq.write_table(to_table(corpus.patches, PATCH_SCHEMA), run_dir / "patches.parquet")
    pq.write_table(to_table([p.to_patch() for p in result.assembly.parts], PATCH_SCHEMA), run_dir / "final_patches.parquet")
    refused_edit = Edit(op="append_to_section", section="Nowhere", content=f"- {HOSTILE}", reason="x")
    refusal = Refusal(edit=refused_edit, reason="section 'Nowhere' not found in SKILL.md")
    extra = [
        ProvenanceRow(kind="refused", path="SKILL.md", section="Nowhere", cluster_id=99, cluster_label="nowhere", support=2, lesson_ids=["l-x1", "l-x2"], trajectory_ids=["t-r1", "t-r2"], content=refused_edit.content, reason=refusal.reason),
        ProvenanceRow(kind="dropped", cluster_id=98, cluster_label=HOSTILE, support=1, lesson_ids=["l-h"], trajectory_ids=["t-hostile"], content=HOSTILE, reason="one-off: " + HOSTILE),
    ]  # fmt: skip
    write_provenance(result.provenance + extra, run_dir / "provenance.parquet")
    (run_dir / "consolidation.json").write_text(result.stats.model_dump_json(indent=2))
    (run_dir / "refusals.json").write_text(json.dumps([refusal.model_dump()]))
    statuses = [m.status for m in manifest]
    summary = RunSummary(
        skill_dir=str(skill_dir),
        read=len(manifest),
        **{s: statuses.count(s) for s in ("analyzed", "no_lesson", "quarantined", "failed")},
        lessons=len(corpus.lessons),
        patches=len(corpus.patches),
        consolidation=result.stats,
        edits_applied=result.final.applied,
        edits_refused=1,
        valid=True,
        analysis_usage=Usage(prompt_tokens=100 * len(analysed), completion_tokens=20 * len(analysed), calls=len(analysed)),
        stage_seconds={"start": 1.0, "read": 0.5, "analyze": 3.0, "merge": 2.0, "apply": 0.1},
        wall_seconds=6.6,
    )
    (run_dir / "summary.json").write_text(summary.model_dump_json(indent=2))
    return run_dir
