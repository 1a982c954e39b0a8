"""Run a generated test: clients, a nemesis, a final phase, then the checkers.

The shape is Jepsen's (and Maelstrom's): several client processes issue
operations one at a time and the harness records each invoke and
completion; a nemesis injects faults on a schedule; then the final
generator heals everything, waits for recovery, and makes final reads —
through every replica, so convergence can be judged — before the history
goes to the checkers.

On a :class:`~minisys.consistency.adapters.base.SimTarget` all of it runs in
virtual time from one seed: the same ``(seed, schedule)`` gives the same
history, byte for byte. On a real store each process is a thread with its
own connection and the clock is ``time.monotonic``.
"""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from minisys.consistency.adapters.base import Failed, Indefinite, SimTarget, SyncStore
from minisys.consistency.history import History, Recorder
from minisys.consistency.result import CheckResult, combine
from minisys.consistency.strategies import Schedule, apply_fault, recover
from minisys.consistency.workloads import Workload, check

#: Virtual seconds a simulated client waits between two of its operations.
THINK_TIME = 0.005


@dataclass
class RunResult:
    target: str
    workload: str
    seed: int
    history: History
    results: list[CheckResult]
    schedule: Schedule = ()
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> CheckResult:
        return combine("all", self.results)

    def result(self, checker: str) -> CheckResult:
        for r in self.results:
            if r.checker == checker:
                return r
        raise KeyError(checker)


# --- simulated targets ------------------------------------------------------------


async def _sim_op(target: SimTarget, rec: Recorder, process: int, f: str, key: str, value: Any,
                  final: bool = False, node: str | None = None) -> None:
    ctx = target.context(process, key) if f == "write" else None
    inv = rec.invoke(process, f, key, value, context=ctx, final=final, node=node)
    try:
        if f == "read":
            got = await (target.read_at(node, key) if node else target.read(process, key))
            rec.complete(inv, "ok", got, node=node)
            return
        if f == "write":
            await target.write(process, key, value)
        else:
            await getattr(target, f)(process, key, value)
        rec.complete(inv, "ok")
    except Failed:
        rec.complete(inv, "fail")
    except Indefinite:
        rec.complete(inv, "info")
    except Exception:  # an adapter bug: never claim "did not happen"
        rec.complete(inv, "info")


def run_sim(target: SimTarget, workload: Workload, *, seed: int, processes: int = 5,
            ops_per_process: int = 20, schedule: Schedule = (), check_timeout: float = 30.0) -> RunResult:
    """One seeded run on the simulator; deterministic in ``(seed, schedule)``."""
    net = target.net
    rec = Recorder(clock=lambda: net.now)
    rngs = [random.Random(f"{seed}/process/{p}") for p in range(processes)]

    async def client(p: int) -> None:
        for _ in range(ops_per_process):
            f, key, value = workload.next_op(rngs[p])
            if f not in target.functions:
                f = "write"
            await _sim_op(target, rec, p, f, key, value)
            await asyncio.sleep(THINK_TIME * (0.5 + rngs[p].random()))

    async def nemesis() -> None:
        for at, fault in schedule:
            if at > net.now:
                await asyncio.sleep(at - net.now)
            apply_fault(net, fault, base_latency=target.base_latency)

    async def main() -> None:
        nem = asyncio.ensure_future(nemesis())
        await asyncio.gather(*(client(p) for p in range(processes)))
        await nem

    try:
        net.run(main())
        recover(net, target.nodes, base_latency=target.base_latency)
        target.quiesce()

        async def final() -> None:
            for key in workload.final_keys():
                for i, node in enumerate(target.nodes):
                    await _sim_op(target, rec, processes + i, "read", key, None, final=True, node=node)

        net.run(final())
        replicas = target.replica_states(workload.final_keys())
    finally:
        target.close()
    ops = rec.history().operations()
    results = check(workload, ops, siblings=target.siblings, replicas=replicas, timeout=check_timeout)
    return RunResult(target.name, workload.name, seed, rec.history(), results, schedule)


# --- real stores ---------------------------------------------------------------------


def _sync_op(client: Any, rec: Recorder, process: int, f: str, key: str, value: Any, final: bool = False,
             node: str | None = None) -> None:
    ctx = client.context(key) if f == "write" and hasattr(client, "context") else None
    inv = rec.invoke(process, f, key, value, final=final, context=ctx, node=node)
    try:
        if f == "read":
            rec.complete(inv, "ok", client.read(key), node=node)
            return
        if f == "cas":
            client.cas(key, value[0], value[1])
        else:
            getattr(client, f)(key, value)
        rec.complete(inv, "ok")
    except Failed:
        rec.complete(inv, "fail")
    except Indefinite:
        rec.complete(inv, "info")
    except Exception:
        rec.complete(inv, "info")


def run_threads(store: SyncStore, workload: Workload, *, seed: int, processes: int = 5,
                ops_per_process: int = 50, check_timeout: float = 30.0, ops_after_fault: int = 0,
                max_ops_per_process: int | None = None) -> RunResult:
    """One run against a real store: a thread and a connection per process.

    With ``ops_after_fault`` each process goes on past ``ops_per_process``
    until it has *started* that many operations after the store's nemesis
    completed its first fault (``store.faults_completed() >= 1``: for a real
    store, a node killed and restarted), and at most ``max_ops_per_process``
    (default ten times ``ops_per_process``). The run is bounded by an
    operation count, never by wall time: on a fast store the clients could
    otherwise be done before the nemesis' first kill, and the run would show
    nothing about faults.
    """
    rec = Recorder()
    store.open()
    errors: list[BaseException] = []
    try:
        clients = [store.client(p) for p in range(processes)]
        barrier = threading.Barrier(processes)
        limit = max(ops_per_process, max_ops_per_process or 10 * ops_per_process)
        completed = getattr(store, "faults_completed", None)

        def faulted() -> bool:
            return completed is not None and completed() >= 1

        def body(p: int) -> None:
            rng = random.Random(f"{seed}/process/{p}")
            done = after = 0
            try:
                barrier.wait()
                while done < limit and (done < ops_per_process or after < ops_after_fault):
                    if ops_after_fault and faulted():
                        after += 1
                    done += 1
                    f, key, value = workload.next_op(rng)
                    if f not in store.functions:
                        f = "write"
                    _sync_op(clients[p], rec, p, f, key, value)
            except BaseException as exc:  # pragma: no cover - surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=body, args=(p,), name=f"consistency-p{p}") for p in range(processes)]
        stop = threading.Event()
        nemesis = getattr(store, "nemesis", None)
        nem = threading.Thread(target=nemesis, args=(random.Random(f"{seed}/nemesis"), stop), name="nemesis") if nemesis else None
        for t in threads + ([nem] if nem else []):
            t.start()
        for t in threads:
            t.join()
        stop.set()
        if nem:
            nem.join()
        if errors:
            raise errors[0]
        if hasattr(store, "settle"):
            store.settle()
        finals = store.final_clients() if hasattr(store, "final_clients") else {None: clients[0]}
        for key in workload.final_keys():
            for i, (node, c) in enumerate(finals.items()):
                _sync_op(c, rec, processes + i, "read", key, None, final=True, node=node)
        for c in clients + [c for c in finals.values() if c not in clients]:
            c.close()
    finally:
        store.close()
    ops = rec.history().operations()
    results = check(workload, ops, siblings=store.siblings, timeout=check_timeout)
    return RunResult(store.name, workload.name, seed, rec.history(), results)


def run(target: SimTarget | SyncStore, workload: Workload, *, seed: int, **kw: Any) -> RunResult:
    if isinstance(target, SimTarget):
        return run_sim(target, workload, seed=seed, **kw)
    kw.pop("schedule", None)
    return run_threads(target, workload, seed=seed, **kw)
