"""What a process's allocators keep after a stage or a task: handed back to the system.

The driver holds little at any moment (the dataflow streams through the workers), but its
allocators kept what its stages had freed: Arrow's default pool (mimalloc) holds freed
segments, and glibc's malloc keeps freed chunks in its arenas. At 100,000 trajectories that
was ~110 MB of the driver's 590 MB after consolidation, and it grows with the run
(docs/performance.md, issue 16). So during a run the driver's Arrow buffers come from the
system allocator, and freed memory is trimmed at the stage boundaries.

Ray's worker processes live on between tasks, and kept what theirs had freed: at 100k, the
worker that had split, embedded and written the units, then collapsed shards, idled at
~1 GB, against ~0.3 GB for one that had imported the same modules. The consolidation and
pairing tasks therefore trim before and after they run (``releasing``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache, wraps
from typing import ParamSpec, TypeVar

import pyarrow as pa

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def system_arrow_pool() -> Iterator[None]:
    """Arrow allocates from the system allocator (glibc malloc, which ``trim`` can release)
    in this block; the pool in use before is restored after."""
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


@cache
def _malloc_trim():
    libc = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None  # glibc only


def trim() -> None:
    """Return the memory this process has freed to the system: Arrow's pool releases what it
    caches, and glibc's malloc its free pages (a no-op where the C library is not glibc)."""
    pa.default_memory_pool().release_unused()
    malloc_trim = _malloc_trim()
    if malloc_trim is not None:
        malloc_trim(0)


def releasing(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` (a function Ray runs as a task) with this process's freed memory trimmed before it
    runs (what the worker's earlier tasks, and Ray's writes of their output, left) and after
    (what ``fn`` built on the way to its result)."""

    @wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        trim()
        try:
            return fn(*args, **kwargs)
        finally:
            trim()

    return run
