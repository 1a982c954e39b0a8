"""The stateless broker over both transports (Kafka §3.1), and its refusals of bad input."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest

from minisys.errors import BadInput
from minisys.log import Consumer, Producer, create_topic
from minisys.log import messages as m
from minisys.log.broker import Broker
from minisys.log.client import Connection, connect
from minisys.log.errors import OffsetOutOfRange, UnknownTopicOrPartition
from minisys.log.partition import LogConfig
from minisys.log.record import MessageTooLarge, encode_message_set
from minisys.log.server import StreamServer, broker_node_factory
from minisys.net import HttpNetwork


async def produce_and_read(address: str, n: int = 500) -> list[tuple[int, int, bytes]]:
    await create_topic(address, "events", 3)
    async with Producer(address, batch_size=7) as producer:
        deliveries = [await producer.send("events", f"e{i}".encode()) for i in range(n)]
        await producer.flush()
        offsets = [await d for d in deliveries]
    assert len(offsets) == n
    got = []
    async with Consumer(address, "events") as consumer:
        while len(got) < n:
            got += [(r.partition, r.offset, r.value) for r in await consumer.poll(timeout_ms=2000)]
    return got


def check_partition_order(got: list[tuple[int, int, bytes]], n: int) -> None:
    assert sorted(v for _, _, v in got) == sorted(f"e{i}".encode() for i in range(n))
    for p in {p for p, _, _ in got}:
        offsets = [o for q, o, _ in got if q == p]
        values = [int(v[1:]) for q, _, v in got if q == p]
        assert offsets == list(range(len(offsets)))  # dense per partition
        assert values == sorted(values)  # order kept within a partition (§3.3)


async def test_produced_messages_come_back_in_partition_order_over_the_stream(server: StreamServer) -> None:
    check_partition_order(await produce_and_read(server.address), 500)


async def test_the_same_broker_serves_minisys_net_http(tmp_path: Path) -> None:
    broker = Broker(tmp_path, LogConfig(flush_ms=5))
    async with HttpNetwork() as net:
        await net.add_node("broker", broker_node_factory(broker))
        check_partition_order(await produce_and_read(net.directory["broker"], 200), 200)
    await broker.quiesce()
    broker.close()


async def test_fetch_replies_are_file_bytes_sent_with_sendfile(server: StreamServer, monkeypatch) -> None:
    loop = asyncio.get_running_loop()
    calls = []
    real = loop.sendfile

    async def spy(transport, file, offset=0, count=None, **kw):
        calls.append((offset, count))
        return await real(transport, file, offset, count, **kw)

    monkeypatch.setattr(loop, "sendfile", spy)
    await create_topic(server.address, "t", 1)
    async with Producer(server.address) as p:
        for _i in range(100):
            await p.send("t", b"x" * 200)
    async with Consumer(server.address, "t") as c:
        assert len(await c.poll()) == 100
    assert calls and calls[0][0] == 0 and calls[0][1] == 100 * 209


async def test_the_broker_keeps_no_consumer_state_so_a_consumer_can_rewind(server: StreamServer) -> None:
    await create_topic(server.address, "t", 1)
    async with Producer(server.address) as p:
        for i in range(10):
            await p.send("t", b"%d" % i)
    async with Consumer(server.address, "t") as c:
        first = await c.poll()
        await c.seek("t", 0, 3)  # re-consume (§3.1: "deliberately rewind back to an old offset")
        again = await c.poll()
    assert [r.offset for r in first] == list(range(10)) and [r.offset for r in again] == list(range(3, 10))


async def test_a_long_poll_returns_as_soon_as_a_flush_makes_data_visible(server: StreamServer) -> None:
    await create_topic(server.address, "t", 1)
    consumer, producer = await connect(server.address), await connect(server.address)
    waiting = consumer.submit(m.Fetch("t", 0, 0, 1000, max_wait_ms=20_000))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await producer.call(m.Produce("t", 0, encode_message_set([b"late"])))
    reply = await waiting  # the long poll ends at the flush, not after 20 s
    assert reply.size == 13 and reply.high_watermark == 1
    await consumer.close()
    await producer.close()


async def test_bad_requests_get_clear_errors_and_the_broker_keeps_serving(server: StreamServer) -> None:
    await create_topic(server.address, "t", 2)
    conn = await connect(server.address)
    with pytest.raises(UnknownTopicOrPartition, match="unknown topic 'nope'"):
        await conn.call(m.Produce("nope", 0, encode_message_set([b"x"])))
    with pytest.raises(UnknownTopicOrPartition, match="topic 't' has partitions 0..1, not 5"):
        await conn.call(m.Fetch("t", 5, 0, 100))
    with pytest.raises(MessageTooLarge, match="message 1 is 20000 bytes, over the broker's limit of 10000"):
        await conn.call(m.Produce("t", 0, encode_message_set([b"ok", b"x" * 20_000])))
    with pytest.raises(OffsetOutOfRange, match="offset 99 is out of range"):
        await conn.call(m.Fetch("t", 0, 99, 100))
    with pytest.raises(BadInput, match="CRC mismatch"):
        bad = bytearray(encode_message_set([b"hello"]))
        bad[-1] ^= 1
        await conn.call(m.Produce("t", 0, bytes(bad)))
    with pytest.raises(BadInput, match="topic name"):
        await conn.call(m.CreateTopic("../etc", 1))
    # Nothing bad reached the log, and the same connection still works.
    produced = await conn.call(m.Produce("t", 0, encode_message_set([b"fine"])))
    assert produced == m.Produced(0, 1)
    await conn.close()


async def test_an_undecodable_frame_is_answered_with_an_error_not_a_crash(server: StreamServer) -> None:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    garbage = b"\x93not msgpack at all"
    writer.write(struct.pack(">I", len(garbage)) + garbage)
    (length,) = struct.unpack(">I", await reader.readexactly(4))
    from minisys.net import decode

    reply = decode(await reader.readexactly(length))
    assert isinstance(reply, m.Error) and "decode" in reply.detail
    writer.close()
    await create_topic(server.address, "still-up", 1)


async def test_topics_and_data_survive_a_broker_restart(tmp_path: Path) -> None:
    async with StreamServer(Broker(tmp_path, LogConfig(flush_ms=5))) as srv:
        await create_topic(srv.address, "t", 2)
        async with Producer(srv.address) as p:
            for i in range(50):
                await p.send("t", b"%d" % i, partition=1)
    async with StreamServer(Broker(tmp_path)) as srv:
        conn = Connection(srv.address)
        await conn.open()
        assert await conn.call(m.Metadata("t")) == m.TopicInfo("t", 2)
        assert await conn.call(m.ListOffsets("t", 1)) == m.OffsetRange(0, 50)
        await conn.close()


async def test_a_consumer_sees_nothing_until_the_broker_flushes(tmp_path: Path) -> None:
    now = [100.0]
    broker = Broker(tmp_path, LogConfig(flush_messages=1000, flush_ms=1000), clock=lambda: now[0])
    broker.create_topic("t", 1)
    await broker.handle(m.Produce("t", 0, encode_message_set([b"a", b"b"])))
    assert await broker.handle(m.Fetch("t", 0, 0, 1000)) == m.Fetched(0, 0, 0)
    broker.tick(now[0] + 0.5)  # the flush timer fires, but T has not elapsed
    await broker.quiesce()
    assert (await broker.handle(m.Fetch("t", 0, 0, 1000))).size == 0
    broker.tick(now[0] + 1.0)  # due: the fsync runs on a background thread ...
    await broker.quiesce()  # ... and the messages are visible once it is done
    fetched = await broker.handle(m.Fetch("t", 0, 0, 1000))
    assert fetched.high_watermark == 2 and fetched.size == 2 * 10
    broker.close()


async def test_the_consumer_stream_iterator_blocks_for_new_messages_and_never_ends(server: StreamServer) -> None:
    await create_topic(server.address, "t", 1)
    got = []

    async def read_three() -> None:
        async with Consumer(server.address, "t") as consumer:
            async for record in consumer:
                got.append(record.value)
                if len(got) == 3:
                    return

    reader = asyncio.create_task(read_three())
    async with Producer(server.address, batch_size=1) as p:
        for value in (b"x", b"y", b"z"):
            await p.send("t", value)
            await asyncio.sleep(0.02)
    await reader
    assert got == [b"x", b"y", b"z"]
