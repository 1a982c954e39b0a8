"""Benchmark: 1,000 simulated Dynamo nodes serving 1,000,000 requests (target <= 60 wall seconds).

    python benchmarks/dynamo_sim.py [--nodes 1000] [--requests 1000000] [--clients 100]

Runs the real DynamoNode code on SimNetwork (no trace, no message round-trip
checks, background gossip/anti-entropy/handoff off so the figure is the
request path; the in-memory engine unless ``--engine durable``): N=3 R=2
W=2, strategy 3 with Q = 4 x nodes, ``--clients`` concurrent clients using
client-driven routing over 100,000 keys. The mix is 50/50 get/put as
read-modify-write (each client gets a key, then puts it with that context,
§4.4), so siblings come only from truly concurrent writes; ``--workload
random`` is the blind-write mix (random gets and puts, a put carrying the
client's last context for the key, mostly none), under which siblings pile
up and every request carries more versions.
Python's cyclic garbage collector is off during the timed loop (``--gc``
keeps it on; the run reports how many cyclic objects it would have found).
Prints simulated requests per wall second, the wall and CPU time (on a
shared machine the two differ by what other processes took), the simulated
messages, and peak memory (RSS).

There is no "real system" to put next to a simulator, so the figure printed
beside Dynamo's, from the same run, is the simulator's own floor: the same
request shape -- a client task awaits a call to a coordinator, which fans out
to two other nodes by callback and answers after one reply (R=2 with its own
copy), six messages, the same nodes, clients, latency and settings -- with
handlers that do nothing else. The ratio says how much of each request is
Dynamo's own work (ring, sloppy quorum, vector clocks, siblings, contexts,
read repair) and how much is the price of simulating six messages at all.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import resource
import time
from typing import Any

from minisys.net import Node, SimNetwork, Uniform, handler, message


@message(name="bench.FloorGet")
class FloorGet:
    key: str
    replica: bool = False  # False: a client's request to the coordinator; True: the coordinator's to a replica


class FloorNode(Node):
    """Dynamo's message pattern and nothing else: fan out to two, answer after one reply."""

    @handler(inline=True)
    async def on_get(self, msg: FloorGet, sender: str) -> FloorGet:
        if msg.replica:
            return msg
        peers = self.peers()
        i = self.random.randrange(len(peers))  # the node's seeded RNG: the same run every time
        wakeup = self.transport.loop.create_future()

        def arrive(reply: Any, error: BaseException | None) -> None:
            if not wakeup.done():
                wakeup.set_result(reply)

        request = FloorGet(msg.key, True)
        self.call_then(peers[i], request, arrive, 0.5)
        self.call_then(peers[i - 1], request, arrive, 0.5)
        return await wakeup


def floor(nodes: int, requests: int, clients: int, seed: int) -> dict[str, float]:
    """The simulator alone on Dynamo's request shape (see the module docstring)."""
    net = SimNetwork(seed, latency=Uniform(0.001, 0.002), trace=False, check_messages=False)
    for i in range(nodes):
        net.add_node(f"n{i}", FloorNode)
    per_client = requests // clients

    async def client(i: int) -> None:
        me = net.add_client(f"c{i}")
        rng = random.Random(i)
        for _ in range(per_client):
            await me.call(f"n{rng.randrange(nodes)}", FloorGet(f"k{rng.randrange(100_000)}"))

    async def main() -> None:
        await asyncio.gather(*(client(i) for i in range(clients)))

    gc.collect()
    gc.disable()
    t0, cpu0 = time.perf_counter(), time.process_time()
    net.run(main())
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    gc.enable()
    sent = net.stats()["sent"]
    net.close()
    return {"wall_s": wall, "cpu_s": cpu, "requests": per_client * clients, "messages": sent}


def run(nodes: int, requests: int, clients: int, seed: int, engine: str = "memory",
        collect: bool = False, workload: str = "rmw") -> dict[str, float]:
    from minisys.dynamo import SimCluster

    t_build = time.perf_counter()
    c = SimCluster(nodes=nodes, n=3, r=2, w=2, seed=seed, latency=Uniform(0.001, 0.002), trace=False,
                   check_messages=False, partitions=4 * nodes, gossip_interval=0, anti_entropy_interval=0,
                   handoff_interval=0, engine=engine)
    build_s = time.perf_counter() - t_build
    # The cluster and the data it stores live for the whole run, and the
    # request path makes no reference cycles, so the cyclic collector would
    # only rescan an ever larger heap (a quarter of the wall time at 150,000
    # requests, growing with the run). It is off during the timed loop unless
    # --gc; afterwards gc.collect() reports what it would have reclaimed.
    gc.collect()
    gc.freeze()
    if not collect:
        gc.disable()
    per_client = requests // clients
    done = [0]

    async def client(i: int) -> None:
        cl = c.client(f"c{i}", routing="client")
        rng = random.Random(i)
        if workload == "rmw":
            # Read-modify-write (§4.4: an update names the version it
            # updates, with the context of an earlier read): get a key, then
            # put it with that get's context, routed to the get's fastest
            # replier (§6.1). Siblings arise only from truly concurrent writes.
            for _ in range(per_client // 2):
                key = f"k{rng.randrange(100_000)}"
                got = await cl.get(key)
                await cl.put(key, b"v", got.context)
                done[0] += 2
            return
        ctx: dict[str, str] = {}  # "random": 50/50 on random keys, a put with this client's last context
        for _ in range(per_client):
            key = f"k{rng.randrange(100_000)}"
            if rng.random() < 0.5:
                ctx[key] = (await cl.get(key)).context
            else:
                ctx[key] = (await cl.put(key, b"v", ctx.get(key, ""))).context
            done[0] += 1

    async def main() -> None:
        await asyncio.gather(*(client(i) for i in range(clients)))

    t0, cpu0 = time.perf_counter(), time.process_time()
    c.run(main())
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    stats = c.net.stats()
    gc.enable()
    cyclic = gc.collect()
    c.close()
    gc.unfreeze()
    return {"build_s": build_s, "wall_s": wall, "cpu_s": cpu, "requests": done[0], "messages": stats["sent"],
            "cyclic": cyclic}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--engine", default="memory", choices=("memory", "durable"),
                    help="memory: no simulated-disk writes (default); durable: every write to the simulated disk")
    ap.add_argument("--workload", default="rmw", choices=("rmw", "random"),
                    help="rmw: each client gets a key then puts it with that context (default); random: "
                         "50/50 get/put on random keys, a put carrying the client's last context for the key "
                         "(mostly none: blind writes, so siblings pile up)")
    ap.add_argument("--floor-requests", type=int, default=200_000,
                    help="requests for the simulator-floor comparison (0 skips it)")
    ap.add_argument("--gc", action="store_true", help="keep Python's cyclic garbage collector on during the run")
    args = ap.parse_args()
    res = run(args.nodes, args.requests, args.clients, args.seed, args.engine, collect=args.gc, workload=args.workload)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = res["requests"] / res["wall_s"]
    msg_rate = res["messages"] / res["wall_s"]
    print(f"dynamo_sim: {args.nodes} nodes, {res['requests']:,} requests (N=3 R=2 W=2, 50/50 get/put, "
          f"{args.engine} engine)")
    print(f"  cluster build        {res['build_s']:.1f} s")
    print(f"  wall time            {res['wall_s']:.1f} s   (target <= 60 s for 1,000,000 requests)")
    print(f"  CPU time             {res['cpu_s']:.1f} s   ({res['requests'] / res['cpu_s']:,.0f} requests / CPU-s; "
          "wall minus CPU is time other processes had this core)")
    print(f"  requests / wall-s    {rate:,.0f}")
    print(f"  messages / wall-s    {msg_rate:,.0f}   ({res['messages']:,} messages, "
          f"{res['messages'] / max(1, res['requests']):.1f} per request)")
    us = res["cpu_s"] / max(1, res["requests"]) * 1e6
    if args.floor_requests:
        fl = floor(args.nodes, args.floor_requests, args.clients, args.seed)
        fus = fl["cpu_s"] / max(1, fl["requests"]) * 1e6
        print(f"  simulator floor      {fus:.1f} CPU-us / request ({fl['requests']:,} requests, "
              f"{fl['messages'] / max(1, fl['requests']):.1f} messages each, handlers that do nothing else)")
        print(f"  Dynamo               {us:.1f} CPU-us / request = {us / fus:.2f}x the floor; "
              f"Dynamo's own work {us - fus:.1f} us / request")
        print(f"  floor at {args.requests:,} requests: {fus * args.requests / 1e6:.1f} CPU-s "
              f"(the part of the {res['cpu_s']:.1f} s that simulating the messages costs)")
    print(f"  peak memory          RSS {rss:.0f} MiB (tracemalloc is off: it would slow the run 2-4x)")
    print(f"  cyclic GC            {'on' if args.gc else 'off during the run (--gc: on)'}; "
          f"{res['cyclic']:,} cyclic objects collected after it")


if __name__ == "__main__":
    main()
