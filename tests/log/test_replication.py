"""Replication with a leader, followers and the ISR (Kafka 0.8; the issue's optional part).

Three brokers in this process, each on its own port and data directory; the
test plays the controller (ZooKeeper + Kafka's controller in real Kafka) and
sends ``LeaderAndIsr``. A dead broker is a closed server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from minisys.errors import MinisysError
from minisys.log import Consumer, Producer
from minisys.log import messages as m
from minisys.log.broker import Broker
from minisys.log.client import connect
from minisys.log.errors import NotEnoughReplicas, NotLeader
from minisys.log.partition import LogConfig
from minisys.log.replication import elect_leader
from minisys.log.server import StreamServer

IDS = ("b0", "b1", "b2")


class Cluster:
    def __init__(self, root: Path, lag_ms: float, min_insync: int) -> None:
        self.root, self.lag_ms, self.min_insync = root, lag_ms, min_insync
        self.servers: dict[str, StreamServer] = {}
        self.epoch = 0

    async def start(self, broker_id: str) -> StreamServer:
        broker = Broker(self.root / broker_id, LogConfig(flush_ms=2), broker_id=broker_id,
                        replica_lag_ms=self.lag_ms, min_insync=self.min_insync)
        broker.create_topic("t", 1)
        self.servers[broker_id] = server = await StreamServer(broker).start()
        return server

    async def kill(self, broker_id: str) -> None:
        await self.servers.pop(broker_id).close()

    async def make_leader(self, leader: str, isr: tuple[str, ...], to: tuple[str, ...] | None = None) -> None:
        """The controller's decision, sent to every live replica (or just ``to``)."""
        self.epoch += 1
        address = self.servers[leader].address
        for broker_id in to or tuple(self.servers):
            conn = await connect(self.servers[broker_id].address)
            await conn.call(m.LeaderAndIsr("t", 0, self.epoch, leader, address, IDS, isr))
            await conn.close()

    def state(self, broker_id: str) -> m.PartitionState:
        broker = self.servers[broker_id].broker
        leader = broker.leaders.get(("t", 0))
        log = broker.log("t", 0)
        return m.PartitionState("leader" if leader else "follower", self.epoch,
                                tuple(sorted(leader.isr)) if leader else (),
                                leader.hw if leader else log.visible_end, log.next_offset)

    async def close(self) -> None:
        for broker_id in list(self.servers):
            await self.kill(broker_id)


@pytest.fixture
async def cluster(tmp_path: Path):
    c = Cluster(tmp_path, lag_ms=1500, min_insync=2)
    for broker_id in IDS:
        await c.start(broker_id)
    await c.make_leader("b0", IDS)
    yield c
    await c.close()


async def produce(address: str, values: list[bytes], acks: int | str = "all") -> list[int]:
    async with Producer(address, batch_size=10, acks=acks) as producer:
        deliveries = [await producer.send("t", v, 0) for v in values]
        await producer.flush()
        return [await d for d in deliveries]


async def read_all(address: str) -> list[bytes]:
    out: list[bytes] = []
    async with Consumer(address, "t") as consumer:
        while records := await consumer.poll(timeout_ms=100):
            out += [r.value for r in records]
    return out


async def test_an_acks_all_write_is_on_every_in_sync_replica_when_acknowledged(cluster: Cluster) -> None:
    offsets = await produce(cluster.servers["b0"].address, [b"m%d" % i for i in range(200)])
    assert offsets == list(range(200))
    for broker_id in IDS:  # acknowledged => every ISR member has it
        assert cluster.servers[broker_id].broker.log("t", 0).next_offset >= 200
    assert cluster.state("b0").isr == IDS and cluster.state("b0").high_watermark == 200
    conn = await connect(cluster.servers["b0"].address)
    described = await conn.call(m.DescribePartition("t", 0))
    await conn.close()
    assert (described.role, described.isr, described.high_watermark, described.log_end) == ("leader", IDS, 200, 200)


async def test_followers_refuse_produce_and_fetch(cluster: Cluster) -> None:
    conn = await connect(cluster.servers["b1"].address)
    with pytest.raises(NotLeader, match="b1 follows t/0"):
        await conn.call(m.Produce("t", 0, b"", 1))
    with pytest.raises(NotLeader):
        await conn.call(m.Fetch("t", 0, 0, 100))
    await conn.close()


async def test_consumers_see_only_committed_messages_and_a_dead_follower_leaves_the_isr(cluster: Cluster) -> None:
    leader = cluster.servers["b0"]
    await produce(leader.address, [b"a%d" % i for i in range(10)])
    await cluster.kill("b2")  # b2 stops fetching, but is still in the ISR for lag_ms
    await produce(leader.address, [b"b%d" % i for i in range(10)], acks=1)
    assert leader.broker.log("t", 0).next_offset == 20
    assert len(await read_all(leader.address)) == 10  # not on b2 yet: not committed, not visible
    while "b2" in cluster.state("b0").isr:  # replica.lag.time.max.ms passes ...
        await asyncio.sleep(0.05)
    assert cluster.state("b0").isr == ("b0", "b1")  # ... b2 is dropped and the rest commits
    assert len(await read_all(leader.address)) == 20


async def test_acks_all_is_refused_below_min_insync_replicas_and_a_follower_rejoins_when_caught_up(
        cluster: Cluster) -> None:
    leader = cluster.servers["b0"]
    await cluster.kill("b1")
    await cluster.kill("b2")
    while cluster.state("b0").isr != ("b0",):
        await asyncio.sleep(0.05)
    await produce(leader.address, [b"x%d" % i for i in range(30)], acks=1)  # acks=1 still works
    with pytest.raises(NotEnoughReplicas, match="1 in-sync replicas .* fewer than min_insync 2"):
        await produce(leader.address, [b"y"])
    await cluster.start("b1")  # restarted: follows, catches up, rejoins the ISR
    await cluster.make_leader("b0", ("b0",), to=("b0", "b1"))
    while "b1" not in cluster.state("b0").isr:
        await asyncio.sleep(0.05)
    assert cluster.servers["b1"].broker.log("t", 0).next_offset >= 30
    assert await produce(leader.address, [b"z"]) == [30]


async def test_failover_to_an_in_sync_follower_loses_no_committed_message(cluster: Cluster) -> None:
    committed = [b"c%d" % i for i in range(300)]
    await produce(cluster.servers["b0"].address, committed)
    isr = cluster.state("b0").isr
    await cluster.kill("b0")  # the leader dies
    new_leader = elect_leader(isr, alive=cluster.servers)
    assert new_leader == "b1"
    await cluster.make_leader(new_leader, tuple(r for r in isr if r in cluster.servers))
    address = cluster.servers[new_leader].address
    while cluster.state(new_leader).high_watermark < 300:  # the new leader's HW catches up from b2
        await asyncio.sleep(0.02)
    assert (await read_all(address))[:300] == committed
    await produce(address, [b"after"])
    assert (await read_all(address))[-1] == b"after"


def test_election_picks_only_an_alive_in_sync_replica() -> None:
    assert elect_leader(("b2", "b0", "b1"), alive=("b0", "b1")) == "b0"
    with pytest.raises(MinisysError, match="offline"):
        elect_leader(("b1",), alive=("b0", "b2"))


async def test_a_replica_that_becomes_a_follower_truncates_to_its_high_watermark(tmp_path: Path) -> None:
    from minisys.log.record import encode_message_set

    broker = Broker(tmp_path, LogConfig(segment_bytes=100), broker_id="b1")
    broker.create_topic("t", 1)
    log = broker.log("t", 0)
    for i in range(20):
        log.append(encode_message_set([b"m%02d" % i] * 1))
    log.commit_limit = 12  # the last high watermark it heard: 12..19 were never committed
    assert len(log.segments) > 2
    await broker.handle(m.LeaderAndIsr("t", 0, 1, "b0", "127.0.0.1:1", IDS, IDS))
    assert log.next_offset == 12 and log.base_offsets[-1] <= 12
    assert log.append(encode_message_set([b"from the new leader"])) == 12
    log.flush()
    assert log.read_bytes(11, 100).startswith(encode_message_set([b"m11"]))
    with pytest.raises(Exception, match="stale LeaderAndIsr"):
        await broker.handle(m.LeaderAndIsr("t", 0, 0, "b1", "x:1", IDS, IDS))
    await broker.quiesce()
    broker.close()
