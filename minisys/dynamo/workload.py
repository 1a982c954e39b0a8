"""Workloads shared by the Dynamo scenarios and benchmarks (so each is written once).

* :func:`sim_shopping` -- concurrent shopping-cart clients on a
  :class:`~minisys.dynamo.cluster.SimCluster`: reads, read-modify-write puts,
  latencies in virtual time and the number of versions each get saw (§6.1, §6.3).
* :func:`strategy_efficiency` -- §6.2's load-balancing efficiency of a ring.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

from minisys.dynamo.client import DynamoUnavailableError
from minisys.dynamo.reconcile import cart_union
from minisys.net import LogNormal, NetError


@dataclass
class SimResult:
    get_ms: list[float] = field(default_factory=list)
    put_ms: list[float] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    failed: int = 0
    messages: int = 0


def zipf_keys(count: int, rng: random.Random, s: float = 0.8) -> tuple[list[str], list[float]]:
    keys = [f"cart-{i}" for i in range(count)]
    weights = [1.0 / (i + 1) ** s for i in range(count)]
    return keys, weights


def sim_shopping(*, requests: int, nodes: int = 10, n: int = 3, r: int = 2, w: int = 2, clients: int = 8,
                 keys: int = 10_000, routing: str = "server", seed: int = 0, latency: Any = None,
                 think: float = 0.01, **config: Any) -> SimResult:
    """``clients`` concurrent shoppers; half the requests are gets, half read-modify-write puts."""
    from minisys.dynamo.cluster import SimCluster

    rng = random.Random(seed)
    names, weights = zipf_keys(keys, rng)
    result = SimResult()
    latency = latency or LogNormal(0.001, 0.7, cap=0.5)
    per_client = max(1, requests // clients)
    with SimCluster(nodes=nodes, n=n, r=r, w=w, seed=seed, latency=latency, trace=False,
                    check_messages=False, **config) as c:

        async def shopper(i: int) -> None:
            cl = c.client(f"shopper{i}", routing=routing)
            if routing == "client":
                await cl.refresh_ring()  # the library's background poll, done before timing starts
            crng = random.Random(rng.random())
            done = 0
            while done < per_client:
                key = crng.choices(names, weights)[0]
                t0 = c.now
                try:
                    got = await cl.get(key)
                except (DynamoUnavailableError, NetError, TimeoutError):
                    result.failed += 1
                    done += 1
                    continue
                result.get_ms.append((c.now - t0) * 1000)
                result.versions.append(len(got.values))
                done += 1
                if crng.random() < 0.5 and done < per_client:
                    # Add one item to the cart: the union of the siblings (§4.4), at most 20 items.
                    items = cart_union(got.values).decode().split(",") if got.values else []
                    items = [x for x in items if x][-19:] + [f"item{crng.randrange(1000)}"]
                    value = ",".join(items).encode()
                    t1 = c.now
                    try:
                        await cl.put(key, value, got.context)
                        result.put_ms.append((c.now - t1) * 1000)
                    except (DynamoUnavailableError, NetError, TimeoutError):
                        result.failed += 1
                    done += 1
                await asyncio.sleep(crng.expovariate(1 / think))

        async def main() -> None:
            await asyncio.gather(*(shopper(i) for i in range(clients)))

        c.run(main())
        result.messages = c.net.stats()["sent"]
    return result


def strategy_efficiency(strategy: int, *, nodes: int = 30, n: int = 3, tokens_per_node: int = 8,
                        requests: int = 20000, seed: int = 0) -> dict[str, float]:
    """§6.2: mean load per node / load of the hottest node, plus the membership metadata size."""
    from minisys.dynamo import ring as ringmod

    rng = random.Random(seed)
    ids = [f"node{i}" for i in range(nodes)]
    q = nodes * tokens_per_node
    ring = ringmod.build(strategy, ids, tokens_per_node=tokens_per_node, q=q, rng=rng)
    keys = [f"user{rng.getrandbits(64)}" for _ in range(requests)]
    imbalance = ringmod.load_imbalance(ring, keys, n)
    return {"load_efficiency": 1.0 / imbalance, "tokens": float(len(ring.token_map())),
            "ranges": float(len(ring.range_names()))}
