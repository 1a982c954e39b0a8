"""Crash recovery (Kafka §3.3): a SIGKILLed writer loses no flushed message and leaves no bad tail."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from minisys.log.partition import LogConfig, PartitionLog
from minisys.log.record import decode_messages, scan

WRITER = r"""
import sys
from pathlib import Path
from minisys.log.partition import LogConfig, PartitionLog
from minisys.log.record import encode_message_set

log = PartitionLog(Path(sys.argv[1]), LogConfig(segment_bytes=256 * 1024, flush_messages=40, flush_ms=1e9))
seen = log.high_watermark
i = log.next_offset
while True:
    # sets of 7 messages of ~3 KB: writes large enough that a kill can land inside one
    log.append(encode_message_set([(b"%08d:" % (i + k)) * 400 for k in range(7)]))
    i += 7
    if log.high_watermark != seen:
        seen = log.high_watermark
        print(seen, flush=True)  # reported only after the fsync: "this much is durable"
"""


def expected(i: int) -> bytes:
    return (b"%08d:" % i) * 400


def test_sigkill_mid_write_loses_no_flushed_message_and_leaves_no_corrupt_tail(tmp_path: Path) -> None:
    for round_ in range(3):  # kill, recover, keep writing, kill again
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert proc.stdout is not None
        durable = 0
        for _ in range(30 + 10 * round_):
            durable = int(proc.stdout.readline())
        os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up, mid-append
        proc.wait()
        proc.stdout.close()

        log = PartitionLog(tmp_path, LogConfig(segment_bytes=256 * 1024))
        assert log.next_offset >= durable  # every flushed message survived
        for seg in log.segments:  # every byte on disk is a whole message with a good CRC
            data = seg.path.read_bytes()
            assert scan(data) == (seg.messages, len(data))
        offset = 0
        while offset < log.next_offset:
            values, _ = decode_messages(log.read_bytes(offset, 64 * 1024))
            for k, value in enumerate(values):
                assert value == expected(offset + k)
            offset += len(values)
        log.close()


async def test_a_sigkilled_broker_keeps_every_message_a_consumer_saw(tmp_path: Path) -> None:
    """End to end: what was visible (flushed) before the kill is there, unchanged, after restart."""
    import asyncio

    from minisys.errors import MinisysError
    from minisys.log import Consumer, Producer, create_topic
    from minisys.log.harness import BrokerProcess
    from minisys.net import NetError

    seen: dict[int, bytes] = {}
    with BrokerProcess(tmp_path, "--flush-ms", "5") as broker:
        await create_topic(broker.address, "t", 1)
        consumer = await Consumer(broker.address, "t", max_wait_ms=20).start()

        async def produce_forever() -> None:
            async with Producer(broker.address, batch_size=20, linger_ms=1) as producer:
                i = 0
                while True:
                    await producer.send("t", b"v%d" % i, 0)
                    i += 1
                    if i % 200 == 0:
                        await asyncio.sleep(0)

        writer = asyncio.create_task(produce_forever())
        while len(seen) < 5000:
            seen.update((r.offset, r.value) for r in await consumer.poll(timeout_ms=200))
        assert broker.proc is not None
        broker.proc.kill()  # SIGKILL while the producer is still appending
        broker.proc.wait()
        try:
            await writer
        except (MinisysError, NetError, ConnectionError):
            pass  # the producer sees the broker go away
        await consumer.crash()

    with BrokerProcess(tmp_path) as broker:
        async with Consumer(broker.address, "t") as consumer:
            after: dict[int, bytes] = {}
            while True:
                records = await consumer.poll(timeout_ms=200)
                if not records:
                    break
                after.update((r.offset, r.value) for r in records)
    assert sorted(after) == list(range(len(after)))  # still dense after recovery
    assert all(after.get(offset) == value for offset, value in seen.items())
    assert all(value == b"v%d" % offset for offset, value in after.items())
