"""Consumer rebalancing: the paper's Algorithm 1 (Kafka §3.2).

There is no master: every consumer of a group runs the same deterministic
algorithm on the same registry contents, so they agree on who owns what::

    Algorithm 1: rebalance process for consumer C_i in group G
    For each topic T that C_i subscribes to {
      remove partitions owned by C_i from the ownership registry
      read the broker and the consumer registries from Zookeeper
      compute P_T = partitions available in all brokers under topic T
      compute C_T = all consumers in G that subscribe to topic T
      sort P_T and C_T
      let j be the index position of C_i in C_T and let N = |P_T|/|C_T|
      assign partitions from j*N to (j+1)*N - 1 in P_T to consumer C_i
      for each assigned partition p {
        set the owner of p to C_i in the ownership registry
        let O_p = the offset of partition p stored in the offset registry
        invoke a thread to pull data in partition p from offset O_p
      }
    }

"When there are multiple consumers... some consumers may attempt to take
ownership of a partition still owned by another consumer. In this case, the
first consumer simply releases all the partitions that it currently owns,
waits a bit and retries the rebalance process."

:func:`assigned_partitions` is the pure arithmetic; :func:`rebalance` runs it
against the registry through a client.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from minisys.errors import MinisysError
from minisys.log import messages as m

#: Attempts before a rebalance gives up (the paper: "retries"; ZooKeeper clients used ~4-10).
MAX_ATTEMPTS = 50
#: Back-off between attempts, seconds (randomised in [1, 2) × this, growing to 10×).
BACKOFF_S = 0.02


def assigned_partitions(partitions: Sequence[int], consumers: Sequence[str], me: str) -> list[int]:
    """Algorithm 1's range for consumer ``me``: sort both lists, take the j-th slice of N.

    The paper's N = |P_T|/|C_T| assumes it divides evenly; when it does not,
    the first |P_T| mod |C_T| consumers take one extra partition (what
    Kafka's range assignor does), so every partition has exactly one owner.
    Consumers beyond |P_T| get nothing.
    """
    ps, cs = sorted(partitions), sorted(consumers)
    j = cs.index(me)
    n, extra = divmod(len(ps), len(cs))
    start = j * n + min(j, extra)
    return ps[start:start + n + (1 if j < extra else 0)]


def plan(view: m.RegistryView, me: str, topics: Sequence[str]) -> list[tuple[str, int]]:
    """Every (topic, partition) Algorithm 1 gives ``me`` in this registry snapshot."""
    mine: list[tuple[str, int]] = []
    for topic in sorted(set(topics)):
        members = [c.consumer for c in view.consumers if topic in c.topics]
        if me not in members or topic not in view.partitions:
            continue
        mine += [(topic, p) for p in assigned_partitions(range(view.partitions[topic]), members, me)]
    return mine


async def rebalance(call: Callable[[Any], Awaitable[Any]], group: str, me: str,
                    topics: Sequence[str], rng: random.Random | None = None) -> tuple[int, list[tuple[str, int]]]:
    """Run Algorithm 1 until every claim succeeds; returns (registry version, owned partitions)."""
    rng = rng or random.Random()
    for attempt in range(MAX_ATTEMPTS):
        await call(m.ReleasePartitions(group, me))
        view: m.RegistryView = await call(m.ReadRegistry(group))
        mine = plan(view, me, topics)
        conflict = False
        for topic, partition in mine:
            claim: m.Claim = await call(m.ClaimPartition(group, me, topic, partition))
            if not claim.ok:
                conflict = True
                break
        if not conflict:
            return view.version, mine
        # Conflict: someone has not released yet. Release all, back off, retry (§3.2).
        await call(m.ReleasePartitions(group, me))
        await asyncio.sleep(BACKOFF_S * min(10, 1 + attempt) * (1 + rng.random()))
    raise MinisysError(f"consumer {me!r} in group {group!r}: rebalance did not settle "
                       f"after {MAX_ATTEMPTS} attempts")
