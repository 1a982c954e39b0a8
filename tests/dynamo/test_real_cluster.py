"""A real 5-process cluster on loopback: SIGKILL one node under writes, restart it, watch it converge.

The acceptance's real-process test: the same DynamoNode code over HTTP, a
durable SQLite engine per node, W=2 writes that keep succeeding while a node
is killed with SIGKILL, and, after restart, hinted handoff and anti-entropy
bringing every key's N replicas back to identical sibling sets.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from minisys.dynamo.client import Client, ring_from_status
from minisys.dynamo.localcluster import LocalCluster
from minisys.dynamo.merkle import digest
from minisys.dynamo.messages import ReplicaGet
from minisys.dynamo.reconcile import from_plain
from minisys.net import HttpNetwork


class JoiningCluster(LocalCluster):
    """Nodes join one by one through a seed (§4.8.2): exercises the join path, not a founding ring."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, 5, founders=False)


async def replica_digests(cluster: LocalCluster, keys: list[str]) -> dict[str, set[str]]:
    """For each key, the digests its top-N replicas hold, read over the nodes' own RPC."""
    async with Client([cluster.url("n1")]) as cl:
        info = await cl.status(cluster.url("n1"))
    ring = ring_from_status(info, 3, 64)
    directory = {n: m[2] for n, m in info["members"].items()}
    out: dict[str, set[str]] = {}
    async with HttpNetwork(directory) as net:
        probe = await net.add_client("probe")
        for key in keys:
            out[key] = set()
            for node in ring.preference_list(key, 3):
                reply = await probe.call(node, ReplicaGet(key), timeout=5)
                out[key].add(digest(from_plain(reply.siblings)))
    return out


@pytest.mark.heavy
def test_writes_succeed_while_a_node_is_sigkilled_and_replicas_converge_after_restart(tmp_path):
    cluster = JoiningCluster(tmp_path)
    try:
        cluster.start_all()
        keys = [f"k{i}" for i in range(40)]

        async def workload() -> tuple[int, int]:
            async with Client([cluster.url(n) for n in cluster.api], seed=1) as cl:
                await asyncio.sleep(3)  # gossip settles the token map
                for k in keys:
                    await cl.put(k, "v0")
                cluster.kill9("n3")
                ok = failed = 0
                for round_ in range(1, 4):
                    for k in keys:
                        got = await cl.get(k)
                        try:
                            await cl.put(k, f"v{round_}", got.context)
                            ok += 1
                        except Exception:  # noqa: BLE001 -- counted, then asserted to be zero
                            failed += 1
                return ok, failed

        ok, failed = asyncio.run(workload())
        assert (ok, failed) == (3 * len(keys), 0)
        cluster.start("n3")

        async def converged() -> bool:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                digests = await replica_digests(cluster, keys)
                if all(len(d) == 1 for d in digests.values()):
                    return True
                await asyncio.sleep(1)
            return False

        assert asyncio.run(converged())

        async def final_values() -> dict[str, list[bytes]]:
            async with Client([cluster.url("n3")]) as cl:
                return {k: (await cl.get(k)).values for k in keys}

        assert all(v == [b"v3"] for v in asyncio.run(final_values()).values())
    finally:
        cluster.stop()
