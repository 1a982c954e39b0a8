"""The get/put request state machines, coordination and read repair (Dynamo §4.5, §5, §6.1)."""

from __future__ import annotations

import pytest

from minisys.dynamo import SimCluster
from minisys.dynamo.client import DynamoUnavailableError
from minisys.dynamo.messages import ClientPut, ReplicaPut
from minisys.errors import BadInput
from minisys.net import Constant


def quiet(**kw):
    """A cluster without background repair, so each test sees one mechanism at a time."""
    kw.setdefault("anti_entropy_interval", 0)
    kw.setdefault("handoff_interval", 0)
    kw.setdefault("gossip_interval", 0)
    return SimCluster(**kw)


def count(c: SimCluster, msg_type: str, event: str = "delivered") -> int:
    return sum(1 for e in c.net.trace if e.type == msg_type and e.event == event and e.kind == "call")


def test_put_then_get_returns_the_value_with_a_context():
    with quiet(nodes=5, seed=1) as c:
        c.put("cart", b"milk")
        got = c.get("cart")
        assert got.values == [b"milk"] and got.context


def test_get_of_a_missing_key_returns_no_values():
    with quiet(nodes=5, seed=1) as c:
        assert c.get("nothing").values == []


def test_put_is_stored_on_the_n_nodes_of_the_preference_list():
    with quiet(nodes=6, seed=2, n=3, w=3) as c:
        c.put("k", b"v")
        c.run_for(1)
        top = c.node("n0").ring.preference_list("k", 3)
        holders = [i for i in c.node_ids if c.node(i).engine.get("k")]
        assert sorted(holders) == sorted(top)


def test_put_answers_after_w_acks_without_waiting_for_the_slowest_replica():
    with quiet(nodes=5, seed=3, n=3, w=2) as c:
        top = c.node("n0").ring.preference_list("k", 3)
        coordinator = top[0]
        c.slow(coordinator, top[2], 0.4)  # one replica link is 400 ms away
        t0 = c.now
        c.run(c.client("x", routing="client").put("k", b"v"))
        assert c.now - t0 < 0.1
        c.run_for(1)
        assert c.node(top[2]).engine.get("k")  # the slow replica still got it


def test_get_waits_for_r_replies_and_w_all_means_every_replica_must_answer():
    with quiet(nodes=5, seed=4, n=3, r=1, w=3) as c:
        top = c.node("n0").ring.preference_list("k", 3)
        c.put("k", b"v")
        c.crash(top[1])
        c.crash(top[2])
        for other in c.node_ids:
            if other not in top:
                c.crash(other)  # no fallbacks either
        with pytest.raises(DynamoUnavailableError, match="W=3"):
            c.run(c.client("x", routing="client").put("k", b"w"))
        assert c.run(c.client("x").get("k")).values  # R=1 still answers from one replica


def test_node_outside_the_top_n_forwards_a_put_to_the_coordinator():
    with quiet(nodes=6, seed=5) as c:
        top = c.node("n0").ring.preference_list("k", 3)
        outsider = next(i for i in c.node_ids if i not in top)
        reply = c.run(c.client("x").node.call(outsider, ClientPut("k", b"v")))
        assert reply.coordinator == top[0]
        assert c.node(outsider).stats["forwarded"] == 1


def test_coordinator_is_the_first_reachable_of_the_top_n_when_the_first_is_down():
    with quiet(nodes=6, seed=6) as c:
        top = c.node("n0").ring.preference_list("k", 3)
        outsider = next(i for i in c.node_ids if i not in top)
        c.crash(top[0])
        from minisys.dynamo.messages import ClientPut

        reply = c.run(c.client("x").node.call(outsider, ClientPut("k", b"v")))
        assert reply.coordinator == top[1]


def test_fastest_replier_of_the_previous_read_coordinates_the_write():
    with quiet(nodes=6, seed=7) as c:
        top = c.node("n0").ring.preference_list("k", 3)
        c.put("k", b"v1")
        c.run_for(1)
        for node in top[:2]:
            for other in c.node_ids:
                if other != node:
                    c.slow(other, node, 0.2)  # only top[2] answers quickly
        outsider = next(i for i in c.node_ids if i not in top)
        from minisys.dynamo.messages import ClientGet, ClientPut

        client = c.client("x").node
        got = c.run(client.call(outsider, ClientGet("k")))
        reply = c.run(client.call(outsider, ClientPut("k", b"v2", got.context)))
        assert reply.coordinator == top[2]


def test_get_returns_all_causally_unrelated_versions_and_a_context_that_supersedes_them():
    with quiet(nodes=5, seed=8) as c:
        alice, bob = c.client("alice"), c.client("bob")
        base = c.run(alice.put("cart", b"milk"))
        c.run_for(1)
        c.run(alice.put("cart", b"milk,eggs", base.context))
        c.run(bob.put("cart", b"milk,bread", base.context))
        c.run_for(1)
        got = c.run(alice.get("cart"))
        assert sorted(got.values) == [b"milk,bread", b"milk,eggs"]
        from minisys.dynamo import cart_union

        c.run(alice.put("cart", got.merged(cart_union), got.context))
        c.run_for(1)
        assert c.run(bob.get("cart")).values == [b"bread,eggs,milk"]


def test_read_repair_updates_a_stale_replica_after_the_reply():
    with quiet(nodes=5, seed=9, n=3, r=3, w=2) as c:
        top = c.node("n0").ring.preference_list("k", 3)
        c.partition([top[2]], [n for n in c.node_ids if n != top[2]])
        c.run(c.client("x", routing="client").put("k", b"new"))
        c.heal()
        c.run_for(2)  # the partition-era suspicion has expired
        assert not c.node(top[2]).engine.get("k")
        got = c.run(c.client("x", routing="client").get("k"))
        assert got.values == [b"new"]
        c.run_for(1)
        assert [s.value for s in c.node(top[2]).engine.get("k")] == [b"new"]
        assert c.node(top[0]).stats["read_repairs"] >= 1


def test_concurrent_writes_through_one_coordinator_with_a_stale_context_both_survive_in_the_cluster():
    with quiet(nodes=5, seed=10) as c:
        a, b = c.client("a", routing="client"), c.client("b", routing="client")
        base = c.run(a.put("k", b"v0"))
        c.run_for(1)

        async def both():
            import asyncio

            return await asyncio.gather(a.put("k", b"alice", base.context), b.put("k", b"bob", base.context))

        r1, r2 = c.run(both())
        assert r1.coordinator == r2.coordinator
        c.run_for(1)
        assert sorted(c.get("k").values) == [b"alice", b"bob"]


def test_key_and_value_limits_are_clear_errors():
    with quiet(nodes=3, seed=11, max_key_bytes=8, max_value_bytes=4) as c:
        with pytest.raises(BadInput, match="key is 9 bytes; the limit is 8"):
            c.put("123456789", b"v")
        with pytest.raises(BadInput, match="value is 5 bytes"):
            c.put("k", b"12345")
        with pytest.raises(BadInput, match="not a context"):
            c.put("k", b"v", context="garbage!")


def test_replica_put_merges_rather_than_overwrites():
    with quiet(nodes=3, seed=12) as c:
        c.put("k", b"a")
        from minisys.dynamo.reconcile import to_plain, update
        from minisys.dynamo.vclock import VClock

        other, _ = update([], VClock(), b"b", "zz", 1.0)
        c.run(c.client("x").node.call("n0", ReplicaPut("k", to_plain(other))))
        assert sorted(s.value for s in c.node("n0").engine.get("k")) == [b"a", b"b"]


def test_same_seed_replays_the_same_run():
    def trace(seed):
        with SimCluster(nodes=5, seed=seed, latency=Constant(0.001)) as c:
            for i in range(5):
                c.put(f"k{i}", b"v")
            c.crash("n1")
            c.run_for(3)
            return [(e.time, e.event, e.src, e.dst, e.type) for e in c.net.trace]

    assert trace(3) == trace(3)
