"""Fault schedules: every kind applies to the simulator, and recovery undoes it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from minisys.consistency.edn import EDNError, loads
from minisys.consistency.strategies import (
    ClockSkew,
    Crash,
    Heal,
    MessageLoss,
    Partition,
    Restart,
    SlowLink,
    apply_fault,
    describe,
    fault_schedules,
    recover,
)
from minisys.net import Node, SimNetwork

NODES = ("a", "b", "c")


@settings(max_examples=40, deadline=None)
@given(fault_schedules(NODES, max_faults=8, horizon=1.0))
def test_generated_schedules_are_sorted_and_apply_to_the_simulator(schedule):
    assert [t for t, _ in schedule] == sorted(t for t, _ in schedule)
    with SimNetwork(seed=1) as net:
        for n in NODES:
            net.add_node(n, Node)
        for _t, fault in schedule:
            apply_fault(net, fault)
        recover(net, NODES)
        assert all(net.is_up(n) for n in NODES)
        assert describe(schedule)


def test_every_fault_kind_is_generated():
    kinds = set()

    @settings(max_examples=200, deadline=None, database=None)
    @given(fault_schedules(NODES, max_faults=8))
    def collect(schedule):
        kinds.update(type(f) for _t, f in schedule)

    collect()
    assert kinds == {Partition, Heal, Crash, Restart, ClockSkew, MessageLoss, SlowLink}


def test_recovery_heals_partitions_and_restarts_crashed_nodes():
    with SimNetwork(seed=2) as net:
        for n in NODES:
            net.add_node(n, Node)
        client = net.add_client("client")
        apply_fault(net, Partition(("a",), ("b", "c")))
        apply_fault(net, Crash("b"))
        apply_fault(net, ClockSkew("c", 5.0))
        assert not net.is_up("b")
        recover(net, NODES)
        assert net.is_up("b") and abs(net.node("c").now() - net.now) < 1e-9
        assert client is not None


def test_edn_reader_handles_jepsen_forms():
    assert loads('{:process 0, :type :ok, :f :read, :value [1 "two" nil true], :tags #{:a}}') == {
        "process": 0, "type": "ok", "f": "read", "value": [1, "two", None, True], "tags": ["a"]}
    assert loads("#jepsen.history.Op{:index 3, :time 12.5}") == {"index": 3, "time": 12.5}
    for bad in ("{:a 1", "{:a}", "[1 2}", ""):
        try:
            loads(bad)
        except EDNError:
            continue
        raise AssertionError(f"{bad!r} should not parse")


@settings(max_examples=50, deadline=None)
@given(st.integers(-10**9, 10**9), st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_edn_reads_back_integers_and_strings(n, text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    assert loads(f'{{:n {n}, :s "{escaped}"}}') == {"n": n, "s": text}
