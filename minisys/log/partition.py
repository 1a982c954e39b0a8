"""A partition's log: segments, offsets, flushing and visibility (Kafka §3.1).

Offsets are addresses: "a message stored in Kafka doesn't have an explicit
message id. Instead, each message is addressed by its logical offset in the
log." Here offsets are dense integers (0, 1, 2, ...) as in Kafka since 0.8;
the paper's byte offsets are noted in docs/log.md.

The paper's in-memory index is :attr:`PartitionLog.base_offsets`, "a sorted
list of offsets including the offset of the first message in every segment
file"; a fetch binary-searches it for the segment, and the segment's sparse
index (:mod:`minisys.log.index`) for the byte position.

Flushing (§3.1): "the broker flushes the segment files to disk only after a
configurable number of messages have been published or a certain amount of
time has elapsed. A message is only exposed to the consumers after it is
flushed." :attr:`high_watermark` is the first offset *not* yet flushed, and
reads never go past it.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from minisys.errors import BadInput
from minisys.log.errors import OffsetOutOfRange
from minisys.log.index import DEFAULT_INDEX_INTERVAL
from minisys.log.record import DEFAULT_MAX_MESSAGE_BYTES, validate_message_set
from minisys.log.retention import DEFAULT_RETENTION_MS, expired_by_size, expired_by_time
from minisys.log.segment import FileSlice, Segment


@dataclass(frozen=True)
class LogConfig:
    """Per-partition settings, named after Kafka's broker configs."""

    segment_bytes: int = 64 * 1024 * 1024          # log.segment.bytes (Kafka: 1 GiB)
    index_interval_bytes: int = DEFAULT_INDEX_INTERVAL  # log.index.interval.bytes
    flush_messages: int = 10_000                   # log.flush.interval.messages
    flush_ms: float = 50.0                         # log.flush.interval.ms
    fsync: bool = True                             # a flush is an fsync (the paper's)
    retention_ms: float | None = DEFAULT_RETENTION_MS  # log.retention.ms
    retention_bytes: int | None = None             # log.retention.bytes
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES  # message.max.bytes

    def __post_init__(self) -> None:
        for name in ("segment_bytes", "index_interval_bytes", "flush_messages", "max_message_bytes"):
            if getattr(self, name) <= 0:
                raise BadInput(f"log config {name} must be positive, got {getattr(self, name)}")
        if self.flush_ms < 0:
            raise BadInput(f"log config flush_ms must be >= 0, got {self.flush_ms}")


@dataclass(frozen=True)
class PendingFlush:
    """A flush that has been started: what becomes visible once ``segment`` is synced."""

    segment: Segment
    next_offset: int
    size: int


class PartitionLog:
    """One partition: a directory of segments, appended at the end, read by offset."""

    def __init__(self, directory: Path, config: LogConfig | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config = config or LogConfig()
        self.clock = clock
        #: Called after each flush (the broker wakes waiting consumers).
        self.on_flush: Callable[[], None] | None = None
        #: If set, called instead of flushing inline when a flush is due (the
        #: broker then fsyncs on a background thread: :meth:`begin_flush`).
        self.on_flush_due: Callable[[], None] | None = None
        self.truncated_bytes = 0
        self.segments: list[Segment] = []
        self.base_offsets: list[int] = []  # the paper's in-memory sorted list (§3.1)
        self._open_segments()
        self.next_offset = self.segments[-1].next_offset
        self.high_watermark = self.next_offset  # everything recovered is on disk now
        #: With replication: the first offset not yet on every in-sync replica
        #: (the replicated high watermark, :mod:`minisys.log.replication`).
        #: Consumers see ``min(high_watermark, commit_limit)``.
        self.commit_limit: int | None = None
        self._flushed_size = self.segments[-1].size
        self._unflushed = 0
        self._first_unflushed_at = 0.0

    # ---------------------------------------------------------------- recovery

    def _open_segments(self) -> None:
        bases = sorted(int(p.stem) for p in self.directory.glob("*.log") if p.stem.isdigit())
        interval = self.config.index_interval_bytes
        self.segments = [Segment(self.directory, b, interval) for b in bases]
        for seg, nxt in zip(self.segments, bases[1:], strict=False):
            seg.load(nxt)
        if self.segments:
            # Only the last segment can hold unflushed (possibly torn) bytes: a
            # roll flushes the old one first.
            self.truncated_bytes = self.segments[-1].recover()
        else:
            self.segments = [Segment(self.directory, 0, interval)]
        self.base_offsets = [s.base_offset for s in self.segments]
        for stale in self.directory.glob("*.index"):
            if stale.stem.isdigit() and int(stale.stem) not in self.base_offsets:
                stale.unlink()

    # ---------------------------------------------------------------- writing

    @property
    def active(self) -> Segment:
        return self.segments[-1]

    def append(self, message_set: bytes, count: int | None = None) -> int:
        """Append a producer's message set; returns the offset of its first message.

        The set is validated first (CRCs, size limit), so nothing bad enters
        the log. It becomes visible to consumers at the next :meth:`flush`.
        """
        if count is None:
            count = validate_message_set(message_set, self.config.max_message_bytes)
        active = self.active
        if active.size and active.size + len(message_set) > self.config.segment_bytes:
            active = self.roll()
        base = self.next_offset
        now = self.clock()
        active.append(message_set, count, now)
        self.next_offset += count
        if not self._unflushed:
            self._first_unflushed_at = now
        self._unflushed += count
        if self._unflushed >= self.config.flush_messages:
            self._flush_due()
        return base

    def flush_due(self, now: float | None = None) -> bool:
        """N messages or T ms since the oldest unflushed one (§3.1)?"""
        if not self._unflushed:
            return False
        if self._unflushed >= self.config.flush_messages:
            return True
        now = self.clock() if now is None else now
        return (now - self._first_unflushed_at) * 1000.0 >= self.config.flush_ms

    def _flush_due(self) -> None:
        if self.on_flush_due is not None:
            self.on_flush_due()
        else:
            self.flush()

    def maybe_flush(self, now: float | None = None) -> bool:
        """Flush if the oldest unflushed message has waited ``flush_ms`` (the timer path)."""
        if not self.flush_due(now):
            return False
        self._flush_due()
        return True

    def begin_flush(self) -> PendingFlush:
        """Start a flush: note what it covers; the caller syncs ``segment`` and calls :meth:`finish_flush`.

        Appends may continue meanwhile; they belong to the next flush.
        """
        self.active.index.write_pending()
        self._unflushed = 0
        return PendingFlush(self.active, self.next_offset, self.active.size)

    def finish_flush(self, pending: PendingFlush) -> None:
        """The sync is done: advance the high watermark (never backwards) and wake consumers."""
        if pending.next_offset > self.high_watermark:
            self.high_watermark = pending.next_offset
        if pending.segment is self.active and pending.size > self._flushed_size:
            self._flushed_size = pending.size
        if self.on_flush is not None:
            self.on_flush()

    def flush(self) -> None:
        """Make everything appended durable, then visible: advance the high watermark."""
        pending = self.begin_flush()
        if self.config.fsync:
            pending.segment.sync()
        self.finish_flush(pending)

    def roll(self) -> Segment:
        """Close the active segment (flushed first) and start a new one at the next offset."""
        self.flush()
        seg = Segment(self.directory, self.next_offset, self.config.index_interval_bytes)
        self.segments.append(seg)
        self.base_offsets.append(seg.base_offset)
        self._flushed_size = 0
        return seg

    # ---------------------------------------------------------------- reading

    @property
    def start_offset(self) -> int:
        """The oldest offset still stored (retention moves it forward)."""
        return self.segments[0].base_offset

    def find_segment(self, offset: int) -> Segment:
        """Binary search of the in-memory sorted list of segment start offsets (§3.1)."""
        return self.segments[bisect_right(self.base_offsets, offset) - 1]

    @property
    def visible_end(self) -> int:
        """First offset a consumer may not read yet: flushed and (if replicated) committed."""
        if self.commit_limit is None:
            return self.high_watermark
        return min(self.high_watermark, self.commit_limit)

    def read(self, offset: int, max_bytes: int, *, replica: bool = False) -> FileSlice | None:
        """Up to ``max_bytes`` of flushed log starting at message ``offset``.

        §3.1: "a pull request contains the offset of the message from which
        the consumption begins and an acceptable number of bytes to fetch".
        The slice may end inside a message (the consumer keeps the partial
        message for its next pull), but always holds at least one whole
        message so an oversized one cannot stall a consumer. ``None`` when the
        consumer is caught up. A follower replica (``replica=True``) reads up
        to the log end, flushed or not, committed or not — that is how messages
        become committed (Kafka 0.8: committed = appended by every in-sync replica).
        """
        end = self.next_offset if replica else self.visible_end
        if offset < self.start_offset or offset > end:
            raise OffsetOutOfRange(
                f"offset {offset} is out of range for {self.directory.name}: "
                f"valid offsets are {self.start_offset}..{end}")
        if offset == end:
            return None
        if max_bytes <= 0:
            raise BadInput(f"max_bytes must be positive, got {max_bytes}")
        seg = self.find_segment(offset)
        position = seg.position_of(offset)
        if replica or not seg.base_offset <= end < seg.next_offset:
            last = seg.size  # replicas read up to the log end, flushed or not
        elif end == self.high_watermark:
            last = self._flushed_size if seg is self.active else seg.size
        else:  # a replicated partition whose commit point lies inside this segment
            last = seg.position_of(end)
        length = min(max_bytes, last - position)
        length = max(length, seg.message_size_at(position))
        return seg.slice(position, length)

    def read_bytes(self, offset: int, max_bytes: int) -> bytes:
        """:meth:`read`, copied into memory (for transports without sendfile)."""
        found = self.read(offset, max_bytes)
        if found is None:
            return b""
        return self.find_segment(offset).read(found.position, found.length)

    def truncate_to(self, offset: int) -> None:
        """Drop every message at or after ``offset`` (a replica following a new leader).

        Kafka 0.8's rule: a replica that becomes a follower truncates its log to
        its high watermark, because messages past it were never committed and
        the new leader may not have them.
        """
        if not self.start_offset <= offset <= self.next_offset:
            raise OffsetOutOfRange(f"cannot truncate {self.directory.name} to {offset}: "
                                   f"it holds {self.start_offset}..{self.next_offset}")
        self.flush()
        while len(self.segments) > 1 and self.segments[-1].base_offset >= offset:
            self.segments.pop().delete()
            self.base_offsets.pop()
        seg = self.active
        if offset < seg.next_offset:
            seg.truncate(seg.position_of(offset))
        self.next_offset = seg.next_offset
        self.high_watermark = min(self.high_watermark, self.next_offset)
        self._flushed_size = seg.size

    # ---------------------------------------------------------------- retention

    def apply_retention(self, now: float | None = None) -> list[int]:
        """Delete whole segments past the time or size limit; their base offsets."""
        now = self.clock() if now is None else now
        n = max(expired_by_time(self.segments, now, self.config.retention_ms),
                expired_by_size(self.segments, self.config.retention_bytes))
        doomed, self.segments = self.segments[:n], self.segments[n:]
        self.base_offsets = self.base_offsets[n:]
        for seg in doomed:
            seg.delete()
        return [s.base_offset for s in doomed]

    @property
    def size_bytes(self) -> int:
        return sum(s.size for s in self.segments)

    def close(self) -> None:
        """Flush and close every file (a clean shutdown)."""
        self.flush()
        for seg in self.segments:
            seg.close()
