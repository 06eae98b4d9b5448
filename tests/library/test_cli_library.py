"""``distill --library``: its flags are checked before any work, with one error line each."""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLES
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
