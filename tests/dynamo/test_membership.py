"""Gossip membership, local failure detection, join and leave with key-range transfer (Dynamo §4.8, §4.9)."""

from __future__ import annotations

import pytest

from minisys.dynamo import SimCluster
from minisys.dynamo.failure import FailureDetector


def test_failure_detection_is_local_and_a_suspected_node_is_retried_later():
    clock = [0.0]
    fd = FailureDetector(lambda: clock[0], retry_after=1.0)
    fd.suspect("B")
    assert not fd.healthy("B") and fd.suspected() == ["B"]
    clock[0] = 1.0
    assert fd.healthy("B")  # time to retry B


def test_a_node_suspects_only_the_peers_that_failed_to_answer_it():
    with SimCluster(nodes=5, seed=1, anti_entropy_interval=0, handoff_interval=0) as c:
        c.partition(["n0"], ["n1"])  # n0 cannot reach n1; everyone else can
        for i in range(30):
            c.run(c.client("x", nodes=["n0"]).put(f"k{i}", b"v"))
        assert "n1" in c.node("n0").detector.suspected()
        assert all("n1" not in c.node(i).detector.suspected() for i in ("n2", "n3", "n4"))


@pytest.mark.parametrize("strategy", [1, 3])
def test_a_joining_node_is_gossiped_to_everyone_and_receives_its_key_ranges(strategy):
    with SimCluster(nodes=5, seed=2, strategy=strategy, anti_entropy_interval=0) as c:
        for i in range(100):
            c.put(f"k{i}", f"v{i}")
        c.run_for(1)
        c.add_node("n5", seeds=["n0"])
        c.run_for(10)  # gossip every second reaches everyone
        assert all("n5" in c.node(i).membership.live_members() for i in c.node_ids)
        ring = c.node("n0").ring
        mine = [f"k{i}" for i in range(100) if "n5" in ring.preference_list(f"k{i}", 3)]
        assert mine  # it took ranges
        assert all(c.node("n5").engine.get(k) for k in mine)
        for k in mine:  # and the data is still readable
            assert c.get(k).values == [f"v{k[1:]}".encode()]


def test_join_transfers_each_range_once_offer_confirm_transfer():
    with SimCluster(nodes=5, seed=3, strategy=3, anti_entropy_interval=0) as c:
        for i in range(100):
            c.put(f"k{i}", b"v")
        c.run_for(1)
        c.add_node("n5", seeds=["n0"])
        c.run_for(10)
        new = c.node("n5")
        sources = new.transfer.accepted
        assert sources  # ranges confirmed, each from exactly one offerer
        refused = sum(c.node(i).transfer.offers_refused for i in c.node_ids[:5])
        assert refused > 0  # the other replicas' duplicate offers were declined


def test_a_node_that_no_longer_replicates_a_range_deletes_it_after_a_confirmed_transfer():
    with SimCluster(nodes=5, seed=4, strategy=3, anti_entropy_interval=0) as c:
        keys = [f"k{i}" for i in range(200)]
        for k in keys:
            c.put(k, b"v")
        c.run_for(1)
        c.add_node("n5", seeds=["n0"])
        c.run_for(10)
        ring = c.node("n0").ring
        assert sum(c.node(i).transfer.dropped for i in c.node_ids) > 0
        for k in keys:  # nothing was lost: every current replica holds the key
            assert all(c.node(n).engine.get(k) for n in ring.preference_list(k, 3))


def test_a_leaving_node_hands_its_ranges_over_before_announcing():
    with SimCluster(nodes=6, seed=5, strategy=3, anti_entropy_interval=0) as c:
        for i in range(100):
            c.put(f"k{i}", f"v{i}")
        c.run_for(1)
        c.remove_node("n2")
        c.run_for(5)
        ring = c.node("n0").ring
        assert "n2" not in ring.nodes
        for i in range(100):
            for node in ring.preference_list(f"k{i}", 3):
                assert c.node(node).engine.get(f"k{i}"), (f"k{i}", node)


def test_seed_nodes_let_separately_joined_nodes_find_each_other():
    with SimCluster(nodes=3, seed=6, anti_entropy_interval=0) as c:
        c.add_node("x1", seeds=["n0"])
        c.add_node("x2", seeds=["n0"])
        c.run_for(10)
        assert "x2" in c.node("x1").membership.live_members()
        assert "x1" in c.node("x2").membership.live_members()


def test_membership_survives_a_restart_because_it_is_persisted():
    with SimCluster(nodes=4, seed=7, anti_entropy_interval=0) as c:
        c.add_node("n4", seeds=["n0"])
        c.run_for(5)
        c.crash("n1")
        c.restart("n1")
        assert "n4" in c.node("n1").membership.live_members()


def test_each_node_gossips_about_once_a_second_with_a_random_peer():
    with SimCluster(nodes=6, seed=8, anti_entropy_interval=0, handoff_interval=0) as c:
        c.run_for(20)
        sent = [e for e in c.net.trace if e.type == "dynamo.Gossip" and e.event == "sent" and e.kind == "call"
                and e.src == "n0"]
        assert 15 <= len(sent) <= 25  # every second, jittered (§4.8.1)
        assert len({e.dst for e in sent}) >= 4  # to peers chosen at random
