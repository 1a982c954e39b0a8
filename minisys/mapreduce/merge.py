"""The reduce side's external k-way merge (paper §3.1: "if the amount of
intermediate data is too large to fit in memory, an external sort is used").

Every region a reducer fetches is already sorted (the map side sorted its
spills), so sorting a reducer's input that does not fit is a k-way merge
with a heap: memory is one buffered record (plus a read buffer) per open
run, never the data. Input of at most ``memory_records`` records fits, and
is sorted in memory instead (the same order, stable Timsort).
More than ``fan_in`` runs are merged in passes -- consecutive groups of
``fan_in`` runs into one longer run each -- so the number of open files and
read buffers stays bounded however many map tasks there were. Merging
*consecutive* groups keeps ties in run order, so a key's values reach the
reducer in map-task order whatever the fan-in.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from minisys.errors import BadInput
from minisys.mapreduce.spill import read_run, sort_by_key, write_run

first = itemgetter(0)
second = itemgetter(1)


def _heap_merge(paths: Sequence[Path]) -> Iterator[list[Any]]:
    if len(paths) == 1:  # nothing to merge: stream the run
        yield from read_run(paths[0])
        return
    merged = heapq.merge(*(read_run(p) for p in paths), key=first)
    try:
        yield from merged
    except TypeError as exc:
        raise BadInput(f"keys of one job must be mutually comparable, to be sorted (§4.2): {exc}") from None


def merge_runs(paths: Sequence[Path], tmpdir: Path, fan_in: int, tag: str = "merge", *,
               records: int | None = None, memory_records: int = 0) -> Iterator[list[Any]]:
    """All records of the sorted runs ``paths``, in key order (ties in run order).

    When the runs hold ``records`` <= ``memory_records`` records in all, they
    are sorted in memory (§3.1: the external sort is for when the data does
    *not* fit): concatenated in run order and sorted with Python's stable
    Timsort, which finds the presorted runs and merges them in C -- the same
    order as the heap merge, several times faster."""
    if records is not None and records <= memory_records:
        return iter(_sort_in_memory(paths))
    fan_in = max(2, fan_in)
    runs = list(paths)
    passes = 0
    while len(runs) > fan_in:
        merged: list[Path] = []
        for i in range(0, len(runs), fan_in):
            group = runs[i : i + fan_in]
            if len(group) == 1:
                merged.append(group[0])
                continue
            out = tmpdir / f"{tag}-pass{passes}-{i // fan_in:05d}.mp"
            write_run(out, _heap_merge(group))
            merged.append(out)
        runs = merged
        passes += 1
    return _heap_merge(runs)


def _sort_in_memory(paths: Sequence[Path]) -> list[Any]:
    loaded: list[Any] = []
    for path in paths:
        loaded.extend(read_run(path))
    sort_by_key(loaded)  # stable: equal keys stay in run order
    return loaded


def group_by_key(records: Iterator[list[Any]]) -> Iterator[tuple[Any, Iterator[Any]]]:
    """(key, iterator over its values) in increasing key order (§4.2): what
    Reduce is called with, once per key."""
    for key, group in groupby(records, key=first):
        yield key, map(second, group)
