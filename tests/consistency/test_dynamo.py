"""The property suite pointed at minisys Dynamo on the simulator.

Negative controls (must be caught): with R=W=1 and partitions Dynamo is
not linearizable; in last-write-wins mode it loses acknowledged writes.
Positive result: with vector clocks and siblings it keeps every
acknowledged write and converges, under generated partitions and crashes.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("minisys.dynamo")

from minisys.consistency.adapters.dynamo_sim import DynamoSimTarget  # noqa: E402
from minisys.consistency.machine import StoreMachine  # noqa: E402
from minisys.consistency.runner import run_sim  # noqa: E402
from minisys.consistency.strategies import Crash, Partition, fault_schedules  # noqa: E402
from minisys.consistency.workloads import workload  # noqa: E402

NODES = ("n0", "n1", "n2", "n3", "n4")
SPLIT = ((0.02, Partition(("n0", "n1"), ("n2", "n3", "n4"))),)


def _run(seed: int, schedule=(), ops: int = 12, **kw):
    t = DynamoSimTarget(seed=seed, **kw)
    return run_sim(t, workload("register", t.functions, keys=2), seed=seed, processes=4,
                   ops_per_process=ops, schedule=schedule)


def test_dynamo_with_r_w_1_under_a_partition_is_not_linearizable():
    r = _run(3, SPLIT, r=1, w=1)
    lin = r.result("linearizable")
    assert lin.valid is False
    assert lin.offending and any(op.is_read for op in lin.offending)


def test_dynamo_in_lww_mode_loses_acknowledged_writes():
    r = _run(3, SPLIT, r=1, w=1, mode="lww")
    lost = r.result("no-lost-writes")
    assert lost.valid is False and lost.details["lost"] > 0


def test_dynamo_with_siblings_keeps_acknowledged_writes_under_the_same_partition():
    r = _run(3, SPLIT, r=1, w=1)
    assert r.result("no-lost-writes").valid is True, r.result("no-lost-writes").explain()
    assert r.result("convergence").valid is True, r.result("convergence").explain()


def _cart(mode: str):
    t = DynamoSimTarget(seed=2, mode=mode, r=1, w=1)
    return run_sim(t, workload("set", t.functions), seed=2, processes=4, ops_per_process=10, schedule=SPLIT)


def test_dynamo_shopping_cart_never_loses_an_add_under_a_partition():
    r = _cart("vv")
    assert r.result("set").valid is True, r.result("set").explain()
    assert r.result("set").details["acknowledged"] > 20


def test_dynamo_shopping_cart_in_lww_mode_loses_adds():
    res = _cart("lww").result("set")
    assert res.valid is False and res.details["lost"] > 0


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(seed=st.integers(0, 1000),
       schedule=fault_schedules(NODES, kinds=("partition", "crash", "restart", "heal"), max_faults=4, horizon=0.3))
def test_dynamo_with_siblings_passes_no_lost_writes_and_convergence_under_generated_faults(seed, schedule):
    r = _run(seed, schedule, ops=8)
    assert r.result("no-lost-writes").valid is not False, r.result("no-lost-writes").explain()
    assert r.result("convergence").valid is True, r.result("convergence").explain()
    assert r.result("final-reads-agree").valid is not False


def test_replicas_converge_after_a_partition_and_a_crash_of_the_coordinator():
    """Found by the generated test above (seed 13). n0 crashes inside a minority
    partition; the writes it could not take end up as hints that, once healed,
    are delivered to n4 only. Anti-entropy then has to carry them to n0 and n2.
    With a random range per round it compared that range with n4 too late (or
    never) and the final reads through n0 disagreed; the round-robin schedule
    compares every (range, peer) pair within one cycle."""
    schedule = ((0.02, Partition(("n0", "n1"), ("n2", "n3", "n4"))), (0.04, Crash("n0")))
    r = _run(13, schedule, ops=8)
    assert r.result("no-lost-writes").valid is True, r.result("no-lost-writes").explain()
    assert r.result("convergence").valid is True, r.result("convergence").explain()
    assert r.result("final-reads-agree").valid is True, r.result("final-reads-agree").explain()


@pytest.mark.heavy
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(seed=st.integers(0, 10_000),
       schedule=fault_schedules(NODES, max_faults=6, horizon=0.5))
def test_dynamo_with_siblings_survives_every_fault_kind_heavy(seed, schedule):
    r = _run(seed, schedule, ops=15)
    assert r.result("no-lost-writes").valid is not False, r.result("no-lost-writes").explain()
    assert r.result("convergence").valid is True, r.result("convergence").explain()


def _broken_sync(*lists):
    """A deliberately broken vector-clock merge: a total order (sum of counters)
    replaces "descends", so of two concurrent siblings one silently wins."""
    every = {}
    for siblings in lists:
        for s in siblings:
            every.setdefault((s.dot.node, s.dot.counter), s)
    if not every:
        return []
    return [max(every.values(), key=lambda s: (sum(e[1] for e in s.version().to_plain()), s.dot.node))]


def _keeps_acknowledged_writes(schedule):
    r = _run(5, schedule, ops=8)
    assert r.result("no-lost-writes").valid is not False, r.result("no-lost-writes").explain()


def test_a_broken_vector_clock_merge_in_dynamo_is_caught_by_the_property_suite(monkeypatch):
    from hypothesis import Phase

    from minisys.dynamo import reconcile

    schedules = fault_schedules(NODES, kinds=("partition", "crash", "heal"), max_faults=3, horizon=0.3)
    prop = settings(max_examples=10, deadline=None, database=None, phases=(Phase.generate,), derandomize=True)(
        given(schedules)(_keeps_acknowledged_writes))
    prop()  # the real merge passes ...
    monkeypatch.setattr(reconcile, "sync", _broken_sync)
    with pytest.raises(AssertionError, match="no-lost-writes: violation"):
        prop()  # ... the broken one is caught


@pytest.mark.heavy
def test_a_broken_vector_clock_merge_in_dynamo_shrinks_to_no_faults_at_all(monkeypatch):
    from hypothesis import find

    from minisys.dynamo import reconcile

    monkeypatch.setattr(reconcile, "sync", _broken_sync)
    schedule = find(fault_schedules(NODES, kinds=("partition", "crash", "heal"), max_faults=3, horizon=0.3),
                    lambda sched: _run(5, sched, ops=8).result("no-lost-writes").valid is False,
                    settings=settings(max_examples=20, deadline=None, database=None, derandomize=True))
    assert schedule == ()  # concurrent writes alone expose it


class DynamoMachine(StoreMachine):
    nodes = NODES
    fault_kinds = ("partition", "crash", "restart", "heal")

    def make_target(self, seed):
        return DynamoSimTarget(seed=seed)


DynamoMachine.TestCase.settings = settings(max_examples=5, stateful_step_count=20, deadline=None, database=None)
TestDynamoStateMachine = DynamoMachine.TestCase


def test_dynamo_processes_keep_acknowledged_writes_through_real_sigkill():
    from minisys.consistency.adapters.dynamo_http import DynamoHttpStore
    from minisys.consistency.runner import run_threads

    store = DynamoHttpStore()
    # However fast the HTTP path is, each client goes on until it has started
    # 10 operations after the first node was SIGKILLed and restarted (bounded by
    # an operation count, not a time limit).
    r = run_threads(store, workload("register", store.functions, keys=2), seed=1, processes=4, ops_per_process=40,
                    ops_after_fault=10, max_ops_per_process=4000)
    assert store.killed, "the nemesis must have SIGKILLed a node"
    assert store.restarted, "... and restarted it"
    restarted_at = store.restarted[0][1]
    after = [op for op in r.history.operations() if not op.final and op.call > restarted_at]
    assert len(after) >= 4 * 10, "clients kept working against the restarted node's cluster"
    assert r.result("no-lost-writes").valid is True, r.result("no-lost-writes").explain()
    assert r.result("final-reads-agree").valid is True, r.result("final-reads-agree").explain()
    assert store.cluster is None  # every node process was stopped


def test_check_run_against_dynamo_sim_writes_a_report(tmp_path):
    from minisys.cli import main

    out = tmp_path / "o"
    code = main(["check", "run", "--target", "dynamo-sim", "--seed", "1", "--examples", "2", "--processes", "3",
                 "--ops", "8", "--checks", "no-lost-writes,convergence", "--out", str(out)])
    assert code == 0
    assert "| no-lost-writes | ok |" in (out / "report.md").read_text()


def test_the_dynamo_adapter_settles_with_anti_entropy_off():
    """Then only hints (and read repair) converge: quiesce waits the hint
    delivery bound instead of an infinite one, and the run completes."""
    r = _run(3, (), ops=4, anti_entropy_interval=0)
    assert r.result("no-lost-writes").valid is True, r.result("no-lost-writes").explain()
