"""The Ray and allocator tuning of a run's processes, in one place: how the Ray session is set
up, how datasets of our own part files are read, what the analysis stream may read ahead,
and how memory freed by a stage or a task goes back to the system.

The driver holds little at any moment (the dataflow streams through the workers), but its
allocators kept what its stages had freed: Arrow's default pool (mimalloc) holds freed
segments, and glibc's malloc keeps freed chunks in its arenas. At 100,000 trajectories that
was ~110 MB of the driver's 590 MB after consolidation, and it grows with the run
(docs/performance.md, issue 16). So during a run the driver's Arrow buffers come from the
system allocator, and freed memory is trimmed at the stage boundaries.

Ray's worker processes live on between tasks, and kept what theirs had freed: at 100k, the
worker that had split, embedded and written the units, then collapsed shards, idled at
~1 GB, against ~0.3 GB for one that had imported the same modules. The consolidation and
pairing tasks therefore trim before and after they run (``releasing``); the work that holds
most (finishing the skill, the report) runs in a worker that exits after it (``in_worker``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import cache, wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import pyarrow as pa
import ray
from ray.data import DataContext

from trace2skill.run.progress import stderr_to

P = ParamSpec("P")
R = TypeVar("R")
TRIM_EVERY_BATCHES = 256  # analysis batches between trims of the driver's freed memory (~16k trajectories at 64 a batch)
READ_AHEAD_BYTES = 512 * 2**20  # object store the analysis stream may fill ahead of the analysts (~20k runs)


@contextmanager
def ray_session(num_cpus: int | None, log: Path | None = None) -> Iterator[None]:
    """Use the running Ray instance, or start a local one for this run and stop it after.
    With ``log``, this process's stderr (and that of the Ray processes it starts) goes to
    that file for the whole session: start-up notices, warnings, core worker log lines."""
    with stderr_to(log) if log is not None else nullcontext(), _ray(num_cpus):
        yield


@contextmanager
def _ray(num_cpus: int | None) -> Iterator[None]:
    started = not ray.is_initialized()
    if started and os.environ.get("RAY_ADDRESS", "local") != "local":
        # A job on a cluster (``ray job submit`` sets RAY_ADDRESS) joins it; the cluster has its own CPUs.
        ray.init(logging_level=logging.WARNING)
    elif started:
        ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    for name in ("ray.data", "ray.serve"):  # our own progress lines say what happens
        logging.getLogger(name).setLevel(logging.WARNING)
    ctx = DataContext.get_current()
    ctx.execution_options.preserve_order = True  # --limit and outputs follow file order
    ctx.enable_progress_bars = False
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def paths_dataset(files: list[str]) -> ray.data.Dataset:
    """A dataset of file paths (a ``path`` column) whose ``map_batches`` tasks read the files
    themselves, a batch of paths a task. The part files are ours: ``read_parquet`` lists
    them and reads their footers in tasks of its own first: under Ray's default reader, ~20
    more worker processes at 1M (~115 MB each), and under the first reader ~0.6 GB more on
    the driver; at 100k, 38 s of CPU for the units' split."""
    return ray.data.from_items([{"path": f} for f in files])


@contextmanager
def first_parquet_reader() -> Iterator[None]:
    """``read_parquet`` in this block uses Ray Data's first Parquet reader, a task per file.
    The newer one (``use_datasource_v2``) packs ~128 MiB of files into a task and decodes
    them at once: where a read decodes whole trajectories, its workers held ~1 GB each at
    100k and more at 1M, and kept it (docs/performance.md, issue 16)."""
    context = DataContext.get_current()
    reader = context.use_datasource_v2
    context.use_datasource_v2 = False
    try:
        yield
    finally:
        context.use_datasource_v2 = reader


@contextmanager
def analysis_stream() -> Iterator[None]:
    """Datasets made in this block (a dataset keeps a copy of the context it was made in):

    - yield results as they complete: an analysis that started late must not hold back the
      ones already done, nor the progress display, until it ends;
    - read ahead at most ``READ_AHEAD_BYTES`` of the object store: the analysts consume far
      slower than the read produces, and with Ray Data's default budget (a share of the
      whole object store) the read ran tens of thousands of runs ahead and its workers held
      ~2 GB each at 100k, so memory grew with the input (docs/performance.md, issue 16);
    - read Parquet with Ray Data's first reader (``first_parquet_reader``): with the newer
      one, and the stream consuming slowly, its two read workers held ~1 GB each at 100k
      (the first reader: ~0.4 GB).
    """
    options = DataContext.get_current().execution_options
    ordered, limits = options.preserve_order, options.resource_limits
    options.preserve_order = False
    options.resource_limits = limits.copy(object_store_memory=READ_AHEAD_BYTES)
    try:
        with first_parquet_reader():
            yield
    finally:
        options.preserve_order, options.resource_limits = ordered, limits


def in_worker(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run by a Ray task whose worker process exits after it (its memory goes back) and
    that reserves no CPU (it runs after the stages, and must not wait on the cores the
    replicas hold); the call waits for its result. ``fn`` is a module-level function, so the
    worker imports it rather than receive a copy of it and of what it refers to as they are
    in this process. Called inside the run's Ray session: outside it, the task would start a
    Ray instance of its own."""
    remote = ray.remote(num_cpus=0, max_calls=1)(fn)

    @wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return ray.get(remote.remote(*args, **kwargs))

    return call


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
