"""Retention: delete whole old segments by age or by total size (Kafka §3.1).

The broker keeps no record of who consumed what, so it cannot delete a
message once "everyone has read it". Instead "a message is automatically
deleted if it has been retained in the broker longer than a certain period,
typically 7 days" (§3.1). Modern Kafka adds a size bound
(``retention.bytes``). Either way the unit of deletion is a whole segment,
so deleting is an ``unlink`` and never rewrites a file; the segment being
written to (the last one) is never deleted.

These functions only *choose*; :meth:`PartitionLog.apply_retention` deletes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

#: Kafka's default retention: 7 days (log.retention.hours=168).
DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000


class _Seg(Protocol):
    size: int
    last_modified: float


def expired_by_time(segments: Sequence[_Seg], now: float, retention_ms: float | None) -> int:
    """How many leading segments are entirely older than the retention period.

    A segment expires when its *newest* message is older than the limit, so
    no message is deleted before its time. Stops at the first young segment
    (segments are in offset order) and never counts the last one.
    """
    if retention_ms is None:
        return 0
    cutoff = now - retention_ms / 1000.0
    n = 0
    for seg in segments[:-1]:
        if seg.last_modified >= cutoff:
            break
        n += 1
    return n


def expired_by_size(segments: Sequence[_Seg], retention_bytes: int | None) -> int:
    """How many leading segments to drop so the partition fits in ``retention_bytes``.

    Drops a segment only if the log is still over the limit without it,
    i.e. exactly Kafka's rule: whole segments, oldest first, never the last.
    """
    if retention_bytes is None:
        return 0
    total = sum(seg.size for seg in segments)
    n = 0
    for seg in segments[:-1]:
        if total - seg.size < retention_bytes:
            break
        total -= seg.size
        n += 1
    return n
