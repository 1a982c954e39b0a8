"""Retention (Kafka §3.1): whole segments deleted by age or size, never the active one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from minisys.log.errors import OffsetOutOfRange
from minisys.log.partition import LogConfig, PartitionLog
from minisys.log.record import decode_messages, encode_message_set
from minisys.log.retention import expired_by_size, expired_by_time


class Seg:
    def __init__(self, size: int, last_modified: float) -> None:
        self.size, self.last_modified = size, last_modified


def test_retention_removes_only_whole_expired_segments(tmp_path: Path) -> None:
    now = [0.0]
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=500, retention_ms=10_000), clock=lambda: now[0])
    for i in range(60):  # one message per second of fake time
        now[0] = float(i)
        log.append(encode_message_set([f"m{i}".encode() * 10]))
    log.flush()
    before = [(s.base_offset, s.next_offset, s.last_modified) for s in log.segments]
    deleted = log.apply_retention(now=59.0 + 0.5)  # cutoff 49.5 s
    # Exactly the segments whose newest message is older than the cutoff, oldest first.
    expected = [base for base, _, newest in before[:-1] if newest < 49.5]
    assert deleted == expected[: len(deleted)] and deleted == [b for b, _, t in before if t < 49.5]
    survivor = log.segments[0]
    assert survivor.base_offset == log.start_offset
    # A surviving segment is whole: it may hold messages older than the cutoff.
    first, _ = decode_messages(log.read_bytes(log.start_offset, 100))
    assert first[0] == f"m{log.start_offset}".encode() * 10
    assert sorted(p.name for p in tmp_path.glob("*.log")) == [f"{s.base_offset:020d}.log" for s in log.segments]
    assert not list(tmp_path.glob(f"{deleted[0]:020d}.*"))
    with pytest.raises(OffsetOutOfRange, match=f"valid offsets are {log.start_offset}"):
        log.read(0, 100)
    log.close()


def test_retention_by_size_keeps_the_newest_segments_under_the_limit(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=1000, retention_ms=None, retention_bytes=3000))
    for i in range(200):
        log.append(encode_message_set([f"{i:05d}".encode() * 8]))
    log.flush()
    log.apply_retention()
    assert log.size_bytes < 3000 + 1000 and log.size_bytes >= 3000 - 1000
    assert log.next_offset == 200 and log.start_offset > 0
    log.close()


def test_the_active_segment_is_never_deleted_even_if_expired(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(retention_ms=1))
    log.append(encode_message_set([b"old"]))
    log.flush()
    assert log.apply_retention(now=1e12) == []
    assert log.read_bytes(0, 100)
    log.close()


def test_retention_choices_stop_at_the_first_segment_that_must_stay() -> None:
    segs = [Seg(100, 1.0), Seg(100, 50.0), Seg(100, 2.0), Seg(100, 3.0)]
    assert expired_by_time(segs, now=60.0, retention_ms=20_000) == 1  # segment 2 is young: stop
    assert expired_by_size(segs, retention_bytes=250) == 1
    assert expired_by_size(segs, retention_bytes=100) == 3
    assert expired_by_time(segs, now=60.0, retention_ms=None) == 0


def test_retention_uses_file_age_after_a_restart(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=300))
    for _i in range(30):
        log.append(encode_message_set([b"x" * 40]))
    log.close()
    old = sorted(tmp_path.glob("*.log"))[0]
    os.utime(old, (1_000, 1_000))
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=300, retention_ms=3600_000))
    assert log.apply_retention() == [0]
    log.close()
