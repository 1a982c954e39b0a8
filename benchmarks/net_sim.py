"""How fast does the simulated network move messages, next to real HTTP on loopback?

The simulator is only useful if a thousand nodes and minutes of simulated time
run in seconds, so its figure is *simulated messages per wall-clock second*
with 1,000 nodes, against a target of 100,000. Following the project rule
(DESIGN, "Performance stance"), it is printed next to a real figure from the
same run: the very same node class over HttpNetwork on loopback, and the ratio.

Two workloads, both with random latency so messages reorder:

* ``rpc``: every node keeps one request/response call in flight to a random
  peer (a call and its reply are two messages), like quorum reads;
* ``gossip``: one-way hot-potato tokens forwarded to random peers.

    python benchmarks/net_sim.py --nodes 1000 --messages 300000
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import resource
import sys
import time
import tracemalloc
from functools import partial

from minisys.net import HttpNetwork, Node, SimNetwork, handler, message
from minisys.net.transport import Transport

TARGET = 100_000  # simulated messages per wall-second with 1,000 nodes


@message(name="bench.Ping")
class Ping:
    n: int


@message(name="bench.Pong")
class Pong:
    n: int


@message(name="bench.Token")
class Token:
    hops: int


class Chatter(Node):
    """Keeps ``inflight`` calls going to random peers; forwards tokens it is handed."""

    def __init__(self, transport: Transport, inflight: int = 1, calls: int | None = None) -> None:
        super().__init__(transport)
        self.inflight = inflight
        self.calls = calls  # None: forever
        self.done = 0

    async def start(self) -> None:
        for _ in range(self.inflight):
            self.spawn(self.keep_calling())

    async def keep_calling(self) -> None:
        peers = self.peers()
        n = 0
        while self.calls is None or n < self.calls:
            await self.call(self.random.choice(peers), Ping(n))
            n += 1
            self.done += 1

    @handler
    async def on_ping(self, msg: Ping, sender: str) -> Pong:
        return Pong(msg.n)

    @handler
    async def on_token(self, msg: Token, sender: str) -> None:
        self.send(self.random.choice(self.peers()), Token(msg.hops + 1))


def run_sim(workload: str, nodes: int, messages: int, seed: int, trace: bool, check: bool) -> dict:
    net = SimNetwork(seed=seed, trace=trace, check_messages=check)
    inflight = 1 if workload == "rpc" else 0
    for i in range(nodes):
        net.add_node(f"n{i}", partial(Chatter, inflight=inflight))
    if workload == "gossip":
        starter = net.add_client("starter")
        for i in range(nodes):
            starter.send(f"n{i}", Token(0))

    async def until_sent() -> None:
        while net.stats()["sent"] < messages:
            await asyncio.sleep(0.005)

    t0 = time.perf_counter()
    net.run(until_sent())
    wall = time.perf_counter() - t0
    sent = net.stats()["sent"]
    out = {"sent": sent, "wall": wall, "rate": sent / wall, "virtual": net.now,
           "trace_events": len(net.trace), "failures": len(net.failures)}
    net.close()
    return out


async def run_http(nodes: int, calls: int, inflight: int) -> dict:
    per_loop = max(1, calls // (nodes * inflight))
    async with HttpNetwork(seed=1) as net:
        members = []
        for i in range(nodes):
            members.append(await net.add_node(f"h{i}", partial(Chatter, inflight=0)))
        # Warm-up: open the pooled connections before timing.
        for a in members:
            for b in net.directory:
                await a.call(b, Ping(-1))
        for m in members:
            assert isinstance(m, Chatter)
            m.calls = per_loop
        t0 = time.perf_counter()
        await asyncio.gather(*(m.keep_calling() for m in members for _ in range(inflight)))
        wall = time.perf_counter() - t0
    done = nodes * inflight * per_loop
    return {"calls": done, "sent": 2 * done, "wall": wall, "rate": 2 * done / wall}


def measure_memory(workload: str, nodes: int, messages: int, seed: int, trace: bool, check: bool) -> int:
    tracemalloc.start()
    run_sim(workload, nodes, messages, seed, trace, check)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--messages", type=int, default=300_000, help="simulated messages per workload")
    p.add_argument("--workload", choices=["rpc", "gossip", "both"], default="both")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--trace", action="store_true", help="record the message trace (default off)")
    p.add_argument("--no-check", action="store_true",
                   help="do not round-trip messages through msgpack (check_messages=False)")
    p.add_argument("--http-nodes", type=int, default=4)
    p.add_argument("--http-calls", type=int, default=4000, help="total RPCs over loopback HTTP")
    p.add_argument("--http-inflight", type=int, default=4, help="concurrent calls per HTTP node")
    p.add_argument("--no-tracemalloc", action="store_true", help="skip the tracemalloc pass")
    a = p.parse_args()
    check = not a.no_check

    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{a.nodes} simulated nodes, trace={'on' if a.trace else 'off'}, "
          f"check_messages={'on' if check else 'off'}")
    workloads = ["rpc", "gossip"] if a.workload == "both" else [a.workload]
    sim = {}
    for w in workloads:
        r = sim[w] = run_sim(w, a.nodes, a.messages, a.seed, a.trace, check)
        verdict = "meets" if r["rate"] >= TARGET else "BELOW"
        print(f"sim  {w:6s}: {r['sent']:>9,} msgs in {r['wall']:6.2f} s wall "
              f"({r['virtual']:.2f} s virtual) = {r['rate']:>9,.0f} msg/s  "
              f"[target {TARGET:,} msg/s: {verdict}]")
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS (ru_maxrss) after sim runs: {maxrss_kb / 1024:.1f} MiB")

    # The event loop real nodes run on: uvloop when installed.
    from minisys.net.loop import fast_loop_name
    from minisys.net.loop import run as run_loop

    http = run_loop(run_http(a.http_nodes, a.http_calls, a.http_inflight))
    print(f"http rpc   : {http['sent']:>9,} msgs in {http['wall']:6.2f} s wall "
          f"= {http['rate']:>9,.0f} msg/s  ({a.http_nodes} HTTP nodes on loopback, {fast_loop_name()}, "
          f"{a.http_inflight} calls in flight each, msgpack)")
    if "rpc" in sim:
        print(f"ratio sim/http (rpc, msg/s): {sim['rpc']['rate'] / http['rate']:.1f}x")

    if not a.no_tracemalloc:
        w = workloads[0]
        peak = measure_memory(w, a.nodes, a.messages, a.seed, a.trace, check)
        print(f"tracemalloc peak, sim {w} ({a.nodes} nodes, {a.messages:,} msgs): "
              f"{peak / 2**20:.1f} MiB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
