"""Ray and allocator tuning: the driver's Arrow from the system allocator during a run, trims, and the tasks that trim."""

from __future__ import annotations

import ctypes.util
import platform

import psutil
import pyarrow as pa
import pytest

from trace2skill.pipeline.tuning import system_arrow_pool, trim


def test_arrow_allocates_from_the_system_pool_in_the_block_only():
    before = pa.default_memory_pool().backend_name
    with system_arrow_pool():
        assert pa.default_memory_pool().backend_name == "system"
        assert pa.array(range(1000)).sum().as_py() == 499500
    assert pa.default_memory_pool().backend_name == before


@pytest.mark.skipif(platform.system() != "Linux" or "libc.so.6" not in (ctypes.util.find_library("c") or ""), reason="malloc_trim is glibc's")
def test_trim_hands_back_what_was_freed_between_live_chunks():
    rss = lambda: psutil.Process().memory_info().rss  # noqa: E731
    chunks = [bytes(2048) + bytes([i % 256]) for i in range(150_000)]  # ~300 MB of chunks from malloc (over pymalloc's 512 bytes)
    kept = chunks[::64]  # a live chunk every 128 KB: the heap cannot shrink from its top
    del chunks
    freed = rss()
    trim()
    assert freed - rss() > 100 * 2**20  # the free pages between the live chunks went back
    assert len(kept) == 2344


def test_a_releasing_task_trims_before_and_after_and_is_pickled_by_reference(monkeypatch):
    import pickle

    from trace2skill.pipeline import consolidate, pair, tuning, units

    calls = []
    monkeypatch.setattr(tuning, "trim", lambda: calls.append("trim"))
    double = tuning.releasing(lambda x: calls.append("run") or 2 * x)
    assert double(21) == 42 and calls == ["trim", "run", "trim"]
    calls.clear()
    with pytest.raises(ZeroDivisionError):
        tuning.releasing(lambda: 1 / 0)()
    assert calls == ["trim", "trim"]  # a failed task's garbage goes back too
    # Ray sends a module-level task function by reference (the worker imports it) only when
    # the wrapper is what the module's name holds; plain pickle succeeds only by reference.
    for fn in (consolidate.collapse_shards, units.embedded_units, units.read_streamed, pair.compact_runs, pair.file_candidates):
        assert pickle.loads(pickle.dumps(fn)) is fn
