"""Task texts of known families for routing tests: the bundled airline runs (tau-bench and an
OpenAI-chat log, real), the real SWE-agent, OpenHands and Claude Code samples (when
``/work/shared`` is there), and small handwritten families of data questions, web browsing
and coding issues."""

from __future__ import annotations

from pathlib import Path

from trace2skill.ingest.registry import discover_files, read_file
from trace2skill.library.models import TaskRecord
from trace2skill.schema import Trajectory

ROOT = Path(__file__).resolve().parents[2]
REAL_SAMPLES = ROOT.parent.parent / "shared" / "real-samples"  # /work/shared beside the worktrees

# Each family's tasks share words, as the tasks of one product or harness do: a bag-of-words
# embedder (hashing) sees families only through shared words.
DATA = [
    "Write a SQL query that returns total sales per region for 2023 from the orders table.",
    "Query the sales table: which product category had the highest average order value last quarter?",
    "Write a SQL query for the monthly active users from the events table.",
    "Join the customers table and the orders table and query the customers with no orders in the last 90 days.",
    "Query the transactions table and report the median transaction amount per country.",
    "Revenue dropped in March; query the sales table to find which region explains the drop.",
    "Write a SQL query that groups the survey table by age bracket and computes the mean score.",
    "Query the inventory table for duplicate rows and count them per warehouse.",
    "Write a SQL query for the top 10 products by units sold from the orders table, excluding returned orders.",
    "Query the revenue table so each region is a column, then compute the year over year growth.",
    "Write a SQL query that estimates the churn rate per subscription plan from the accounts table.",
    "Query the clickstream table by day and compute the conversion rate from visit to purchase.",
]
BROWSING = [
    "Go to the city library website and find the page with the opening hours of the main branch.",
    "Search the electronics store website for the cheapest wireless headphones and open their page.",
    "Open the news website, find the page of the latest article about the election and summarise it.",
    "Navigate the online shop website to the running shoes page and sort it by price.",
    "Log in to the forum website and reply on the page of the newest gardening thread.",
    "Find the contact email on the admissions page of the university website.",
    "Search the recipe website for vegetarian lasagna and open the page of the top rated recipe.",
    "Browse the real estate website and list the apartment pages with two bedrooms in the city centre.",
    "Click through the museum website to the booking page and book a ticket for the Sunday tour.",
    "Fill in the newsletter form on the bakery website home page and submit it.",
    "Use the search box of the wiki website to open the page about volcanoes.",
    "Visit the train operator website and open the timetable page from the airport to downtown.",
]
CODING = [
    "Fix the failing unit test in the repository: the parser drops the last token of a line.",
    "The function parse_date raises a TypeError on None; fix the code in the repository and add a unit test.",
    "Make the HTTP client in the repository retry on connection errors, and keep the unit tests passing.",
    "A SyntaxError is raised when importing a module of the repository; fix the code so the tests pass.",
    "Implement the missing method in the repository so that the failing test passes.",
    "The test suite fails with an ImportError after a dependency upgrade; fix the import in the repository code.",
    "Add type hints to the config module of the repository and keep the unit tests passing.",
    "Debug why the cache returns stale values in the failing test and fix the bug in the repository code.",
    "Write a regression test for the off-by-one error in the pagination code and fix the code.",
    "The command line tool of the repository crashes on an empty input file; fix the code and add a test.",
    "Rename the deprecated function in the repository code and update every call site and test.",
    "Run the test suite of the repository, read the traceback of the failing test and fix the code, not the test.",
]

def records(texts: list[str], family: str, *, runs: int = 1, source_format: str = "openai_chat") -> list[TaskRecord]:
    """``runs`` records of each task text, ids ``<family>-<i>-<run>``, the family in field ``family``."""
    return [
        TaskRecord(id=f"{family}-{i}-{r}", task=t, source_format=source_format, fields={"family": family})
        for i, t in enumerate(texts)
        for r in range(runs)
    ]


def trajectory_records(paths: list[Path], family: str) -> list[TaskRecord]:
    """The records of the trajectories in ``paths`` (read and redacted by ingest), their family in ``family``."""
    out = []
    for path in discover_files(paths):
        for t in read_file(path):
            if isinstance(t, Trajectory):
                out.append(TaskRecord(id=t.id, task=t.task, source_format=t.source_format, fields={"family": family}))
    return out


def airline() -> list[TaskRecord]:
    """The bundled airline runs: tau-bench results and an OpenAI-chat log (24 runs of 24 tasks)."""
    return trajectory_records([ROOT / "examples" / "airline"], "airline")


def real_coding() -> list[TaskRecord]:
    """The real SWE-agent, OpenHands and Claude Code samples' tasks."""
    return trajectory_records([REAL_SAMPLES / d for d in ("swe-agent", "openhands", "claude-code")], "coding")


def purity(skill_of: dict[str, str], family_of: dict[str, str]) -> float:
    """The share of routed trajectories whose skill's majority family is their own."""
    by_skill: dict[str, list[str]] = {}
    for tid, skill in skill_of.items():
        by_skill.setdefault(skill, []).append(family_of[tid])
    majority = sum(max(fams.count(f) for f in set(fams)) for fams in by_skill.values())
    return majority / max(1, len(skill_of))
