"""What the driver's allocators keep after a stage: handed back to the system.

The driver holds little at any moment (the dataflow streams through the workers), but its
allocators kept what its stages had freed: Arrow's default pool (mimalloc) holds freed
segments, and glibc's malloc keeps freed chunks in its arenas. At 100,000 trajectories that
was ~110 MB of the driver's 590 MB after consolidation, and it grows with the run
(docs/performance.md, issue 16). So during a run the driver's Arrow buffers come from the
system allocator, and freed memory is trimmed at the stage boundaries.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pyarrow as pa


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
