"""Client handles: server-driven vs client-driven coordination (§6.4), LWW under skew, durability."""

from __future__ import annotations

from minisys.dynamo import SimCluster
from minisys.dynamo.messages import ClientGet, ClientPut


def _forwards(c: SimCluster) -> int:
    return sum(c.node(i).stats["forwarded"] for i in c.node_ids)


def test_client_driven_coordination_sends_requests_straight_to_the_coordinator():
    with SimCluster(nodes=8, seed=1, anti_entropy_interval=0) as c:
        lb, direct = c.client("lb"), c.client("direct", routing="client")
        for i in range(40):
            c.run(lb.put(f"k{i}", b"v"))
        via_lb = _forwards(c)
        for i in range(40):
            c.run(direct.put(f"j{i}", b"v"))
        assert via_lb > 0 and _forwards(c) == via_lb  # no extra hop when the client knows the ring
        got = c.run(direct.get("j3"))
        assert got.coordinator in c.node("n0").ring.preference_list("j3", 3)


def test_client_driven_mode_refreshes_membership_from_a_random_node():
    with SimCluster(nodes=5, seed=2, anti_entropy_interval=0) as c:
        direct = c.client("direct", routing="client")
        c.run(direct.put("k", b"v"))
        queries = sum(1 for e in c.net.trace if e.type == "dynamo.StatusQuery" and e.event == "delivered")
        c.run_for(11)  # past the 10 s refresh period (§6.4)
        c.run(direct.put("k2", b"v"))
        again = sum(1 for e in c.net.trace if e.type == "dynamo.StatusQuery" and e.event == "delivered")
        assert (queries, again) == (1, 2)


def test_lww_under_clock_skew_discards_a_causally_later_write():
    # aphyr's "trouble with timestamps": the later write carries the smaller timestamp.
    with SimCluster(nodes=5, seed=3, mode="lww", anti_entropy_interval=0) as c:
        ring = c.node("n0").ring
        first, second = ring.preference_list("k", 3)[:2]
        c.set_clock(second, skew=-10.0)
        client = c.client("x").node
        c.run(client.call(first, ClientPut("k", b"early", "", True)))
        got = c.run(client.call(first, ClientGet("k")))
        c.run(client.call(second, ClientPut("k", b"later", got.context, True)))  # read, then wrote: causally later
        c.run_for(1)
        assert c.get("k").values == [b"early"]  # the acknowledged later write is gone


def test_vector_clocks_under_the_same_skew_keep_the_later_write():
    with SimCluster(nodes=5, seed=3, anti_entropy_interval=0) as c:
        ring = c.node("n0").ring
        first, second = ring.preference_list("k", 3)[:2]
        c.set_clock(second, skew=-10.0)
        client = c.client("x").node
        c.run(client.call(first, ClientPut("k", b"early", "", True)))
        got = c.run(client.call(first, ClientGet("k")))
        c.run(client.call(second, ClientPut("k", b"later", got.context, True)))
        c.run_for(1)
        assert c.get("k").values == [b"later"]


def test_the_durable_engine_survives_a_crash_and_the_memory_engine_does_not():
    for engine, survives in (("durable", True), ("memory", False)):
        with SimCluster(nodes=3, n=3, w=3, seed=4, engine=engine, anti_entropy_interval=0) as c:
            c.put("k", b"v")
            c.crash("n0")
            c.restart("n0")
            assert bool(c.node("n0").engine.get("k")) is survives
