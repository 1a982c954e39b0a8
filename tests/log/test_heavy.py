"""The paper's scale (§5: 10^6-10^7 messages) through a broker process: heavy, runs in CI."""

from __future__ import annotations

import pytest

from minisys.log import Consumer, Producer, create_topic
from minisys.log import messages as m
from minisys.log.client import connect
from minisys.log.harness import BrokerProcess


async def caught_up(address: str, consumer: Consumer, partitions: int) -> bool:
    conn = await connect(address)
    try:
        ends = [(await conn.call(m.ListOffsets("big", p))).end for p in range(partitions)]
    finally:
        await conn.close()
    return all(consumer.positions[("big", p)] >= ends[p] for p in range(partitions))


@pytest.mark.heavy
async def test_a_million_messages_round_trip_exactly_once_with_dense_offsets() -> None:
    n, partitions = 1_000_000, 4
    with BrokerProcess(None, "--segment-bytes", str(8 * 1024 * 1024)) as broker:
        await create_topic(broker.address, "big", partitions)
        async with Producer(broker.address, batch_size=50) as producer:
            for i in range(n):
                await producer.send("big", b"%07d" % i + b"." * 193)
        seen = bytearray(n)
        next_offset = [0] * partitions
        count = 0
        async with Consumer(broker.address, "big") as consumer:
            while count < n:
                records = await consumer.poll(timeout_ms=2000)
                if not records and await caught_up(broker.address, consumer, partitions):
                    break  # nothing more to read: the assertions below say what is missing
                for r in records:
                    assert r.offset == next_offset[r.partition]  # dense, in order, per partition
                    next_offset[r.partition] += 1
                    seen[int(r.value[:7])] += 1
                    count += 1
        assert count == n and seen.count(1) == n  # every message exactly once without failures
        assert sum(next_offset) == n
        assert len(list(broker.data_dir.glob("big-0/*.log"))) > 1  # several segments per partition
