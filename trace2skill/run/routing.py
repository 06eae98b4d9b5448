"""A library run's pool as routing sees it, and the routing it writes.

``task_records`` reads what routing needs from the trajectories dataset (id, task, format,
the metadata's scalar fields), ``existing_skills`` the skills of ``--skills``, and
``route_pool`` routes them and writes ``routes.parquet`` (one row per trajectory: its skill,
or "" and the reason it stayed unrouted) and ``routing.json`` (the routing without the
trajectory ids, which only the Parquet file holds). Nothing here knows about Ray: the
pipeline runs ``route_pool`` in a worker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trace2skill import parts
from trace2skill.consolidate.config import ConsolidateConfig
from trace2skill.consolidate.embed import make_embedder
from trace2skill.library.models import ExistingSkill, Routing, TaskRecord
from trace2skill.library.route import route
from trace2skill.run.options import LibraryConfig
from trace2skill.skill.folder import SKILL_MD, load_skill

ROUTES, ROUTING = "routes.parquet", "routing.json"
ROUTES_SCHEMA = pa.schema([("trajectory_id", pa.string()), ("skill", pa.string()), ("reason", pa.string())])


def task_record(tid: str, task: str | None, source_format: str, metadata: dict) -> TaskRecord:
    """One trajectory as routing sees it; metadata values that are not strings, numbers or
    booleans are left out of ``fields``."""
    fields = {k: str(v) for k, v in metadata.items() if isinstance(v, str | int | float | bool)}
    return TaskRecord(id=tid, task=task or "", source_format=source_format, fields=fields)


def task_records(trajectories: Path) -> Iterator[TaskRecord]:
    """Every trajectory of the dataset as routing sees it."""
    for batch in parts.iter_batches(trajectories, ["id", "task", "source_format", "metadata"], batch_size=65536):
        for row in batch.to_pylist():
            yield task_record(row["id"], row["task"], row["source_format"], json.loads(row["metadata"] or "{}"))


def existing_skills(skills_dir: Path | None) -> dict[str, Path]:
    """The skills of ``--skills``: each sub-folder holding a SKILL.md, by its skill name."""
    if skills_dir is None:
        return {}
    found = {}
    for folder in sorted(p for p in skills_dir.iterdir() if (p / SKILL_MD).is_file()):
        found[load_skill(folder).name] = folder
    if not found:
        raise ValueError(f"--skills {skills_dir} holds no skill folder (a sub-folder with a {SKILL_MD})")
    return found


def route_records(records: list[TaskRecord], library: LibraryConfig, consolidate: ConsolidateConfig, seed: int) -> Routing:
    """``records`` routed with the library's options and the run's embedder, against the
    descriptions of the skills of ``--skills``."""
    existing = [ExistingSkill(name=name, description=load_skill(path).description) for name, path in existing_skills(library.skills_dir).items()]
    embedder = make_embedder(consolidate.embedder, precision=consolidate.embed_precision, threads=consolidate.embed_threads)
    return route(
        records,
        embed=embedder.embed,
        group_by=library.group_by,
        existing=existing,
        min_group_size=library.min_group_size,
        max_groups=library.max_groups,
        match_threshold=library.match_threshold,
        seed=seed,
    )


def route_pool(run_dir: Path, trajectories: Path, library: LibraryConfig, consolidate: ConsolidateConfig, seed: int) -> Routing:
    """Route the pool of ``trajectories``, write ``RUN_DIR/routes.parquet`` and
    ``RUN_DIR/routing.json``, and return the routing without its trajectory ids."""
    routing = route_records(list(task_records(trajectories)), library, consolidate, seed)
    rows = [(tid, s.skill, "") for s in routing.skills for tid in s.trajectory_ids]
    rows += [(u.trajectory_id, "", u.reason) for u in routing.unrouted]
    pq.write_table(pa.Table.from_arrays([pa.array(c, pa.string()) for c in zip(*rows)] if rows else [pa.array([], pa.string())] * 3, schema=ROUTES_SCHEMA), run_dir / ROUTES)
    light = routing.model_copy(update={"skills": [s.model_copy(update={"trajectory_ids": []}) for s in routing.skills]})
    counts = {s.skill: len(s.trajectory_ids) for s in routing.skills}
    (run_dir / ROUTING).write_text(json.dumps({"routing": light.model_dump(), "routed": counts}, indent=2))
    return light


def read_routing(run_dir: Path) -> tuple[Routing, dict[str, int]]:
    """``routing.json``: the routing (without trajectory ids) and how many trajectories each skill got."""
    saved = json.loads((run_dir / ROUTING).read_text())
    return Routing.model_validate(saved["routing"]), saved["routed"]
