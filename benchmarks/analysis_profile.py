"""cProfile of the analysis path in one process, fake backend: where an analysis's CPU goes
when the engine costs nothing.

    .venv/bin/python benchmarks/analysis_profile.py --n 500            # corpus trajectories, batches of 4
    .venv/bin/python benchmarks/analysis_profile.py --trajectories run/trajectories.parquet

It does what the analysis stage does without Ray's processes: Arrow batches of
``trajectories.parquet`` rows go to the ``Analyst`` deployment's class
(``Analyst.analyze_batch``), its answers are pickled and unpickled as Ray would carry them,
and turned into the JSON the actor hands the driver. The replica's analyses run in the
calling thread (cProfile sees one thread). Prints analyses/s and the top functions by own
time; the trajectories come from ``benchmarks/corpus.py`` unless ``--trajectories`` names a
Parquet file of rows.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pickle
import pstats
import sys
import tempfile
import time
from concurrent.futures import Executor, Future
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from corpus import records  # noqa: E402 (benchmarks/ on the path above)


class InThread(Executor):
    """Runs each submitted call at once in the caller's thread."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def corpus_rows(n: int):
    import pyarrow as pa

    from trace2skill.ingest import read_file
    from trace2skill.schema import TRAJECTORY_SCHEMA

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records(0, n, "openai_chat")))
        return pa.Table.from_pylist([t.to_row() for t in read_file(path)], schema=TRAJECTORY_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--trajectories", type=Path, help="Parquet rows to analyse instead of a generated corpus")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()

    import pyarrow.parquet as pq

    from trace2skill.analysts.context import SkillContext
    from trace2skill.serve.analyst import Analyst
    from trace2skill.skill.folder import minimal_skill

    rows = pq.read_table(args.trajectories).slice(0, args.n) if args.trajectories else corpus_rows(args.n)
    skill = SkillContext.of(minimal_skill("bench", "A skill for the benchmark. Use for benchmark tasks."))
    analyst = Analyst.func_or_class({"backend": "fake"}, {}, 1)
    analyst.pool = InThread()

    def analyse_all() -> None:
        for start in range(0, rows.num_rows, args.batch_size):
            answers = pickle.loads(pickle.dumps(analyst.analyze_batch(rows.slice(start, args.batch_size), skill)))
            [a.model_dump_json() for a in answers]  # what the actor hands the driver

    t0 = time.perf_counter()
    analyse_all()
    print(f"{rows.num_rows} analyses in {time.perf_counter() - t0:.2f} s ({rows.num_rows / (time.perf_counter() - t0):.0f}/s, no profiler)")
    profile = cProfile.Profile()
    profile.runcall(analyse_all)
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
