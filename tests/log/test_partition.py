"""A partition's log (Kafka §3.1): dense offsets, segments, the two indexes, flush and visibility."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minisys.log.errors import OffsetOutOfRange
from minisys.log.partition import LogConfig, PartitionLog
from minisys.log.record import decode_messages, encode_message_set


def payload(i: int) -> bytes:
    return f"message-{i:06d}".encode() * 3


def fill(log: PartitionLog, n: int, per_set: int = 5) -> None:
    for start in range(0, n, per_set):
        log.append(encode_message_set([payload(i) for i in range(start, min(n, start + per_set))]))


def read_all(log: PartitionLog, start: int = 0, max_bytes: int = 700) -> list[bytes]:
    out, offset = [], start
    while offset < log.high_watermark:
        values, _ = decode_messages(log.read_bytes(offset, max_bytes))
        out += values
        offset += len(values)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 20), min_size=1, max_size=40))
def test_offsets_are_dense_and_monotonic_per_partition(tmp_path_factory, sizes: list[int]) -> None:
    log = PartitionLog(tmp_path_factory.mktemp("p"), LogConfig(segment_bytes=2000, index_interval_bytes=256))
    expected = 0
    for n in sizes:
        base = log.append(encode_message_set([b"v" * 30] * n))
        assert base == expected  # the set's first offset is the previous next offset
        expected += n
    assert log.next_offset == expected
    log.flush()
    assert len(read_all(log)) == expected
    log.close()


def test_segments_roll_at_the_size_limit_and_are_named_by_their_first_offset(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=1000))
    fill(log, 200)
    assert len(log.segments) > 5
    assert log.base_offsets == sorted(log.base_offsets)
    for seg, nxt in zip(log.segments, log.segments[1:], strict=False):
        assert seg.size <= 1000 and seg.next_offset == nxt.base_offset
        assert seg.path.name == f"{seg.base_offset:020d}.log"
    log.close()


def test_fetch_finds_the_segment_by_binary_search_of_start_offsets(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=1000, index_interval_bytes=200))
    fill(log, 300)
    log.flush()
    for offset in range(300):
        seg = log.find_segment(offset)
        assert seg.base_offset <= offset < seg.next_offset
        values, _ = decode_messages(log.read_bytes(offset, 1))
        assert values[0] == payload(offset)  # at least one whole message even if max_bytes is tiny
    log.close()


def test_sparse_index_has_one_entry_per_interval_not_per_message(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(index_interval_bytes=1024))
    fill(log, 1000, per_set=1)  # 1000 messages of 9 + 42 bytes
    seg = log.active
    assert 40 <= len(seg.index) <= 60
    for offset in (0, 1, 499, 999):
        rel, pos = seg.index.lookup(offset)
        assert rel <= offset and pos <= seg.position_of(offset)
    log.close()


def test_messages_are_visible_to_consumers_only_after_a_flush(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(flush_messages=10, flush_ms=60_000))
    fill(log, 9)
    assert log.next_offset == 9 and log.high_watermark == 0
    assert log.read(0, 1000) is None
    fill(log, 1)  # the 10th message triggers the flush by count
    assert log.high_watermark == 10
    assert len(read_all(log)) == 10
    log.close()


def test_a_flush_happens_after_flush_ms_even_below_the_message_count(tmp_path: Path) -> None:
    now = [1000.0]
    log = PartitionLog(tmp_path, LogConfig(flush_messages=1000, flush_ms=50), clock=lambda: now[0])
    fill(log, 3)
    assert not log.maybe_flush(now[0] + 0.049) and log.high_watermark == 0
    assert log.maybe_flush(now[0] + 0.051) and log.high_watermark == 3
    log.close()


def test_fetching_outside_the_stored_offsets_is_a_clear_error(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path)
    fill(log, 5)
    log.flush()
    with pytest.raises(OffsetOutOfRange, match="offset 6 is out of range .* valid offsets are 0..5"):
        log.read(6, 100)
    with pytest.raises(OffsetOutOfRange):
        log.read(-1, 100)
    assert log.read(5, 100) is None  # caught up is not an error
    log.close()


def test_a_torn_tail_is_truncated_at_the_last_valid_message_on_restart(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path)
    fill(log, 20)
    log.close()
    seg_file = next(tmp_path.glob("*.log"))
    whole = seg_file.stat().st_size
    with seg_file.open("ab") as f:  # half of a 21st message: a crash mid-write
        f.write(encode_message_set([payload(20)])[:25])
    log = PartitionLog(tmp_path)
    assert log.truncated_bytes == 25 and seg_file.stat().st_size == whole
    assert log.next_offset == 20 and read_all(log) == [payload(i) for i in range(20)]
    assert log.append(encode_message_set([b"after"])) == 20  # appends continue densely
    log.close()


def test_a_corrupt_message_and_everything_after_it_are_dropped_on_restart(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path)
    fill(log, 10, per_set=1)
    log.close()
    seg_file = next(tmp_path.glob("*.log"))
    data = bytearray(seg_file.read_bytes())
    data[51 * 7 + 20] ^= 0xFF  # inside message 7's payload
    seg_file.write_bytes(bytes(data))
    log = PartitionLog(tmp_path)
    assert log.next_offset == 7
    assert read_all(log) == [payload(i) for i in range(7)]
    log.close()


def test_a_missing_index_is_rebuilt_from_the_log(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=2000, index_interval_bytes=200))
    fill(log, 200)
    log.close()
    for index in tmp_path.glob("*.index"):
        index.unlink()
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=2000, index_interval_bytes=200))
    assert all(len(s.index) > 1 for s in log.segments[:-1])
    assert read_all(log) == [payload(i) for i in range(200)]
    log.close()


def test_bad_config_is_refused_naming_the_setting() -> None:
    with pytest.raises(Exception, match="segment_bytes must be positive"):
        LogConfig(segment_bytes=0)
