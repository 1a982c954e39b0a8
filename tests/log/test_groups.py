"""Consumer groups (Kafka §3.2-3.3): Algorithm 1, the registries, at-least-once delivery."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from minisys.log import Consumer, Producer, create_topic
from minisys.log import messages as m
from minisys.log.broker import Broker
from minisys.log.client import connect
from minisys.log.partition import LogConfig
from minisys.log.rebalance import assigned_partitions, plan, rebalance
from minisys.log.server import StreamServer


@given(st.integers(1, 64), st.lists(st.text("abcdef", min_size=1, max_size=4), min_size=1, max_size=12, unique=True))
def test_algorithm1_assigns_each_partition_to_exactly_one_group_member(n_partitions: int, consumers: list[str]) -> None:
    owned = [p for c in consumers for p in assigned_partitions(range(n_partitions), consumers, c)]
    assert sorted(owned) == list(range(n_partitions))
    sizes = [len(assigned_partitions(range(n_partitions), consumers, c)) for c in consumers]
    assert max(sizes) - min(sizes) <= 1  # N = |P|/|C| each, the remainder spread one apiece


def test_algorithm1_gives_consumer_j_the_range_j_n_to_j_plus_1_n_minus_1_of_sorted_lists() -> None:
    consumers = ["c2", "c0", "c1"]  # sorted: c0 c1 c2
    assert assigned_partitions(range(6), consumers, "c0") == [0, 1]
    assert assigned_partitions(range(6), consumers, "c1") == [2, 3]
    assert assigned_partitions(range(6), consumers, "c2") == [4, 5]
    assert assigned_partitions(range(2), consumers, "c2") == []  # more consumers than partitions


def test_plan_only_counts_consumers_subscribed_to_each_topic() -> None:
    view = m.RegistryView(1, (m.ConsumerEntry("a", ("x", "y")), m.ConsumerEntry("b", ("y",))),
                          {"x": 2, "y": 2}, ())
    assert plan(view, "a", ("x", "y")) == [("x", 0), ("x", 1), ("y", 0)]
    assert plan(view, "b", ("y",)) == [("y", 1)]


async def settle(consumers: list[Consumer], server: StreamServer, group: str = "g") -> None:
    """Wait until every consumer has rebalanced on the registry's latest version (their watches fired)."""
    while any(c._version != server.broker.registry.view(group).version for c in consumers):
        await asyncio.sleep(0.02)


def owners_of(server: StreamServer, group: str) -> dict[tuple[str, int], str]:
    return {(o.topic, o.partition): o.consumer for o in server.broker.registry.view(group).owners}


async def test_rebalance_on_join_and_leave_keeps_one_owner_per_partition(server: StreamServer) -> None:
    await create_topic(server.address, "t", 8)
    consumers = [Consumer(server.address, "t", group="g", consumer_id=f"c{i}", session_ms=900) for i in range(3)]
    for c in consumers:  # joining one by one: each join fires the others' watch
        await c.start()
    await settle(consumers, server)
    assignments = [set(c.assignment) for c in consumers]
    assert set().union(*assignments) == {("t", p) for p in range(8)}
    assert sum(len(a) for a in assignments) == 8  # disjoint
    assert owners_of(server, "g") == {tp: c.consumer_id for c in consumers for tp in c.assignment}
    assert [len(a) for a in assignments] == [3, 3, 2]

    await consumers[0].close()  # a clean leave: the survivors take over its partitions
    await settle(consumers[1:], server)
    assert sorted(consumers[1].assignment + consumers[2].assignment) == [("t", p) for p in range(8)]
    assert len(owners_of(server, "g")) == 8
    for c in consumers[1:]:
        await c.close()


async def test_an_ownership_conflict_makes_the_claimant_release_back_off_and_retry(server: StreamServer) -> None:
    await create_topic(server.address, "t", 2)
    conn = await connect(server.address)
    await conn.call(m.JoinGroup("g", "a", ("t",), 60_000))
    assert (await conn.call(m.ClaimPartition("g", "a", "t", 0))).ok
    assert (await conn.call(m.ClaimPartition("g", "a", "t", 1))).ok
    await conn.call(m.JoinGroup("g", "b", ("t",), 60_000))

    async def a_rebalances_late() -> None:
        await asyncio.sleep(0.2)  # "a" has not noticed "b" yet and still owns both partitions
        await rebalance(conn.call, "g", "a", ("t",))

    conn_b = await connect(server.address)
    late = asyncio.create_task(a_rebalances_late())
    _, owned = await rebalance(conn_b.call, "g", "b", ("t",))  # conflicts on partition 1 until "a" releases
    await late
    assert owned == [("t", 1)] and owners_of(server, "g") == {("t", 0): "a", ("t", 1): "b"}
    await conn.close()
    await conn_b.close()


async def test_a_crashed_consumers_partitions_move_when_its_session_expires(server: StreamServer) -> None:
    await create_topic(server.address, "t", 4)
    a = await Consumer(server.address, "t", group="g", consumer_id="a", session_ms=300).start()
    b = await Consumer(server.address, "t", group="g", consumer_id="b", session_ms=300).start()
    await settle([a, b], server)
    assert len(a.assignment) == len(b.assignment) == 2
    await a.crash()  # no LeaveGroup: only the ephemeral registration's expiry tells the group
    while len(b.assignment) < 4:  # b's heartbeat task sees the new version and rebalances
        await asyncio.sleep(0.02)
    assert owners_of(server, "g") == {("t", p): "b" for p in range(4)}
    await b.close()


async def test_a_consumer_restarting_from_its_committed_offset_sees_every_message_at_least_once(
        server: StreamServer) -> None:
    n = 2000
    await create_topic(server.address, "t", 4)
    async with Producer(server.address, batch_size=25) as p:
        for i in range(n):
            await p.send("t", b"%d" % i)
    seen: list[bytes] = []
    # A long session, so a stall of this shared machine cannot expire it mid-test.
    first = await Consumer(server.address, "t", group="g", consumer_id="first", session_ms=1500,
                           max_bytes=200).start()
    committed = 0
    for round_ in range(6):
        seen += [r.value for r in await first.poll()]
        if round_ % 2 == 1:
            await first.commit()
            committed = len(seen)
    seen += [r.value for r in await first.poll()]  # processed, never committed ...
    uncommitted = len(seen) - committed
    assert 0 < uncommitted and len(seen) < n
    await first.crash()  # ... then an unclean crash (§3.3)
    second = await Consumer(server.address, "t", group="g", consumer_id="second", session_ms=300).start()
    while True:  # read until caught up on every partition, once it owns them all
        got = [r.value for r in await second.poll(timeout_ms=200)]
        if not got and len(second.assignment) == 4:
            break
        seen += got
    await second.commit()
    await second.close()
    assert set(seen) == {b"%d" % i for i in range(n)}  # never silent loss
    duplicates = len(seen) - n
    assert duplicates == uncommitted  # exactly the processed-but-uncommitted tail, re-delivered


async def test_committed_offsets_persist_in_the_offset_registry_across_a_broker_restart(tmp_path: Path) -> None:
    async with StreamServer(Broker(tmp_path, LogConfig(flush_ms=5))) as srv:
        await create_topic(srv.address, "t", 1)
        conn = await connect(srv.address)
        await conn.call(m.CommitOffset("g", "t", 0, 42))
        await conn.close()
    async with StreamServer(Broker(tmp_path)) as srv:
        conn = await connect(srv.address)
        assert await conn.call(m.FetchOffset("g", "t", 0)) == m.CommittedOffset(42)
        assert await conn.call(m.FetchOffset("other", "t", 0)) == m.CommittedOffset(None)
        await conn.close()


async def test_groups_are_independent_each_gets_every_message(server: StreamServer) -> None:
    await create_topic(server.address, "t", 2)
    async with Producer(server.address) as p:
        for i in range(100):
            await p.send("t", b"%d" % i)
    for group in ("g1", "g2"):
        async with Consumer(server.address, "t", group=group) as c:
            got = []
            while len(got) < 100:
                got += await c.poll()
            assert len(got) == 100


async def test_adding_a_topic_fires_the_watch_and_subscribers_rebalance(server: StreamServer) -> None:
    await create_topic(server.address, "a", 1)
    consumer = await Consumer(server.address, "a", "b", group="g", session_ms=300).start()
    assert consumer.assignment == [("a", 0)]
    await create_topic(server.address, "b", 2)  # the broker registry changed
    while len(consumer.assignment) < 3:
        await asyncio.sleep(0.02)
    assert consumer.assignment == [("a", 0), ("b", 0), ("b", 1)]
    await consumer.close()


async def test_a_consumer_whose_session_expires_mid_rebalance_registers_again(
        server: StreamServer, monkeypatch) -> None:
    """§3.2: registrations are ephemeral. A consumer that stalls longer than
    its session in the middle of a rebalance (a GC pause, a busy machine) finds
    its registration gone when it claims a partition; it must register again
    and finish the rebalance, as after any other expiry -- not fail to start."""
    from minisys.log import consumer as consumer_module

    await create_topic(server.address, "t", 4)
    stalls = []

    async def stalling_rebalance(call, *args, **kwargs):
        async def call_after_a_stall(request):
            if isinstance(request, m.ClaimPartition) and not stalls:
                stalls.append(request)
                await asyncio.sleep(0.5)  # > session_ms: the broker expires the registration meanwhile
                server.broker.registry.expire()
            return await call(request)
        return await rebalance(call_after_a_stall, *args, **kwargs)

    monkeypatch.setattr(consumer_module, "rebalance", stalling_rebalance)
    second = await Consumer(server.address, "t", group="g", consumer_id="c", session_ms=150).start()
    assert stalls, "the stall was injected"
    assert second.assignment == [("t", p) for p in range(4)]
    assert owners_of(server, "g") == {("t", p): "c" for p in range(4)}
    await second.close()


async def test_a_consumer_whose_session_expires_in_a_rebalance_its_heartbeat_started_registers_again(
        server: StreamServer, monkeypatch) -> None:
    """The same stall, in a rebalance the heartbeat loop started (a new member
    joined): the heartbeat task registers again and finishes it instead of
    dying with NotRegistered, so the group still splits the partitions."""
    from minisys.log import consumer as consumer_module

    await create_topic(server.address, "t", 4)
    c = await Consumer(server.address, "t", group="g", consumer_id="c", session_ms=150).start()
    stalls = []

    async def stalling_rebalance(call, group, consumer_id, *args, **kwargs):
        async def call_after_a_stall(request):
            if consumer_id == "c" and isinstance(request, m.ClaimPartition) and not stalls:
                stalls.append(request)
                await asyncio.sleep(0.5)  # > session_ms: the broker expires c's registration meanwhile
                server.broker.registry.expire()
            return await call(request)
        return await rebalance(call_after_a_stall, group, consumer_id, *args, **kwargs)

    monkeypatch.setattr(consumer_module, "rebalance", stalling_rebalance)
    d = await Consumer(server.address, "t", group="g", consumer_id="d", session_ms=150).start()
    everything = [("t", p) for p in range(4)]
    for _ in range(300):
        if stalls and c.assignment and d.assignment and sorted(c.assignment + d.assignment) == everything:
            break
        await asyncio.sleep(0.02)
    assert stalls, "the stall was injected"
    assert sorted(c.assignment + d.assignment) == everything and c.assignment and d.assignment
    assert set(owners_of(server, "g").values()) == {"c", "d"}
    await d.close()
    await c.close()
