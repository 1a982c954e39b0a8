"""The partitioning function (paper §4.1): ``hash(key) mod R``.

The hash must be *stable*: every map worker, in every process, on every
host, must send a key to the same reduce task, or a key's values would be
split between two reducers. Python's built-in ``hash`` of a ``str`` is salted
per process (PYTHONHASHSEED), so it cannot be used; CRC-32 of the key's
UTF-8 bytes (or of its canonical JSON for non-strings) is stable and fast (C).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from typing import Any


def key_bytes(key: Any) -> bytes:
    """The bytes a key hashes as: UTF-8 for strings, canonical JSON otherwise."""
    if isinstance(key, str):
        return key.encode("utf-8", "surrogatepass")
    return json.dumps(key, sort_keys=True, separators=(",", ":")).encode("utf-8")


def stable_hash(key: Any) -> int:
    """A 32-bit hash of ``key`` that is the same in every process and on every host."""
    return zlib.crc32(key_bytes(key))


def hash_partition(key: Any, reduce_tasks: int) -> int:
    """The default partitioner: ``stable_hash(key) mod R`` (§4.1)."""
    if type(key) is str:  # the common case, without a function call
        return zlib.crc32(key.encode("utf-8", "surrogatepass")) % reduce_tasks
    return zlib.crc32(key_bytes(key)) % reduce_tasks


def hash_partitions(pairs: Sequence[tuple[Any, Any]], reduce_tasks: int) -> list[int]:
    """:func:`hash_partition` of every pair's key, in one comprehension when the keys are str."""
    try:
        return [zlib.crc32(pair[0].encode("utf-8", "surrogatepass")) % reduce_tasks for pair in pairs]
    except AttributeError:  # some key is not a str
        return [hash_partition(pair[0], reduce_tasks) for pair in pairs]


def range_partition(key: Any, boundaries: list[Any]) -> int:
    """Partition by sorted boundaries (R-1 of them): the partitioner of a
    total-order sort (§5.3), where reduce task i gets keys in
    ``[boundaries[i-1], boundaries[i])`` so the R outputs concatenate sorted."""
    lo, hi = 0, len(boundaries)
    while lo < hi:
        mid = (lo + hi) // 2
        if key < boundaries[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo
