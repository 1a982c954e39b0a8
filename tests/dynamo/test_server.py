"""The HTTP API of a node (issue: PUT/GET /kv/{key}, GET /status, size limits as clear 4xx)."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest

from minisys.dynamo import Client, DynamoUnavailableError
from minisys.dynamo.node import DynamoConfig
from minisys.dynamo.server import ServeOptions, serve


def _ports(k: int) -> list[int]:
    socks = [socket.socket() for _ in range(k)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


async def _with_node(tmp_path, body, **cfg):
    api, rpc = _ports(2)
    stop = asyncio.Event()
    config = DynamoConfig(n=1, r=1, w=1, max_key_bytes=16, max_value_bytes=64, **cfg)
    task = asyncio.create_task(serve(ServeOptions("solo", api, tmp_path, rpc_port=rpc), config, stop))
    url = f"http://127.0.0.1:{api}"
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(100):
                try:
                    async with s.get(url + "/status"):
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            await body(s, url)
    finally:
        stop.set()
        await task


async def test_put_get_404_and_context_header_over_http(tmp_path):
    async def body(s, url):
        async with s.get(url + "/kv/missing") as r:
            assert r.status == 404 and (await r.json())["siblings"] == []
        async with s.put(url + "/kv/cart", data="milk") as r:
            assert r.status == 200
            ctx = (await r.json())["context"]
        async with s.put(url + "/kv/cart", data="milk,eggs", headers={"X-Dynamo-Context": ctx}) as r:
            assert r.status == 200
        async with s.get(url + "/kv/cart") as r:
            assert (await r.json())["siblings"] == ["milk,eggs"]
        async with Client([url]) as cl:  # the client library speaks the same API
            got = await cl.get("cart")
            assert got.values == [b"milk,eggs"]
            await cl.put("cart", "bread", got.context)
            assert (await cl.get("cart")).values == [b"bread"]

    await _with_node(tmp_path, body)


async def test_oversized_keys_values_and_bad_contexts_get_clear_4xx_errors(tmp_path):
    async def body(s, url):
        async with s.put(url + "/kv/" + "k" * 17, data="v") as r:
            assert r.status == 400 and "limit is 16" in (await r.json())["error"]
        async with s.put(url + "/kv/k", data="v" * 65) as r:
            assert r.status == 413
        async with s.put(url + "/kv/k", data="v", headers={"X-Dynamo-Context": "nope!"}) as r:
            assert r.status == 400 and "not a context" in (await r.json())["error"]
        async with s.put(url + "/kv/k", data=b"\xff\xfe") as r:
            assert r.status == 400 and "UTF-8" in (await r.json())["error"]

    await _with_node(tmp_path, body)


async def test_status_is_json_and_an_html_page(tmp_path):
    async def body(s, url):
        async with s.get(url + "/status") as r:
            info = await r.json()
            assert info["node"] == "solo" and info["members"]["solo"][0] == "up" and "hints" in info
        async with s.get(url + "/status", headers={"Accept": "text/html"}) as r:
            assert r.content_type == "text/html" and "Dynamo node solo" in await r.text()

    await _with_node(tmp_path, body)


async def test_a_node_joins_through_a_seed_and_leaves_through_the_admin_endpoint(tmp_path):
    a_api, a_rpc, b_api, b_rpc = _ports(4)
    config = DynamoConfig(n=1, r=1, w=1, gossip_interval=0.2)
    stop = asyncio.Event()
    a = asyncio.create_task(serve(ServeOptions("a", a_api, tmp_path / "a", rpc_port=a_rpc), config, stop))
    a_url, b_url = f"http://127.0.0.1:{a_api}", f"http://127.0.0.1:{b_api}"
    b = None
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(200):
                try:
                    async with s.get(a_url + "/status"):
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            b = asyncio.create_task(serve(ServeOptions("b", b_api, tmp_path / "b", rpc_port=b_rpc,
                                                       seeds=(f"127.0.0.1:{a_api}",)), config, stop))
            for _ in range(200):  # b learns the map from seed a, steals tokens, gossips back
                await asyncio.sleep(0.05)
                async with s.get(a_url + "/status") as r:
                    if (await r.json())["members"].get("b", ["?"])[0] == "up":
                        break
            async with Client([a_url]) as cl:
                for i in range(20):
                    await cl.put(f"k{i}", f"v{i}")
            async with s.post(b_url + "/admin/leave") as r:
                assert r.status == 200 and (await r.json())["left"] == "b"
            async with s.get(a_url + "/status") as r:
                info = await r.json()
            assert info["members"]["b"][0] == "left"
            assert all(owner == "a" for owner, _ in info["tokens"].values())
            async with Client([a_url]) as cl:  # every key is still there, now only on a
                values = [(await cl.get(f"k{i}")).values for i in range(20)]
            assert values == [[f"v{i}".encode()] for i in range(20)]
    finally:
        stop.set()
        await a
        if b is not None:
            await b


async def test_keys_are_percent_decoded_and_unknown_routes_get_json_404_and_405(tmp_path):
    async def body(s, url):
        async with Client([url]) as cl:  # the client percent-encodes: a key may hold '/', '?' or spaces
            await cl.put("a/b?c d", "v")
            assert (await cl.get("a/b?c d")).values == [b"v"]
        async with s.get(url + "/kv/a%2Fb%3Fc%20d") as r:
            assert r.status == 200 and (await r.json())["siblings"] == ["v"]
        async with s.get(url + "/nowhere") as r:
            assert r.status == 404 and "error" in await r.json()
        async with s.delete(url + "/kv/k") as r:
            assert r.status == 405 and "error" in await r.json()
        async with s.get(url + "/kv/a/b") as r:  # one path segment per key
            assert r.status == 404

    await _with_node(tmp_path, body)


async def test_the_client_reuses_keep_alive_connections_and_skips_a_dead_node(tmp_path):
    async def body(s, url):
        dead = "http://127.0.0.1:1"  # nothing listens there
        async with Client([dead, url], seed=3) as cl:
            for i in range(10):
                await cl.put(f"k{i}", f"v{i}")
            pools = cl._http._pools
            live = [p for addr, p in pools.items() if addr[1] != 1]
            assert len(live) == 1 and live[0].open == 1  # ten requests, one connection

    await _with_node(tmp_path, body)


async def test_a_put_cut_off_by_every_node_is_indefinite_not_unavailable() -> None:
    """A put that reached a node may have been applied even if its reply never
    came back: the client still tries the next node (a duplicate is a sibling
    with the same value), but when none answers it reports the put as
    indefinite (ConnectionError), not as definitely failed; a get that nobody
    answers is simply unavailable."""
    requests: list[int] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        requests.append(writer.get_extra_info("sockname")[1])
        writer.close()

    servers = [await asyncio.start_server(hang_up, "127.0.0.1", 0) for _ in range(2)]
    client = Client([f"http://127.0.0.1:{s.sockets[0].getsockname()[1]}" for s in servers], timeout=2.0)
    try:
        with pytest.raises(ConnectionError):
            await client.put("k", b"v")
        assert len(requests) == 2  # the put was tried on both nodes
        with pytest.raises(DynamoUnavailableError):
            await client.get("k")
        assert len(requests) == 4
    finally:
        await client.close()
        for s in servers:
            s.close()
