"""Library routing at scale: a mixed pool of four task families routed by clustering, timed.

``.venv/bin/python benchmarks/library_routing.py [--sizes 20000:2000 200000:10000] [--embedder hashing]``

Each size is ``RECORDS:UNIQUE``: UNIQUE distinct task texts (four families, each task a
family template with its own ids and slot words, as real pools are), each run
RECORDS/UNIQUE times. The table gives the seconds ``library.route`` takes (embedding the
unique tasks included), the groups and the criterion it states, and the purity against
the known family. Above 5,000 unique tasks k is chosen on a sample (docs/library.md).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.results import save_result  # noqa: E402  (run as a script: the repository root on the path first)
from trace2skill.consolidate.embed import make_embedder  # noqa: E402
from trace2skill.library.models import TaskRecord  # noqa: E402
from trace2skill.library.route import route  # noqa: E402

FAMILIES = {
    "airline": ("Your user id is {id}. You want to {verb} reservation {code} {detail}.", ["cancel", "change", "upgrade", "add bags to"], ["for a refund", "to an afternoon flight", "and pay with the gift card", "because the flight was delayed"]),
    "coding": ("Fix the failing test {id} in the repository: the {verb} function {detail}.", ["parse", "render", "retry", "cache"], ["raises a TypeError", "drops the last token", "returns stale values", "crashes on empty input"]),
    "data": ("Write a SQL query over the {verb} table {id} that {detail}.", ["orders", "events", "accounts", "inventory"], ["sums sales per region", "counts duplicates per warehouse", "computes the churn rate", "finds the monthly active users"]),
    "browsing": ("Open the {verb} website, go to page {id} and {detail}.", ["library", "museum", "shop", "news"], ["find the opening hours", "book a ticket", "sort the results by price", "summarise the headline"]),
}


def pool(records: int, unique: int, seed: int = 0) -> list[TaskRecord]:
    """``records`` runs of ``unique`` distinct tasks, the family in field ``family``."""
    rng = random.Random(seed)
    names = list(FAMILIES)
    tasks = []
    for i in range(unique):
        family = names[i % len(names)]
        template, verbs, details = FAMILIES[family]
        text = template.format(id=f"x{rng.randrange(10**8):08d}", code=f"{rng.randrange(36**6):06X}", verb=rng.choice(verbs), detail=rng.choice(details))
        tasks.append((family, text))
    return [TaskRecord(id=f"r{n}", task=tasks[n % unique][1], source_format="openai_chat", fields={"family": tasks[n % unique][0]}) for n in range(records)]


def purity(routing, family: dict[str, str]) -> float:
    majority = 0
    for s in routing.skills:
        fams = [family[i] for i in s.trajectory_ids]
        majority += max(fams.count(f) for f in set(fams))
    return majority / max(1, len(family))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["20000:2000", "200000:10000"])
    parser.add_argument("--embedder", default="hashing")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "library_routing.json"))
    args = parser.parse_args()
    embed = make_embedder(args.embedder).embed
    rows = []
    print("| records | unique tasks | seconds | skills | unrouted | purity | criterion |\n|---|---|---|---|---|---|---|")
    for size in args.sizes:
        records, unique = (int(v) for v in size.split(":"))
        recs = pool(records, unique)
        start = time.perf_counter()
        routing = route(recs, embed=embed)
        seconds = time.perf_counter() - start
        row = {"records": records, "unique": unique, "seconds": round(seconds, 2), "skills": len(routing.skills), "unrouted": len(routing.unrouted), "purity": round(purity(routing, {r.id: r.fields["family"] for r in recs}), 3), "criterion": routing.criterion}
        rows.append(row)
        print(f"| {records} | {unique} | {row['seconds']} | {row['skills']} | {row['unrouted']} | {row['purity']} | {routing.criterion} |")
    save_result({"embedder": args.embedder, "rows": rows}, args.out)


if __name__ == "__main__":
    main()
