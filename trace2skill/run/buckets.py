"""Stable buckets of string keys: the same bucket for a key in every process and every run
(Python's ``hash`` of a string is salted per process), so work split by bucket in one
worker agrees with the split in another and with a resumed run."""

from __future__ import annotations

import zlib

import pyarrow as pa


def stable_bucket(keys: list[str | None], buckets: int) -> pa.Array:
    """The bucket of each key, ``crc32(key) % buckets``; a null key has a null bucket."""
    return pa.array([zlib.crc32(key.encode()) % buckets if key is not None else None for key in keys], pa.int32())
