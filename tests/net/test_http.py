"""HttpNetwork on loopback: real aiohttp servers in this process, generous timeouts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from minisys.net import (
    HttpNetwork,
    Rejected,
    RemoteError,
    RpcTimeout,
    Unreachable,
    encode,
)
from minisys.net.wire import HEALTH_PATH, RPC_PATH, encode_request

from .protocol import Bag, Boom, Echo, Echoed, Note, Recorder, Slow, Unhandled

TOKEN = "s3cret-token"


async def post(url: str, body: bytes, content_type: str = "application/msgpack",
               token: str | None = TOKEN) -> tuple[int, str]:
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as session:
        async with session.post(url + RPC_PATH, data=body, headers=headers) as resp:
            return resp.status, await resp.text(errors="replace")


def echo_body(dst: str = "b", codec: str = "msgpack") -> bytes:
    return encode_request("call", "tester", dst, Echo("hi"), codec)  # type: ignore[arg-type]


@pytest.mark.parametrize("codec", ["msgpack", "json"])
async def test_http_call_returns_the_handlers_reply(codec: str) -> None:
    async with HttpNetwork(codec=codec) as net:  # type: ignore[arg-type]
        a = await net.add_node("a", Recorder)
        await net.add_node("b", Recorder)
        assert await a.call("b", Echo("hi"), timeout=30) == Echoed("hi", "b")
        reply = await a.call("b", Bag([1, 2]), timeout=30)
        assert reply == Bag([1, 2, 99])


async def test_http_binds_loopback_by_default() -> None:
    async with HttpNetwork() as net:
        await net.add_node("a")
        assert net.directory["a"].startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession() as session:
            async with session.get(net.directory["a"] + HEALTH_PATH) as resp:
                assert (resp.status, await resp.text()) == (200, "ok a\n")


async def test_http_one_way_send_is_delivered_and_answered_with_202() -> None:
    async with HttpNetwork(token=TOKEN) as net:
        a = await net.add_node("a", Recorder)
        b = await net.add_node("b", Recorder)
        assert isinstance(b, Recorder)
        a.send("b", Note(7))
        for _ in range(3000):
            if b.notes:
                break
            await asyncio.sleep(0.01)
        assert [(n, sender) for n, sender, _ in b.notes] == [(7, "a")]
        status, _ = await post(net.directory["b"], encode_request("send", "x", "b", Note(8), "msgpack"))
        assert status == 202


async def test_http_rejects_request_without_token_with_401() -> None:
    async with HttpNetwork(token=TOKEN) as net:
        await net.add_node("b", Recorder)
        url = net.directory["b"]
        assert (await post(url, echo_body(), token=None))[0] == 401
        assert (await post(url, echo_body(), token="wrong"))[0] == 401
        assert (await post(url, echo_body()))[0] == 200

    # A node configured with another token is refused the same way.
    async with HttpNetwork(token=TOKEN) as good, HttpNetwork(token="other") as bad:
        await good.add_node("b", Recorder)
        bad.directory["b"] = good.directory["b"]
        intruder = await bad.add_client("intruder")
        with pytest.raises(Rejected) as err:
            await intruder.call("b", Echo("let me in"), timeout=30)
        assert err.value.status == 401


async def test_http_malformed_body_gets_400_and_server_keeps_serving() -> None:
    async with HttpNetwork(token=TOKEN) as net:
        a = await net.add_node("a", Recorder)
        await net.add_node("b", Recorder)
        url = net.directory["b"]
        bad_bodies = [
            (b"\xc1\xc1", "application/msgpack"),
            (b"{not json", "application/json"),
            (b"[]", "application/json"),
            (json.dumps({"v": 1, "kind": "call", "src": "x", "dst": "b", "type": "nettest.Echo",
                         "body": {"text": 5}}).encode(), "application/json"),
            (json.dumps({"v": 1, "kind": "call", "src": "x", "dst": "b", "type": "nettest.Echo",
                         "body": {}}).encode(), "application/json"),
            (json.dumps({"v": 1, "kind": "shout", "src": "x", "dst": "b", "type": "nettest.Echo",
                         "body": {"text": "x"}}).encode(), "application/json"),
        ]
        for body, content_type in bad_bodies:
            status, text = await post(url, body, content_type)
            assert status == 400, text
            assert text.count("\n") == 1 and text.startswith("cannot decode")
        status, text = await post(url, bad_bodies[3][0], "application/json")
        assert text == "cannot decode nettest.Echo.text: expected str, got int\n"
        assert await a.call("b", Echo("still there?"), timeout=30) == Echoed("still there?", "b")


async def test_http_unknown_message_type_gets_400_naming_the_type() -> None:
    async with HttpNetwork() as net:
        await net.add_node("b", Recorder)
        body = json.dumps({"v": 1, "kind": "call", "src": "x", "dst": "b",
                           "type": "nettest.NoSuchThing", "body": {}}).encode()
        status, text = await post(net.directory["b"], body, "application/json", token=None)
        assert status == 400
        assert "unknown message type 'nettest.NoSuchThing'" in text


async def test_http_oversized_body_gets_413() -> None:
    async with HttpNetwork(max_body=1024) as net:
        a = await net.add_node("a", Recorder)
        await net.add_node("b", Recorder)
        status, _ = await post(net.directory["b"], encode_request(
            "call", "x", "b", Echo("x" * 5000), "msgpack"), token=None)
        assert status == 413
        with pytest.raises(Rejected) as err:
            await a.call("b", Echo("y" * 5000), timeout=30)
        assert err.value.status == 413
        assert await a.call("b", Echo("small"), timeout=30) == Echoed("small", "b")


async def test_http_wrong_content_type_gets_415() -> None:
    async with HttpNetwork() as net:
        await net.add_node("b", Recorder)
        status, text = await post(net.directory["b"], b"hello", "text/plain", token=None)
        assert status == 415 and "Content-Type" in text


async def test_http_message_for_another_node_is_unreachable() -> None:
    async with HttpNetwork() as net:
        a = await net.add_node("a", Recorder)
        await net.add_node("b", Recorder)
        net.directory["ghost"] = net.directory["b"]  # a stale directory entry
        with pytest.raises(Unreachable, match="no node 'ghost' here"):
            await a.call("ghost", Echo("boo"), timeout=30)


async def test_http_remote_handler_exception_is_a_remote_error() -> None:
    async with HttpNetwork() as net:
        a = await net.add_node("a", Recorder)
        await net.add_node("b", Recorder)
        with pytest.raises(RemoteError) as err:
            await a.call("b", Boom("out of cheese"), timeout=30)
        assert (err.value.error_type, err.value.detail) == ("ValueError", "out of cheese")
        with pytest.raises(RemoteError, match="NoHandler"):
            await a.call("b", Unhandled(), timeout=30)


async def test_http_timeout_maps_to_rpc_timeout() -> None:
    async with HttpNetwork() as net:
        a = await net.add_node("a", Recorder)
        await net.add_node("b", Recorder)
        with pytest.raises(RpcTimeout, match="nettest.Slow"):
            await a.call("b", Slow(60.0), timeout=0.2)


async def test_http_connection_refused_maps_to_unreachable() -> None:
    async with HttpNetwork() as net:
        a = await net.add_node("a", Recorder)
        await net.add_node("b", Recorder)
        await net.stop_node("b")
        with pytest.raises(Unreachable, match="'b'"):
            await a.call("b", Echo("hello?"), timeout=30)
        with pytest.raises(Unreachable, match="not in the directory"):
            await a.call("nobody", Echo("hello?"), timeout=30)


async def test_http_storage_dir_survives_a_node_restart(tmp_path: Path) -> None:
    async with HttpNetwork(storage_dir=tmp_path) as net:
        node = await net.add_node("a")
        node.storage["greeting"] = b"hello"
        await net.stop_node("a")
    async with HttpNetwork(storage_dir=tmp_path) as net:
        again = await net.add_node("a")
        assert again.storage["greeting"] == b"hello"


async def test_http_encodes_json_bodies_readably() -> None:
    async with HttpNetwork(codec="json") as net:
        await net.add_node("b", Recorder)
        body = json.dumps({"v": 1, "kind": "call", "src": "curl", "dst": "b",
                           "type": "nettest.Echo", "body": {"text": "hi"}}).encode()
        status, text = await post(net.directory["b"], body, "application/json", token=None)
        assert status == 200
        assert json.loads(text) == {"kind": "reply", "type": "nettest.Echoed",
                                    "body": {"text": "hi", "by": "b"}}
        assert json.loads(encode(Echo("x"), "json")) == {"type": "nettest.Echo", "body": {"text": "x"}}


async def test_http_stopping_a_node_mid_call_makes_the_caller_see_it_down() -> None:
    async with HttpNetwork() as net:
        a = await net.add_node("a", Recorder)
        await net.add_node("b", Recorder)
        pending = asyncio.create_task(a.call("b", Slow(600.0), timeout=60))
        await asyncio.sleep(0.2)  # let the request reach b's handler (it cannot finish anyway)
        await net.stop_node("b")
        with pytest.raises(Unreachable):
            await pending
