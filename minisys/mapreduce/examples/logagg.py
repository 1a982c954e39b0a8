"""Log aggregation, the GROUP BY a SQL user would write (§2.3 "count of URL
access frequency", extended): per path, requests, bytes and mean latency.

Input lines: ``ip method path status bytes latency_ms`` separated by spaces
(the scenario's generated access log). Equivalent SQL::

    SELECT path, count(*), sum(bytes), avg(latency_ms) FROM log GROUP BY path
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from minisys.mapreduce.job import Job


class LogAggregate(Job):
    def map(self, offset: int, line: str) -> Iterator[tuple[str, list[float]]]:
        fields = line.split(" ")
        if len(fields) != 6:
            self.increment_counter("logagg", "malformed_lines")
            return
        yield fields[2], [1, int(fields[4]), float(fields[5])]

    def combine(self, path: str, rows: Iterable[list[float]]) -> Iterator[tuple[str, list[float]]]:
        n = b = ms = 0.0
        for count, nbytes, latency in rows:
            n += count
            b += nbytes
            ms += latency
        yield path, [int(n), int(b), ms]

    def reduce(self, path: str, rows: Iterable[list[float]]) -> Iterator[tuple[str, dict[str, float]]]:
        ((_, (n, b, ms)),) = self.combine(path, rows)
        yield path, {"requests": n, "bytes": b, "avg_latency_ms": round(ms / n, 6)}
