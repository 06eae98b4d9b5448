"""The run's console: stage progress as plain lines or bars, and stderr kept in a log file."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time

import pytest

from trace2skill.run.progress import PREFIX, Console, stderr_to

PLAIN = re.compile(r"^analyze (\d+)/3 \((\d+)%\), +[\d.]+(s/trajectory|trajectory/s), (\d\d:\d\d|\?) left(, .*)?$")


def test_plain_lines_state_done_total_rate_and_time_left():
    lines: list[str] = []
    console = Console(lines.append, every=0.0)
    with console.stage("analyze", 3, "trajectory") as stage:
        for i in range(3):
            time.sleep(0.02)
            stage.advance(note=f"{i + 1} analyzed")
    assert len(lines) == 3
    for i, line in enumerate(lines, start=1):
        match = PLAIN.match(line)
        assert match, line
        assert int(match[1]) == i and match[4] != "?"  # a rate exists after the first item: time left is known
        assert match[5] == f", {i} analyzed"
    assert lines[-1].startswith("analyze 3/3 (100%)") and "00:00 left" in lines[-1]


def test_plain_lines_are_throttled_but_the_last_one_always_comes():
    lines: list[str] = []
    with Console(lines.append, every=3600.0).stage("analyze", 3, "trajectory") as stage:
        for _ in range(3):
            stage.advance()
    assert [line.split(",")[0] for line in lines] == ["analyze 3/3 (100%)"]


def test_a_stage_ended_early_says_where_it_stopped():
    lines: list[str] = []
    with pytest.raises(RuntimeError):
        with Console(lines.append, every=3600.0).stage("analyze", 3, "trajectory") as stage:
            stage.advance()
            raise RuntimeError("boom")
    assert len(lines) == 1 and lines[0].startswith("analyze 1/3 (33%)")


def test_resumed_stage_counts_from_what_was_done_before():
    lines: list[str] = []
    with Console(lines.append, every=0.0).stage("analyze", 3, "trajectory", initial=2) as stage:
        time.sleep(0.02)
        stage.advance()
    assert lines[0].startswith("analyze 3/3 (100%)")


def test_bars_on_a_terminal_and_lines_through_them():
    terminal = io.StringIO()
    console = Console.for_stderr(terminal, bars=True)
    with console.stage("merge", 2, "topic") as stage:
        console("a message while the bar runs")
        stage.advance(2)
    text = terminal.getvalue()
    assert f"{PREFIX}a message while the bar runs\n" in text
    assert re.search(r"merge: 2/2 \|.*\| 100% \[\d\d:\d\d<00:00", text), text


def test_console_of_keeps_a_console_and_wraps_a_callable():
    lines: list[str] = []
    console = Console(lines.append)
    assert Console.of(console) is console
    wrapped = Console.of(lines.append)
    wrapped("hello")
    assert lines == ["hello"] and wrapped.bar_file is None


def test_console_for_stderr_keeps_reaching_the_terminal_while_stderr_goes_to_a_log(tmp_path, capfd):
    console = Console.for_stderr(bars=False)
    log = tmp_path / "ray.log"
    with stderr_to(log):
        console("our line")
        print("python to sys.stderr", file=sys.stderr)
        os.write(2, b"C level write to fd 2\n")
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('a child process\\n')"], check=True)
    print("after the block", file=sys.stderr)
    captured = capfd.readouterr().err
    assert captured.splitlines() == [f"{PREFIX}our line", "after the block"]
    logged = log.read_text()
    for text in ("python to sys.stderr", "C level write to fd 2", "a child process"):
        assert text in logged
    assert "our line" not in logged


def test_a_failure_in_the_block_points_to_the_log(tmp_path, capfd):
    log = tmp_path / "ray.log"
    with pytest.raises(ValueError, match="the reason"):
        with stderr_to(log):
            os.write(2, b"what Ray said\n")
            raise ValueError("the reason")
    err = capfd.readouterr().err
    assert err == f"{PREFIX}the run stopped; what Ray and the libraries printed is in {log}\n"
    assert "what Ray said" in log.read_text()
