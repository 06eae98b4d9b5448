"""An update's provenance: the previous run's evidence for the lines still in the skill, grown
by the new run's evidence for the same lines (``distill --update``, docs/library.md).

A previous content row (``skill``, ``reference``, ``scaffold``) is carried when one of its
lines is still in its file of the updated skill, so a line keeps its history. A new content
row that says the same thing in the same place (same path and section, rapidfuzz ratio of
the normalised content at least ``near_duplicate``) adds its lessons and trajectories to
that row (support = its distinct trajectories) instead of standing beside it; a new edit the
guarded apply refused as a duplicate of that line adds its evidence too (and keeps its
``refused`` row, the guard's decision). The previous
file is read in batches, as ``write_provenance`` writes it: its id lists can be long.
Rows of other kinds (dropped, conflicts, refusals, collapsed near-duplicates) describe the
previous run's decisions and stay in its own ``provenance.parquet``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from rapidfuzz import fuzz

from trace2skill.consolidate.provenance import CONTENT_KINDS, PROVENANCE_SCHEMA, ProvenanceRow
from trace2skill.skill.model import SKILL_MD, Skill, normalize_title, split_lines
from trace2skill.skill.once import normalise

DUPLICATE = "duplicate:"  # how the guarded apply words the refusal of an edit whose lines are all there (skill.apply)
CARRY_BATCH = 256  # previous content rows per batch: each may list millions of ids


class CarriedProvenance:
    """The previous run's content rows still backed by the skill (``tables``, streamed), and the
    new run's rows that were not folded into one of them (``remaining``, once ``tables`` is read)."""

    def __init__(self, previous: Path, new_rows: list[ProvenanceRow], skill: Skill, near_duplicate: float):
        self.previous = previous
        self.new_rows = new_rows
        self.skill = skill
        self.near_duplicate = near_duplicate
        self.used: set[int] = set()  # indices of new rows whose evidence a carried row took
        self.carried = 0
        self._lines: dict[str, set[str]] = {}

    def tables(self) -> Iterator[pa.Table]:
        """The carried rows, batch by batch, with the new evidence for each added."""
        dataset = ds.dataset(str(self.previous), format="parquet")
        for batch in dataset.to_batches(filter=pc.field("kind").isin(list(CONTENT_KINDS)), batch_size=CARRY_BATCH):
            rows = [ProvenanceRow.model_validate(r) for r in batch.to_pylist()]
            kept = [self._grown(r) for r in rows if self.still_there(r)]
            self.carried += len(kept)
            if kept:
                yield pa.Table.from_pylist([r.model_dump() for r in kept], schema=PROVENANCE_SCHEMA)

    def remaining(self) -> Iterator[ProvenanceRow]:
        """The new rows not folded into a carried one (read after ``tables``)."""
        yield from (r for i, r in enumerate(self.new_rows) if i not in self.used or r.kind not in CONTENT_KINDS)

    def still_there(self, row: ProvenanceRow) -> bool:
        """Whether one of the row's lines is still in its file of the skill."""
        lines = self._file_lines(row.path)
        return any(normalise(line) in lines for line in split_lines(row.content) if normalise(line))

    def _file_lines(self, path: str) -> set[str]:
        if path not in self._lines:
            text = self.skill.skill_md() if path == SKILL_MD else self.skill.files.get(path, "")
            self._lines[path] = {normalise(line) for line in split_lines(text)}
        return self._lines[path]

    def _grown(self, row: ProvenanceRow) -> ProvenanceRow:
        """``row`` with the lessons and trajectories of the new rows that say the same in the same place."""
        same = [i for i, new in enumerate(self.new_rows) if i not in self.used and self._same(row, new)]
        if not same:
            return row
        self.used.update(same)
        lessons = list(dict.fromkeys([*row.lesson_ids, *(i for n in same for i in self.new_rows[n].lesson_ids)]))
        trajectories = list(dict.fromkeys([*row.trajectory_ids, *(t for n in same for t in self.new_rows[n].trajectory_ids)]))
        return row.model_copy(update={"lesson_ids": lessons, "trajectory_ids": trajectories, "support": len(trajectories)})

    def _same(self, old: ProvenanceRow, new: ProvenanceRow) -> bool:
        supports = new.kind in CONTENT_KINDS or (new.kind == "refused" and new.reason.startswith(DUPLICATE))
        if not supports or new.path != old.path or normalize_title(new.section) != normalize_title(old.section):
            return False
        return fuzz.ratio(" ".join(map(normalise, split_lines(old.content))), " ".join(map(normalise, split_lines(new.content)))) >= self.near_duplicate
