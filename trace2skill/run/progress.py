"""What a run shows while it works: trace2skill's own lines and one progress display per stage.

On a terminal a stage is a tqdm bar (done/total, rate, time left). Anywhere else (a pipe,
a CI log, a file) it is a plain line, at most every ``every`` seconds and always at the
end of the stage, with the same figures, so a log also says how long is left. Pipeline
code takes any ``Callable[[str], None]`` for its lines; ``Console.of`` turns one into a
console whose stages print plain lines through it. ``stderr_to`` keeps everything else a
run's libraries print (Ray's notices, warnings, C++ log lines) off the terminal, in a file.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

PREFIX = "[trace2skill] "
BAR_FORMAT = "{desc}: {n_fmt}/{total_fmt} |{bar:20}| {percentage:3.0f}% [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
PLAIN_FORMAT = "{desc} {n_fmt}/{total_fmt} ({percentage:.0f}%), {rate_fmt}, {remaining} left{postfix}"


class Stage:
    """Progress of one stage with a known total; ``advance`` after each finished item."""

    def __init__(self, console: Console, name: str, total: int, unit: str, initial: int):
        self.console, self.name, self.total, self.unit, self.initial = console, name, total, unit, initial
        self.done = initial
        self.note = ""
        self.started = time.monotonic()
        self.last_line = self.started
        self.bar = (
            tqdm(total=total, initial=initial, desc=name, unit=unit, file=console.bar_file, bar_format=BAR_FORMAT, dynamic_ncols=True, mininterval=0.5)
            if console.bar_file is not None
            else None
        )

    def advance(self, n: int = 1, note: str | None = None) -> None:
        """``n`` more items are done; ``note`` (e.g. counts by status) is shown after the figures."""
        self.done += n
        if note is not None:
            self.note = note
        if self.bar is not None:
            if note is not None:
                self.bar.set_postfix_str(note, refresh=False)
            self.bar.update(n)
        elif self.done >= self.total or time.monotonic() - self.last_line >= self.console.every:
            self.last_line = time.monotonic()
            self.console.emit(self.line())

    def line(self) -> str:
        """The stage's figures as one line: done/total, share, rate and time left."""
        return tqdm.format_meter(
            self.done,
            self.total,
            time.monotonic() - self.started,
            prefix=self.name,
            unit=self.unit,
            initial=self.initial,
            postfix=self.note or None,
            bar_format=PLAIN_FORMAT,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.done < self.total:  # ended early (an error): say where it stopped
            self.console.emit(self.line())


class Console:
    """trace2skill's own output during a run: message lines and stage progress.

    ``emit`` writes one finished line. ``bar_file``, when given, is a terminal that shows
    live bars; lines then go through tqdm so they do not break a bar in progress.
    """

    def __init__(self, emit: Callable[[str], None], *, bar_file: TextIO | None = None, every: float = 10.0):
        self.emit, self.bar_file, self.every = emit, bar_file, every

    def __call__(self, message: str) -> None:
        if self.bar_file is not None:
            tqdm.write(PREFIX + message, file=self.bar_file)
        else:
            self.emit(message)

    @contextmanager
    def stage(self, name: str, total: int, unit: str = "item", initial: int = 0) -> Iterator[Stage]:
        """A progress display for ``total`` items, closed when the block ends."""
        stage = Stage(self, name, total, unit, initial)
        try:
            yield stage
        finally:
            stage.close()

    @classmethod
    def of(cls, progress: Callable[[str], None]) -> Console:
        """``progress`` itself when it is a console, else a console printing plain lines through it."""
        return progress if isinstance(progress, Console) else cls(progress)

    @classmethod
    def for_stderr(cls, stream: TextIO | None = None, *, bars: bool | None = None) -> Console:
        """A console on this process's stderr as it is now.

        It writes to a duplicate of the stream's file descriptor, so it keeps reaching the
        terminal while a run sends the process's own stderr to a log file. Bars are shown
        when the stream is a terminal (``bars`` overrides).
        """
        stream = stream or sys.stderr
        try:
            out: TextIO = os.fdopen(os.dup(stream.fileno()), "w", buffering=1, encoding="utf-8", errors="replace")
        except (AttributeError, OSError, io.UnsupportedOperation):  # an in-memory stream (tests)
            out = stream
        show_bars = out.isatty() if bars is None else bars

        def emit(line: str) -> None:
            print(PREFIX + line, file=out, flush=True)

        return cls(emit, bar_file=out if show_bars else None)


@contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Send everything written to this process's stderr to ``path`` (appended) until the block ends.

    It redirects file descriptor 2 itself, so it catches what no logging setting reaches:
    C++ log lines of Ray's core worker, Python warnings, and the output of processes started
    meanwhile (a local Ray's raylet and GCS inherit it). A ``Console.for_stderr`` made
    before keeps writing to the terminal. If the block fails, one line on the restored
    stderr says where those messages are, since the reason may be among them.
    """
    sys.stderr.flush()
    saved_fd, saved_stream = os.dup(2), sys.stderr
    with open(path, "a", buffering=1, encoding="utf-8", errors="replace") as log:
        os.dup2(log.fileno(), 2)
        sys.stderr = log  # Python writers that hold sys.stderr rather than fd 2 (Ray's log handlers look it up per record)
        try:
            yield
        except BaseException:
            _restore(log, saved_fd, saved_stream)
            print(f"{PREFIX}the run stopped; what Ray and the libraries printed is in {path}", file=sys.stderr, flush=True)
            raise
        else:
            _restore(log, saved_fd, saved_stream)


def _restore(log: TextIO, saved_fd: int, saved_stream: TextIO) -> None:
    log.flush()
    sys.stderr = saved_stream
    os.dup2(saved_fd, 2)
    os.close(saved_fd)
