"""A Hypothesis ``RuleBasedStateMachine`` base for simulated KV stores.

Hypothesis's stateful testing (the QuickCheck state-machine idea Basho used
for Riak's ``ec_eqc``) generates a *program*: a sequence of rules. Here the
rules are the client operations (each started on the simulator, so several
are in flight at once), the passage of virtual time, and faults from
:mod:`~minisys.consistency.strategies`. Every step is recorded in a
history; at teardown the harness heals, restarts and waits for quiescence,
makes final reads through every replica, and runs the checkers. A failing
program is shrunk by Hypothesis to a minimal one — fewest operations,
fewest faults — and, being seeded, replays exactly.

Subclass it::

    class MyStoreMachine(StoreMachine):
        nodes = ("n1", "n2", "n3")
        required = ("no-lost-writes", "convergence")
        def make_target(self, seed):
            return MySimTarget(seed)

    TestMyStore = MyStoreMachine.TestCase
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from minisys.consistency.adapters.base import SimTarget
from minisys.consistency.history import Recorder
from minisys.consistency.result import CheckResult
from minisys.consistency.runner import _sim_op
from minisys.consistency.strategies import KINDS, apply_fault, recover
from minisys.consistency.workloads import Workload, check


class StoreMachine(RuleBasedStateMachine):
    #: Node ids faults may name (must match the target's).
    nodes: tuple[str, ...] = ()
    #: Client processes (at most 3) and the keys the generated programs use.
    processes = 3
    keys: tuple[str, ...] = ("k0", "k1")
    #: Fault kinds to generate (see strategies.KINDS).
    fault_kinds: tuple[str, ...] = KINDS
    #: Checkers that must hold at teardown (by CheckResult.checker name).
    required: tuple[str, ...] = ("no-lost-writes", "convergence")
    #: The last run's results and how many operations it started (after a
    #: failure, Hypothesis replays the shrunk program last).
    last_results: list[CheckResult] = []
    last_operations = 0

    def make_target(self, seed: int) -> SimTarget:  # pragma: no cover - abstract
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.target: SimTarget | None = None
        self.tasks: dict[int, asyncio.Task[Any]] = {}
        self.values = 0
        self.started = 0

    @initialize(seed=st.integers(0, 2**16))
    def start(self, seed: int) -> None:
        self.seed = seed
        self.target = self.make_target(seed)
        net = self.target.net
        self.recorder = Recorder(clock=lambda: net.now)

    def _idle(self, process: int) -> bool:
        task = self.tasks.get(process)
        return task is None or task.done()

    @precondition(lambda self: self.target is not None)
    @rule(process=st.integers(0, 2), key=st.sampled_from(("k0", "k1")), write=st.booleans())
    def operate(self, process: int, key: str, write: bool) -> None:
        """Start one client operation; it runs concurrently with later steps."""
        assert self.target is not None
        process %= self.processes
        if not self._idle(process):
            return
        self.values += 1
        self.started += 1
        f, value = ("write", self.values) if write else ("read", None)
        self.tasks[process] = self.target.net.spawn(_sim_op(self.target, self.recorder, process, f, key, value))

    @precondition(lambda self: self.target is not None)
    @rule(seconds=st.sampled_from((0.001, 0.005, 0.02, 0.1)))
    def wait(self, seconds: float) -> None:
        assert self.target is not None
        self.target.net.run_for(seconds)

    @precondition(lambda self: self.target is not None)
    @rule(data=st.data())
    def fault(self, data: st.DataObject) -> None:
        from minisys.consistency.strategies import faults

        assert self.target is not None
        apply_fault(self.target.net, data.draw(faults(self.nodes, self.fault_kinds)),
                    base_latency=self.target.base_latency)

    def finish(self) -> list[CheckResult]:
        """Jepsen's final phase, then every checker for a register workload."""
        assert self.target is not None
        target, net = self.target, self.target.net
        pending = [t for t in self.tasks.values() if not t.done()]

        async def drain() -> None:
            await asyncio.gather(*pending)

        net.run(drain())
        recover(net, target.nodes, base_latency=target.base_latency)
        target.quiesce()

        async def final() -> None:
            for key in self.keys:
                for i, node in enumerate(target.nodes):
                    await _sim_op(target, self.recorder, 100 + i, "read", key, None, final=True, node=node)

        net.run(final())
        replicas = target.replica_states(self.keys)
        workload = Workload("register", self.keys, ("read", "write"))
        ops = self.recorder.history().operations()
        return check(workload, ops, siblings=target.siblings, replicas=replicas)

    def teardown(self) -> None:
        if self.target is None:
            return
        try:
            results = self.finish()
        finally:
            self.target.close()
        type(self).last_results = results
        type(self).last_operations = self.started
        broken = [r for r in results if r.checker in self.required and r.valid is False]
        if broken:
            raise AssertionError(f"seed {self.seed}: " + "\n".join(r.explain() for r in broken))
