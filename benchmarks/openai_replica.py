"""One HTTP-bound analyst replica against an OpenAI-compatible server of fixed latency.

    .venv/bin/python benchmarks/openai_replica.py                     # 0.5 s per answer; 1, 4, 16, 64 requests per replica
    .venv/bin/python benchmarks/openai_replica.py --latency-s 1 --ongoing 8 --ongoing 128

For each ``max_ongoing_requests`` M it deploys one ``Analyst`` replica (``num_cpus`` 0,
``openai`` backend with ``max_concurrency`` M) on a local Ray instance, sends
R = max(4 M, 32) trajectories at once through the replica's handle (batch requests of
``--batch-size`` rows, as the analysis stage sends them), and measures
analyses/s, the most requests the server held at once, and analyses/s against the ideal
M / latency (what a replica that costs nothing would reach). The server is the tests'
loopback server (``tests/llm/openai_server.py``): it sleeps ``--latency-s``, then answers
with the fake backend's responders. Times are medians of ``--repeats`` rounds. Prints a
table and writes ``benchmarks/results/openai_replica.json``.

What it tells: how many analyses one replica that only waits on HTTP (the ``openai`` and
``vllm`` backends) carries, so a recipe can size ``max_ongoing_requests`` and replicas to
an engine's latency and batch size.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from corpus import records  # noqa: E402 (benchmarks/ on the path above)
from results import save_result  # noqa: E402


def trajectories(n: int, batch_size: int) -> list:
    """``n`` corpus trajectories as the Arrow batches the replica's ``analyze_batch`` takes."""
    import pyarrow as pa

    from trace2skill.ingest import read_file
    from trace2skill.schema import TRAJECTORY_SCHEMA

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records(0, n, "openai_chat")))
        table = pa.Table.from_pylist([t.to_row() for t in read_file(path)], schema=TRAJECTORY_SCHEMA)
    return [table.slice(i, batch_size) for i in range(0, n, batch_size)]


def measure(ongoing: int, latency_s: float, repeats: int, skill, batch_size: int) -> dict:
    from ray import serve

    from tests.llm.openai_server import ChatServer
    from trace2skill.analysts.analyze import AnalystConfig
    from trace2skill.llm.config import OpenAIConfig
    from trace2skill.serve.analyst import start_analyst
    from trace2skill.serve.config import ReplicaConfig

    n = max(4 * ongoing, 32)
    batches = trajectories(n, batch_size)
    seconds, peaks = [], []
    with ChatServer(latency_s=latency_s) as server:
        backend = OpenAIConfig(base_url=server.base_url, model="m", max_concurrency=ongoing)
        app, handle = start_analyst(backend, AnalystConfig(), ReplicaConfig(num_replicas=1, num_cpus=0, max_ongoing_requests=ongoing))
        try:
            for _ in range(repeats):
                server.peak_in_flight = 0
                start = time.perf_counter()
                pending = [handle.analyze_batch.remote(batch, skill) for batch in batches]
                statuses = [r.status for response in pending for r in response.result(timeout_s=600)]
                seconds.append(time.perf_counter() - start)
                peaks.append(server.peak_in_flight)
                assert "failed" not in statuses, statuses
        finally:
            serve.delete(app)
    per_s = n / statistics.median(seconds)
    return {
        "max_ongoing_requests": ongoing,
        "requests": n,
        "batch_size": batch_size,
        "seconds": seconds,
        "median_s": statistics.median(seconds),
        "analyses_per_s": per_s,
        "ideal_per_s": ongoing / latency_s,
        "of_ideal": per_s / (ongoing / latency_s),
        "peak_in_flight": max(peaks),
    }


def table(res: dict) -> str:
    lines = [
        f"latency {res['latency_s']} s per answer, {res['cpus']} CPUs, load {res['loadavg_at_start']}",
        "| max_ongoing_requests | requests | median s | analyses/s | ideal/s | of ideal | peak in flight |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res["points"]:
        lines.append(
            f"| {r['max_ongoing_requests']} | {r['requests']} | {r['median_s']:.2f} | {r['analyses_per_s']:.1f} | "
            f"{r['ideal_per_s']:.1f} | {r['of_ideal']:.0%} | {r['peak_in_flight']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-s", type=float, default=0.5)
    parser.add_argument("--ongoing", type=int, action="append", help="max_ongoing_requests per point (repeatable)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4, help="trajectories per request (the analysis stage's batch_size)")
    parser.add_argument("--out", default=str(HERE / "results" / "openai_replica.json"))
    args = parser.parse_args()

    import ray

    from trace2skill.analysts.context import SkillContext
    from trace2skill.skill.folder import minimal_skill

    view = SkillContext.of(minimal_skill("bench", "A skill for the benchmark. Use for benchmark tasks."))
    res = {"latency_s": args.latency_s, "batch_size": args.batch_size, "cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in os.getloadavg()], "points": []}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        for ongoing in args.ongoing or [1, 4, 16, 64]:
            res["points"].append(measure(ongoing, args.latency_s, args.repeats, view, args.batch_size))
            print(table({**res, "points": res["points"][-1:]}).splitlines()[-1], flush=True)
    finally:
        ray.shutdown()
    print(table(res))
    save_result(res, args.out)


if __name__ == "__main__":
    main()
