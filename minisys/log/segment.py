"""A segment file: one piece of a partition's log (Kafka §3.1, "Simple storage").

"Each partition of a topic corresponds to a logical log. Physically, a log is
implemented as a set of segment files of approximately the same size. Every
time a producer publishes a message to a partition, the broker simply
appends the message to the last segment file." A segment is named by the
offset of its first message (``00000000000000000042.log``) and owns its
sparse index (:mod:`minisys.log.index`). Only the last segment of a
partition is ever written; older ones are immutable until retention deletes
them whole.

Reads go through the OS page cache, not an in-process cache (§3.1: "we avoid
caching messages in the memory of the Kafka layer... the page cache"): the
broker hands consumers a (file, position, length) slice that the server
sends with ``sendfile``.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from minisys.log.index import DEFAULT_INDEX_INTERVAL, SparseIndex
from minisys.log.record import HEADER, MAGIC, OVERHEAD

_LEN = struct.Struct(">I")
#: Bytes read at a time by recovery and by index scans.
READ_CHUNK = 1024 * 1024


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


@dataclass(frozen=True, slots=True)
class FileSlice:
    """Bytes of one segment to send to a consumer, untouched (zero-copy with sendfile)."""

    file: BinaryIO
    position: int
    length: int


class Segment:
    """One ``.log`` file (append-only) and its ``.index``; ``base_offset`` names it."""

    def __init__(self, directory: Path, base_offset: int,
                 index_interval: int = DEFAULT_INDEX_INTERVAL) -> None:
        self.base_offset = base_offset
        self.path = directory / f"{segment_name(base_offset)}.log"
        self.index = SparseIndex(directory / f"{segment_name(base_offset)}.index", index_interval)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self._fd).st_size
        self.messages = 0  # messages in this segment (next offset = base + messages)
        self.last_modified = os.fstat(self._fd).st_mtime if self.size else time.time()
        self._reader: BinaryIO | None = None

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.messages

    # ---------------------------------------------------------------- writing

    def append(self, message_set: bytes, count: int, now: float) -> None:
        """Append a validated message set (one ``write``; durable only after :meth:`flush`)."""
        self.index.maybe_add(self.messages, self.size, len(message_set))
        written = os.write(self._fd, message_set)
        if written != len(message_set):  # a regular file only writes short on ENOSPC-like trouble
            raise OSError(f"short write to {self.path}: {written} of {len(message_set)} bytes")
        self.size += written
        self.messages += count
        self.last_modified = now

    def flush(self, fsync: bool = True) -> None:
        """Make appended bytes durable (the paper's flush, §3.1), index included."""
        self.index.write_pending()
        if fsync:
            self.sync()

    def sync(self) -> None:
        """The slow half of a flush, fsync of log and index: safe on a background thread."""
        os.fsync(self._fd)
        self.index.sync()

    # ---------------------------------------------------------------- recovery

    def recover(self) -> int:
        """Scan every message, truncate at the first torn or bad-CRC one, rebuild the index.

        §3.3: "we run a recovery process that removes those messages with
        inconsistent CRCs". Returns the number of bytes cut off.
        """
        self.index.reset()
        pos = count = 0
        buf, buf_start = b"", 0
        while True:
            rel = pos - buf_start
            if rel + OVERHEAD > len(buf):
                buf, buf_start = os.pread(self._fd, READ_CHUNK, pos), pos
                rel = 0
                if len(buf) < OVERHEAD:
                    break
            length, magic, crc = HEADER.unpack_from(buf, rel)
            end = rel + 4 + length
            if length < 5 or magic != MAGIC:
                break
            if end > len(buf):
                buf, buf_start = os.pread(self._fd, max(READ_CHUNK, 4 + length), pos), pos
                rel, end = 0, 4 + length
                if end > len(buf):
                    break  # torn: the file ends inside this message
            if zlib.crc32(memoryview(buf)[rel + OVERHEAD:end]) != crc:
                break
            self.index.maybe_add(count, pos, 4 + length)
            pos += 4 + length
            count += 1
        cut = self.size - pos
        if cut:
            os.ftruncate(self._fd, pos)
            os.fsync(self._fd)
        self.size, self.messages = pos, count
        self.index.flush(fsync=True)
        return cut

    def truncate(self, position: int) -> None:
        """Cut the segment at ``position`` (a message boundary) and rebuild its index.

        Used when a replica must discard messages its new leader does not
        have (replication, Kafka 0.8); recovery does the same for torn tails.
        """
        os.ftruncate(self._fd, position)
        self.size = position
        self.recover()

    def load(self, next_base_offset: int) -> None:
        """Open an older, immutable segment: its count comes from the next segment's name."""
        self.messages = next_base_offset - self.base_offset
        if not self.index.load(self.size):
            self.recover()

    # ---------------------------------------------------------------- reading

    def position_of(self, offset: int) -> int:
        """Byte position of message ``offset``: index lookup, then a forward header scan."""
        rel_target = offset - self.base_offset
        rel, pos = self.index.lookup(rel_target)
        while rel < rel_target:
            chunk = os.pread(self._fd, self.index.interval + 64 * 1024, pos)
            if len(chunk) < 4:
                raise OSError(f"{self.path}: offset {offset} lies past the end of the segment")
            i = 0
            while rel < rel_target and i + 4 <= len(chunk):
                (length,) = _LEN.unpack_from(chunk, i)
                i += 4 + length  # may run past the chunk: the next read starts there
                rel += 1
            pos += i
        return pos

    def message_size_at(self, position: int) -> int:
        """Size of the whole message starting at ``position``."""
        head = os.pread(self._fd, 4, position)
        return 4 + _LEN.unpack(head)[0] if len(head) == 4 else 0

    def slice(self, position: int, length: int) -> FileSlice:
        if self._reader is None:
            self._reader = open(self.path, "rb", buffering=0)  # noqa: SIM115 - kept for sendfile
        return FileSlice(self._reader, position, length)

    def read(self, position: int, length: int) -> bytes:
        return os.pread(self._fd, length, position)

    # ---------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self.index.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def delete(self) -> None:
        """Remove the segment and its index (retention deletes whole segments, §3.1)."""
        self.close()
        self.path.unlink(missing_ok=True)
        self.index.path.unlink(missing_ok=True)
