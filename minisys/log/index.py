"""The sparse per-segment offset index (modern Kafka's ``.index`` file).

The 2011 paper keeps only "a sorted list of offsets including the offset of
the first message in every segment file" in memory (§3.1, see
:mod:`minisys.log.partition`); to find a message *inside* a segment it has
byte offsets to seek to. With dense integer offsets (as Kafka adopted in
0.8) a segment also needs a map from offset to byte position. Like Kafka's
``log.index.interval.bytes`` (4096) it is *sparse*: one entry per few KiB of
log, so it stays tiny and a lookup is a binary search plus a short forward
scan of message headers.

Entries are ``(offset - base_offset, position)`` as two big-endian u32s; the
file is appended to, and rebuilt from the log itself whenever it is missing
or does not agree with it (the log is the truth, the index a cache).
"""

from __future__ import annotations

import os
import struct
from bisect import bisect_right
from pathlib import Path

ENTRY = struct.Struct(">II")
#: Default bytes of log between index entries (Kafka's log.index.interval.bytes).
DEFAULT_INDEX_INTERVAL = 4096


class SparseIndex:
    """Offset → byte position for every ``interval`` bytes of one segment."""

    def __init__(self, path: Path, interval: int = DEFAULT_INDEX_INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self.relative_offsets: list[int] = []
        self.positions: list[int] = []
        self._bytes_since_entry = 0
        self._fd = -1
        self._pending: list[bytes] = []

    def load(self, segment_size: int) -> bool:
        """Read the index file; False if it is missing or points past the segment."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return False
        whole = len(data) - len(data) % ENTRY.size
        offsets, positions = [], []
        for rel, pos in ENTRY.iter_unpack(data[:whole]):
            if pos >= segment_size or (offsets and (rel <= offsets[-1] or pos <= positions[-1])):
                return False
            offsets.append(rel)
            positions.append(pos)
        self.relative_offsets, self.positions = offsets, positions
        self._bytes_since_entry = segment_size - (positions[-1] if positions else 0)
        return True

    def reset(self) -> None:
        """Forget every entry (before a rebuild from the log)."""
        self.relative_offsets, self.positions = [], []
        self._bytes_since_entry = 0
        self._pending = []
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
        elif self.path.exists():
            self.path.unlink()

    def maybe_add(self, relative_offset: int, position: int, size: int) -> None:
        """Account for ``size`` bytes appended at ``position``; add an entry if due."""
        if not self.positions or self._bytes_since_entry >= self.interval:
            self.relative_offsets.append(relative_offset)
            self.positions.append(position)
            self._pending.append(ENTRY.pack(relative_offset, position))
            self._bytes_since_entry = 0
        self._bytes_since_entry += size

    def lookup(self, relative_offset: int) -> tuple[int, int]:
        """The last entry at or before ``relative_offset``: where a forward scan starts."""
        i = bisect_right(self.relative_offsets, relative_offset) - 1
        if i < 0:
            return 0, 0
        return self.relative_offsets[i], self.positions[i]

    def write_pending(self) -> None:
        """Write new entries to the file (page cache; cheap, done on the broker's thread)."""
        if not self._pending:
            return
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(self._fd, b"".join(self._pending))
        self._pending = []

    def sync(self) -> None:
        """fsync the index file (may run on a background thread)."""
        if self._fd >= 0:
            os.fsync(self._fd)

    def flush(self, fsync: bool) -> None:
        """Write pending entries (the index is flushed with its segment)."""
        self.write_pending()
        if fsync:
            self.sync()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __len__(self) -> int:
        return len(self.positions)
