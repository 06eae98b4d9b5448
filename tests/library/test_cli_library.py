"""``distill --library``: its flags are checked before any work, with one error line each."""

from __future__ import annotations

import json

import pytest

from tests.conftest import EXAMPLES
from tests.run.test_library_update import finished_library
from tests.test_cli_conventions import cli, one_error


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--out", "OUT", "--skills", str(EXAMPLES / "skills")], "--skills and --group-by belong to library mode"),
        (["--out", "OUT", "--group-by", "format"], "--skills and --group-by belong to library mode"),
        (["--out", "OUT", "--library", "LIB"], "not both"),
        (["--library", "LIB", "--skills", "no-such-folder"], "--skills no-such-folder is not a directory"),
    ],
)
def test_library_flags_fail_before_any_work(extra, words, tmp_path):
    args = [a.replace("OUT", str(tmp_path / "out")).replace("LIB", str(tmp_path / "lib")) for a in extra]
    line = one_error(cli("distill", str(EXAMPLES / "airline"), *args, "--backend", "fake"))
    assert words in line
    assert not (tmp_path / "out").exists() and not (tmp_path / "lib").exists()


def test_library_flags_are_in_help():
    text = " ".join(cli("distill", "--help").stdout.split())
    for flag in ("--library", "--skills", "--group-by"):
        assert flag in text


def test_plan_library_splits_the_pool_and_its_calls():
    """plan --library routes the scanned pool as distill --library does: every trajectory in
    one skill or unrouted, and the skills' analysis calls add up to the pool's."""
    result = cli("plan", str(EXAMPLES / "airline"), str(EXAMPLES / "library"), "--library", "--group-by", "format", "--skills", str(EXAMPLES / "skills"), "--json")
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    library = plan["library"]
    assert {s["group"] for s in library["skills"]} == {"tau_bench", "openai_chat"}
    assert sum(s["trajectories"] for s in library["skills"]) + library["unrouted"] == plan["trajectories"]
    assert abs(sum(s["analysis_calls"] for s in library["skills"]) - plan["analysis_calls"]) <= len(library["skills"])
    by_group = {s["group"]: s for s in library["skills"]}
    assert by_group["tau_bench"]["skill"] == "airline-support" and by_group["tau_bench"]["origin"] == "deepened"
    assert by_group["openai_chat"]["origin"] == "created"
    assert all(s["merge_calls"] >= 1 for s in library["skills"])
    table = cli("plan", str(EXAMPLES / "airline"), "--library", "--group-by", "format").stdout
    assert "2 skill(s), 0 trajectory(ies) unrouted" in table and "analysis calls" in table


def test_update_of_a_library_or_a_skill_run_fails_before_any_work_when_mismatched(tmp_path):
    """--update of a library goes with --library, of one skill's run with --out; --skills has no place in a library update."""
    previous = finished_library(tmp_path)
    pool = str(EXAMPLES / "airline")
    cases = [
        (["--out", str(tmp_path / "new"), "--update", str(previous)], "is a library's run: update it with --library"),
        (["--library", str(tmp_path / "new"), "--update", str(previous / "run" / "skills" / "sql-questions")], "is one skill's run, not a library"),
        (["--library", str(tmp_path / "new"), "--update", str(previous), "--skills", str(EXAMPLES / "skills")], "--skills does not apply"),
        (["--library", str(previous), "--update", str(previous)], "another --library folder"),
    ]
    for args, words in cases:
        assert words in one_error(cli("distill", pool, *args, "--backend", "fake"))
        assert not (tmp_path / "new").exists()
