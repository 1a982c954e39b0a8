"""The acceptance's safety properties, on the simulated network with fixed seeds.

* read-your-writes under strict-quorum conditions (all nodes up, R+W>N);
* convergence: after partitions heal and anti-entropy runs, all N replicas of
  every key hold identical siblings;
* no acknowledged write is lost under crashes and partitions (Riak's
  ``ec_eqc`` rule: an ok put adds its value to *must*; a value some put read
  -- acknowledged or not, since a failed put may have taken effect -- may be
  superseded; at the end every acknowledged, never-read value is present);
* last-write-wins mode loses writes in the same workload (the negative control).
"""

from __future__ import annotations

import asyncio
import random

import pytest

from minisys.dynamo import SimCluster
from minisys.dynamo.client import DynamoUnavailableError
from minisys.dynamo.context import Context
from minisys.net import LogNormal, NetError

KEYS = ("cart", "session", "profile")


class History:
    def __init__(self) -> None:
        self.ok: dict[str, set[bytes]] = {k: set() for k in KEYS}
        self.read: dict[str, set[bytes]] = {k: set() for k in KEYS}  # read by a later put: may be superseded
        self.acked = 0

    def must(self, key: str) -> set[bytes]:
        # Set arithmetic at the end, not as puts finish: a put can read a value before that
        # value's own put has returned to its client.
        return self.ok[key] - self.read[key]


async def client_loop(c: SimCluster, name: str, rng: random.Random, hist: History, until: float) -> None:
    client = c.client(name, timeout=3.0)
    i = 0
    while c.now < until:
        key = rng.choice(KEYS)
        value = f"{name}-{i}".encode()
        i += 1
        read: list[bytes] = []
        context = ""
        if rng.random() < 0.7:  # read-modify-write; otherwise a blind write
            try:
                got = await client.get(key)
                read, context = got.values, got.context
            except (DynamoUnavailableError, NetError, TimeoutError):
                pass
        hist.read[key].update(read)  # whether or not the put succeeds, it may supersede these
        try:
            await client.put(key, value, context)
        except (DynamoUnavailableError, NetError, TimeoutError):
            pass  # indefinite: may or may not be present
        else:
            hist.acked += 1
            hist.ok[key].add(value)
        await asyncio.sleep(rng.uniform(0.0, 0.05))


async def nemesis(c: SimCluster, rng: random.Random, until: float) -> None:
    """Crash/restart nodes and cut partitions at random, never more than two nodes down."""
    down: list[str] = []
    while c.now < until:
        await asyncio.sleep(rng.uniform(0.2, 0.8))
        roll = rng.random()
        if roll < 0.3 and len(down) < 2:
            victim = rng.choice([n for n in c.node_ids if n not in down])
            c.crash(victim)
            down.append(victim)
        elif roll < 0.5 and down:
            c.restart(down.pop(0))
        elif roll < 0.7:
            side = rng.sample(c.node_ids, rng.randint(1, 2))
            c.partition(side, [n for n in c.node_ids if n not in side])
        else:
            c.heal()
    c.heal()
    for n in down:
        c.restart(n)


def run_workload(seed: int, mode: str = "vv", faults: bool = True) -> tuple[SimCluster, History, dict[str, list[bytes]]]:
    rng = random.Random(seed)
    c = SimCluster(nodes=5, n=3, r=2, w=2, seed=seed, mode=mode, latency=LogNormal(0.002, 0.8, cap=0.2),
                   anti_entropy_interval=0.5, handoff_interval=0.5, trace=False)
    hist = History()

    async def main() -> None:
        until = c.now + 8.0
        jobs = [client_loop(c, f"c{i}", random.Random(rng.random()), hist, until) for i in range(4)]
        if faults:
            jobs.append(nemesis(c, random.Random(rng.random()), until))
        await asyncio.gather(*jobs)

    c.run(main())
    c.converge(max_rounds=120)
    final = {k: c.get(k, client="final").values for k in KEYS}
    return c, hist, final


def lost_writes(hist: History, final: dict[str, list[bytes]]) -> dict[str, set[bytes]]:
    return {k: hist.must(k) - set(final[k]) for k in KEYS if hist.must(k) - set(final[k])}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_no_acknowledged_write_is_lost_under_crashes_and_partitions(seed):
    c, hist, final = run_workload(seed)
    try:
        assert hist.acked > 50
        assert lost_writes(hist, final) == {}
    finally:
        c.close()


@pytest.mark.parametrize("seed", [1, 2])
def test_after_partitions_heal_and_anti_entropy_runs_all_replicas_hold_identical_siblings(seed):
    c, _, _ = run_workload(seed)
    try:
        assert c.replicas_agree()
        for key in KEYS:  # and any coordinator returns the same siblings
            answers = {tuple(sorted(c.run(c.client(f"via-{n}", nodes=[n]).get(key)).values)) for n in c.node_ids}
            assert len(answers) == 1
    finally:
        c.close()


def test_lww_mode_loses_acknowledged_writes_in_the_same_workload():
    # The negative control: the very check above must FAIL when the store is last-write-wins.
    lost = 0
    for seed in (1, 2):
        c, hist, final = run_workload(seed, mode="lww", faults=False)
        lost += sum(len(v) for v in lost_writes(hist, final).values())
        c.close()
    assert lost > 0


@pytest.mark.parametrize("seed", [5, 6])
def test_with_all_nodes_up_and_r_plus_w_above_n_a_get_after_an_acked_put_sees_it_or_a_descendant(seed):
    rng = random.Random(seed)
    with SimCluster(nodes=5, n=3, r=2, w=2, seed=seed, latency=LogNormal(0.002, 1.0, cap=0.3),
                    trace=False) as c:
        violations: list[str] = []
        checked = [0]

        async def writer_reader(name: str, r: random.Random) -> None:
            me, other = c.client(name), c.client(name + "-reader")
            for i in range(40):
                key = r.choice(KEYS)
                put = await me.put(key, f"{name}-{i}".encode())
                got = await other.get(key)  # a different client, any coordinator, started after the ack
                checked[0] += 1
                if not Context.decode(got.context).clock.descends(Context.decode(put.context).clock):
                    violations.append(f"{key}: {name}-{i}")

        async def main() -> None:
            await asyncio.gather(*(writer_reader(f"w{i}", random.Random(rng.random())) for i in range(3)))

        c.run(main())
        assert checked[0] == 120 and violations == []


@pytest.mark.parametrize("strategy", [1, 3])
def test_no_acknowledged_write_is_lost_while_nodes_join_and_leave(strategy):
    from minisys.dynamo.transfer import leave

    rng = random.Random(11)
    c = SimCluster(nodes=5, seed=11, strategy=strategy, latency=LogNormal(0.002, 0.8, cap=0.2),
                   anti_entropy_interval=0.5, handoff_interval=0.5, trace=False)
    hist = History()

    async def churn() -> None:
        await asyncio.sleep(2)
        c.add_node("n5", seeds=["n0"])  # join: tokens stolen or drawn, ranges offered and transferred
        await asyncio.sleep(3)
        await leave(c.node("n1"))       # leave: ranges handed over, then announced
        c.crash("n1")

    async def main() -> None:
        until = c.now + 8.0
        clients = [client_loop(c, f"c{i}", random.Random(rng.random()), hist, until) for i in range(4)]
        await asyncio.gather(*clients, churn())

    try:
        c.run(main())
        c.converge(max_rounds=120)
        final = {k: c.get(k, client="final").values for k in KEYS}
        assert hist.acked > 100 and lost_writes(hist, final) == {}
        assert c.replicas_agree()
    finally:
        c.close()
