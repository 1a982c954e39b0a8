"""The map side's bounded-memory buffer and its spills to local disk (paper §3.1, §4.3).

"The buffered pairs are written to local disk periodically, partitioned into
R regions by the partitioning function." Pairs collect in memory (grouped by
key when the job has a combiner) until the buffer holds ``limit`` records;
then it is *spilled*: the combiner (§4.3) collapses each key's values (word
count's ``("the", 1)`` pairs become one pair per word), and the pairs are
partitioned, each partition sorted by key, and written as one sorted run
file per partition. When the task ends, the runs of each
partition are k-way merged (combining again) into the task's one region
file for that partition, which is what the master hands to reducer R.

Records on disk are a stream of msgpack ``[key, value]`` arrays: compact,
typed (a str stays a str, an int an int) and read back by C code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from itertools import compress, groupby, islice
from operator import itemgetter
from pathlib import Path
from typing import Any

import msgpack

from minisys.errors import BadInput
from minisys.mapreduce.partition import hash_partition, hash_partitions

first = itemgetter(0)


def pack_records(records: Iterable[Any]) -> bytes:
    packer = msgpack.Packer(use_bin_type=True, autoreset=True)
    try:
        return b"".join(map(packer.pack, records))
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadInput(
            f"keys and values must be JSON-serialisable (str, int, float, bool, None, list, dict): {exc}"
        ) from None


def write_run(path: Path, records: Iterable[Any], batch: int = 8192) -> tuple[int, int]:
    """Write sorted records to ``path`` in batches (bounded memory); returns (bytes, records)."""
    size = count = 0
    with open(path, "wb") as f:
        if isinstance(records, list):
            for i in range(0, len(records), batch):
                size += f.write(pack_records(records[i : i + batch]))
            return size, len(records)
        buf: list[Any] = []
        for rec in records:
            buf.append(rec)
            if len(buf) >= batch:
                size += f.write(pack_records(buf))
                count += len(buf)
                buf.clear()
        if buf:
            size += f.write(pack_records(buf))
            count += len(buf)
    return size, count


def read_run(path: str | Path) -> Iterator[list[Any]]:
    """Stream ``[key, value]`` records back from a run file."""
    with open(path, "rb") as f:
        yield from msgpack.Unpacker(f, raw=False, read_size=1 << 20, max_buffer_size=1 << 30)


def sort_by_key(records: list[Any]) -> None:
    try:
        records.sort(key=first)
    except TypeError as exc:
        raise BadInput(f"keys of one job must be mutually comparable, to be sorted (§4.2): {exc}") from None


class MapOutputBuffer:
    """In-memory map output with a record limit, spilling sorted runs per partition."""

    def __init__(
        self,
        reduce_tasks: int,
        partition: Callable[[Any, int], int],
        combine: Callable[[Any, Iterable[Any]], Iterable[tuple[Any, Any]]] | None,
        limit: int,
        directory: Path,
    ) -> None:
        self.reduce_tasks = reduce_tasks
        self.partition = partition
        self.combine = combine
        self.limit = max(16, limit)
        self.directory = directory
        self.pairs: list[tuple[Any, Any]] = []
        self.groups: dict[Any, list[Any]] = {}
        self.buffered = 0
        self.spills: list[list[tuple[Path, int]]] = []  # spills[i][p]: (run, records) of spill i, partition p
        self.output_records = 0

    def add(self, key: Any, value: Any) -> None:
        self.output_records += 1
        if self.combine is None:
            self.pairs.append((key, value))
            if len(self.pairs) >= self.limit:
                self.spill()
            return
        try:
            values = self.groups.get(key)
        except TypeError:
            raise BadInput(f"with a combiner, map keys must be hashable (str, int, float, bool, None); got {key!r:.60}") from None
        if values is None:
            self.groups[key] = [value]
        else:
            values.append(value)
        self.buffered += 1
        if self.buffered >= self.limit:
            self.spill()

    def extend(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        """``add`` for many pairs (a teardown's in-mapper-combined output): without
        a combiner they are appended a buffer-full at a time, not one call each."""
        if self.combine is not None:
            for key, value in pairs:
                self.add(key, value)
            return
        it = iter(pairs)
        while True:
            room = self.limit - len(self.pairs)
            chunk = [(key, value) for key, value in islice(it, room)]  # unpacking checks each is a pair
            self.pairs += chunk
            self.output_records += len(chunk)
            if len(self.pairs) >= self.limit:
                self.spill()
            if len(chunk) < room:
                return

    def _partitions(self, pairs: list[tuple[Any, Any]]) -> list[list[tuple[Any, Any]]]:
        """Split ``pairs`` by partition, keeping their order within each."""
        R = self.reduce_tasks
        if self.partition is hash_partition:
            if R == 1:
                return [pairs]
            ps = hash_partitions(pairs, R)  # then one C pass per partition
            return [list(compress(pairs, map(p.__eq__, ps))) for p in range(R)]
        parts: list[list[tuple[Any, Any]]] = [[] for _ in range(R)]
        partition = self.partition
        memo: dict[Any, int] = {}
        for pair in pairs:
            key = pair[0]
            try:
                p = memo.get(key)
                if p is None:
                    p = memo[key] = partition(key, R)
            except TypeError:  # unhashable key: no memo
                p = partition(key, R)
            parts[p].append(pair)
        return parts

    def _combined_pairs(self) -> list[tuple[Any, Any]]:
        """§4.3: the combiner runs when the buffer is written, once per distinct key."""
        assert self.combine is not None
        out: list[tuple[Any, Any]] = []
        for key, values in self.groups.items():
            if len(values) == 1:
                out.append((key, values[0]))
            else:
                out.extend(self.combine(key, values))
        return out

    def spill(self) -> None:
        """Partition, sort and write the buffer as one run per non-empty partition."""
        pairs = self._combined_pairs() if self.combine is not None else self.pairs
        if not pairs:
            return
        parts = self._partitions(pairs)
        n = len(self.spills)
        runs: list[tuple[Path, int]] = []
        for p, items in enumerate(parts):
            path = self.directory / f"spill{n:04d}-r{p:05d}.mp"
            sort_by_key(items)
            write_run(path, items)
            runs.append((path, len(items)))
        self.spills.append(runs)
        self.pairs, self.groups, self.buffered = [], {}, 0

    def finish(self, merge_fan_in: int) -> list[tuple[Path, int, int]]:
        """Spill what is left and produce one sorted region file per partition:
        (path, bytes, records) for each of the R partitions."""
        self.spill()
        regions: list[tuple[Path, int, int]] = []
        for p in range(self.reduce_tasks):
            final = self.directory / f"r{p:05d}.mp"
            runs = [spill[p] for spill in self.spills]
            records = 0
            if not runs:
                final.write_bytes(b"")
            elif len(runs) == 1:
                os.replace(runs[0][0], final)
                records = runs[0][1]
            else:
                from minisys.mapreduce.merge import merge_runs

                merged = merge_runs([r for r, _ in runs], self.directory, merge_fan_in, f"m{p:05d}")
                if self.combine is not None:
                    merged = self._recombine(merged)
                _, records = write_run(final, merged)
                for run, _ in runs:
                    run.unlink()
            regions.append((final, final.stat().st_size, records))
        return regions

    def _recombine(self, records: Iterator[list[Any]]) -> Iterator[Any]:
        assert self.combine is not None
        for key, group in groupby(records, key=first):
            values = [r[1] for r in group]
            if len(values) == 1:
                yield (key, values[0])
            else:
                # Combiner output keeps the key (§4.3: it is a partial reduce), so order holds.
                yield from sorted(self.combine(key, values), key=first)


