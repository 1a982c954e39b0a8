"""Distributed sort (§2.3, §5.3): TeraSort-style records ``KEY PAYLOAD``.

Map extracts the key (the first ``key_bytes`` characters, default 10) and
Reduce is the identity. The partitioner is a *range* partitioner, so the R
output files concatenate into one sorted file; its R-1 boundaries come from a
sampling pre-pass in the master (``prepare``), the step the paper says a
general sort needs when the key distribution is not known (§5.3).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from minisys.mapreduce.job import Job
from minisys.mapreduce.partition import range_partition

SAMPLES = 10_000


class Sort(Job):
    def prepare(self, inputs: list[str], reduce_tasks: int) -> Any:
        key_bytes = int(self.args.get("key_bytes", 10))
        per_file = max(1, SAMPLES // len(inputs))
        sample: list[str] = []
        for path in inputs:
            size = os.path.getsize(path)
            # The line starting after each of evenly spaced offsets: cheap, unbiased enough for a sort.
            step = max(1, size // per_file)
            with open(path, "rb") as f:
                for start in range(0, size, step):
                    f.seek(start)
                    if start:
                        f.readline()  # the rest of the line we landed in
                    line = f.readline()
                    if line:
                        sample.append(line[:key_bytes].decode("utf-8", "replace"))
        sample.sort()
        bounds = [sample[len(sample) * i // reduce_tasks] for i in range(1, reduce_tasks)] if sample else []
        return {"key_bytes": key_bytes, "boundaries": bounds}

    def map(self, offset: int, line: str) -> Iterator[tuple[str, str]]:
        n = self.params["key_bytes"]
        yield line[:n], line[n:]

    def partition(self, key: str, reduce_tasks: int) -> int:
        return range_partition(key, self.params["boundaries"])

    def reduce(self, key: str, payloads: Iterable[str]) -> Iterator[tuple[str, str]]:
        for payload in payloads:
            yield key, payload
