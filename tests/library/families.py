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

DATA = [
    "Write a SQL query that returns total sales per region for 2023 from the orders table.",
    "Which product category had the highest average order value last quarter? Use the sales database.",
    "Compute the monthly active users from the events table and plot the trend.",
    "Join the customers and orders tables and find customers with no orders in the last 90 days.",
    "Load the CSV of transactions into a dataframe and report the median transaction amount by country.",
    "Our dashboard shows revenue dropped in March; query the warehouse to find which region explains the drop.",
    "Group the survey responses by age bracket and compute the mean satisfaction score with a confidence interval.",
    "Find duplicate rows in the inventory table and count them per warehouse.",
    "Write a query for the top 10 products by units sold, excluding returned orders.",
    "Pivot the quarterly revenue table so each region is a column, then compute year over year growth.",
    "Estimate the churn rate per subscription plan from the accounts table.",
    "Aggregate the clickstream data by day and compute the conversion rate from visit to purchase.",
]
BROWSING = [
    "Go to the city library website and find the opening hours of the main branch on Saturday.",
    "Search the web for the cheapest wireless headphones on the electronics store page and add them to the cart.",
    "Open the news site, find the latest article about the election and summarise its headline.",
    "Navigate to the online shop, filter running shoes by size 42 and sort by price.",
    "Log in to the forum page and reply to the newest thread in the gardening section.",
    "Find the contact email on the university admissions web page.",
    "On the recipe website, search for vegetarian lasagna and save the top rated recipe.",
    "Browse the real estate site and list apartments with two bedrooms under the budget in the city centre.",
    "Click through the museum website to book a ticket for the Sunday guided tour.",
    "Fill in the newsletter signup form on the bakery homepage and submit it.",
    "Use the search box on the wiki page to find the article about volcanoes and open its history section.",
    "Visit the train operator website and look up the timetable from the airport to downtown.",
]
CODING = [
    "Fix the failing unit test in tests/test_parser.py: the parser drops the last token of a line.",
    "The function parse_date raises a TypeError when given None; make it return None instead and add a test.",
    "Refactor the module so that the HTTP client retries on connection errors, and keep the tests passing.",
    "A SyntaxError is raised when importing utils.py; find the missing colon and fix it.",
    "Implement the missing method in the repository class so that the integration test passes.",
    "The build fails with an ImportError after the dependency upgrade; fix the import in the package.",
    "Add type hints to the functions in the config module and make mypy pass.",
    "Debug why the cache returns stale values in the test suite and fix the bug in the code.",
    "Write a regression test for the off-by-one error in the pagination function and fix the function.",
    "Resolve the issue where the command line tool crashes on an empty input file; add a test for it.",
    "Rename the deprecated function in the codebase and update every call site and test.",
    "Run the test suite, read the traceback of the failing test and fix the source code, not the test.",
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
    """The bundled airline runs: tau-bench results and an OpenAI-chat log (32 runs of 24 tasks)."""
    return trajectory_records([ROOT / "examples" / "airline", ROOT / "examples" / "demo"], "airline")


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
