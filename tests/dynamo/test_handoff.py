"""Sloppy quorum and hinted handoff (Dynamo §4.6)."""

from __future__ import annotations

from minisys.dynamo import SimCluster
from minisys.dynamo.handoff import sloppy_quorum


def test_sloppy_quorum_uses_the_first_n_healthy_nodes_and_hints_the_fallback():
    plist = ["A", "B", "C", "D", "E"]
    plan = sloppy_quorum(plist, 3, "B", lambda n: n != "A", local=True)
    assert plan.targets == [("C", ""), ("D", "A")]  # D stands in for A, with a hint naming A
    assert list(plan.standins) == ["E"]


def test_coordinator_outside_the_top_n_keeps_its_copy_as_a_hint():
    plan = sloppy_quorum(["A", "B", "C", "D"], 3, "D", lambda n: True, local=True)
    assert plan.local_hint == "C" and plan.targets == [("A", ""), ("B", "")]


def test_write_succeeds_while_a_preference_list_node_is_down_and_the_fallback_holds_a_hint():
    with SimCluster(nodes=5, seed=1, n=3, w=3, handoff_interval=0, anti_entropy_interval=0) as c:
        top = c.node("n0").ring.preference_list("k", 3)
        fallback = c.node("n0").ring.preference_list("k")[3]
        c.crash(top[2])
        c.run(c.client("x", routing="client").put("k", b"v"))  # W=3 met with a stand-in
        hinted = c.node(fallback).engine.hinted("k")
        assert list(hinted) == [top[2]]
        assert not c.node(fallback).engine.get("k")  # kept apart from its own data


def test_hinted_replica_is_delivered_when_the_node_recovers_and_then_deleted():
    with SimCluster(nodes=5, seed=2, n=3, w=2, handoff_interval=0.5, anti_entropy_interval=0) as c:
        top = c.node("n0").ring.preference_list("k", 3)
        fallback = c.node("n0").ring.preference_list("k")[3]
        c.crash(top[1])
        c.run(c.client("x", routing="client").put("k", b"v"))
        c.run_for(0.5)
        assert c.node(fallback).engine.hint_count() == 1
        c.run_for(3)
        assert c.node(fallback).engine.hint_count() == 1  # still down: the hint waits
        c.restart(top[1])
        c.run_for(3)
        assert [s.value for s in c.node(top[1]).engine.get("k")] == [b"v"]
        assert c.node(fallback).engine.hint_count() == 0
        assert c.node(fallback).handoff.delivered == 1


def test_w1_write_is_rejected_only_when_every_node_is_down():
    with SimCluster(nodes=4, seed=3, n=3, r=1, w=1, handoff_interval=0, anti_entropy_interval=0) as c:
        survivor = c.node_ids[-1]
        for i in c.node_ids[:-1]:
            c.crash(i)
        c.run(c.client("x").put("k", b"still writable"))
        assert c.node(survivor).local_versions("k")


def test_sloppy_quorum_with_nobody_suspected_matches_the_all_healthy_plan():
    plist = ["A", "B", "C", "D", "E"]
    for me, local in (("B", True), ("E", True), ("E", False)):
        fast = sloppy_quorum(plist, 3, me, None, local=local)
        slow = sloppy_quorum(plist, 3, me, lambda n: True, local=local)
        assert (fast.targets, list(fast.standins), fast.local_hint) == (
            slow.targets, list(slow.standins), slow.local_hint)
