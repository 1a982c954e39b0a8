"""The example protocol, unchanged, on the simulator, over HTTP, and as real processes."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import aiohttp
import pytest

from minisys.net import HttpNetwork, LogNormal, Node, RpcTimeout, SimNetwork
from minisys.net.examples import GossipNode, Ping, Pong, Read
from minisys.net.wire import HEALTH_PATH

ITEMS = ("apple", "banana", "cherry")
#: Generous wall-clock budget for real-network tests, so a slow machine does not fail them.
PATIENCE = 60.0


async def wait_for_convergence(client: Node, node_ids: list[str], expected: set[str],
                               poll: float, timeout: float = PATIENCE) -> list[frozenset[str]]:
    """Poll every node's set until all equal ``expected`` (the caller bounds the time)."""
    while True:
        try:
            sets = [(await client.call(n, Read(), timeout=timeout)).items for n in node_ids]
        except RpcTimeout:  # a lost read: ask again
            continue
        if all(s == expected for s in sets):
            return sets
        await asyncio.sleep(poll)


def seed_items(nodes: list[Node]) -> None:
    for node, item in zip(nodes, ITEMS, strict=True):
        assert isinstance(node, GossipNode)
        node.merge(frozenset([item]))


def converge_on_sim() -> None:
    with SimNetwork(seed=3, latency=LogNormal(0.002, 0.8), loss=0.1) as net:
        nodes = [net.add_node(f"n{i}", GossipNode) for i in range(3)]
        seed_items(nodes)
        client = net.add_client("client")
        sets = net.run(wait_for_convergence(client, ["n0", "n1", "n2"], set(ITEMS), poll=0.05,
                                            timeout=0.5), max_time=60.0)
        net.set_default_link(loss=0.0)
        assert net.run(client.call("n1", Ping(9))) == Pong(9, "n1")
        assert net.failures == []
    assert sets == [frozenset(ITEMS)] * 3


async def converge_on_http() -> None:
    async with HttpNetwork(token="gossip-token", seed=3) as net:
        nodes = [await net.add_node(f"n{i}", GossipNode) for i in range(3)]
        seed_items(nodes)
        client = await net.add_client("client")
        sets = await asyncio.wait_for(
            wait_for_convergence(client, ["n0", "n1", "n2"], set(ITEMS), poll=0.05), PATIENCE)
        assert await client.call("n1", Ping(9), timeout=PATIENCE) == Pong(9, "n1")
    assert sets == [frozenset(ITEMS)] * 3


@pytest.mark.parametrize("world", ["sim", "http"])
def test_gossip_converges_on_sim_and_http(world: str) -> None:
    if world == "sim":
        converge_on_sim()
    else:
        asyncio.run(converge_on_http())


def test_gossip_converges_after_a_partition_heals_and_a_crash() -> None:
    with SimNetwork(seed=11, loss=0.05) as net:
        nodes = [net.add_node(f"n{i}", GossipNode) for i in range(6)]
        for i, node in enumerate(nodes):
            assert isinstance(node, GossipNode)
            node.merge(frozenset([f"item{i}"]))
        net.partition(["n0", "n1", "n2"], ["n3", "n4", "n5"])
        net.run_for(2.0)
        left = net.node("n0")
        assert isinstance(left, GossipNode)
        assert left.items == {"item0", "item1", "item2"}  # nothing crossed the cut
        net.crash("n4")
        net.heal()
        net.run_for(2.0)
        net.restart("n4")  # comes back with what it had persisted
        net.run_for(2.0)
        everything = {f"item{i}" for i in range(6)}
        for i in range(6):
            node = net.node(f"n{i}")
            assert isinstance(node, GossipNode)
            assert node.items == everything


# --- real processes ------------------------------------------------------------------------


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture
def three_processes() -> Iterator[dict[str, str]]:
    ids = ["p0", "p1", "p2"]
    directory = {i: f"http://127.0.0.1:{port}" for i, port in zip(ids, free_ports(3), strict=True)}
    procs = []
    for node_id, item in zip(ids, ITEMS, strict=True):
        peers = [f"--peer={p}={url}" for p, url in directory.items() if p != node_id]
        port = directory[node_id].rsplit(":", 1)[1]
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "minisys.net.examples", "serve", "--id", node_id, "--port", port,
             "--token", "proc-token", "--item", item, "--interval", "0.05", *peers],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        ))
    try:
        yield directory
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=PATIENCE)
            except subprocess.TimeoutExpired:
                proc.kill()


async def wait_until_serving(directory: dict[str, str]) -> None:
    deadline = time.monotonic() + PATIENCE
    async with aiohttp.ClientSession() as session:
        for url in directory.values():
            while True:
                try:
                    async with session.get(url + HEALTH_PATH) as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} never started serving")
                await asyncio.sleep(0.05)


def test_gossip_converges_across_real_processes(three_processes: dict[str, str]) -> None:
    async def check() -> list[frozenset[str]]:
        await wait_until_serving(three_processes)
        async with HttpNetwork(three_processes, token="proc-token") as net:
            client = await net.add_client("checker")
            return await asyncio.wait_for(
                wait_for_convergence(client, list(three_processes), set(ITEMS), poll=0.05), PATIENCE)

    assert asyncio.run(check()) == [frozenset(ITEMS)] * 3
