"""The lean HTTP/1.1 server and pooled client under HttpNetwork: keep-alive, pipelining, limits, failures.

Raw sockets play the odd clients (pipelining, garbage, a body that never
ends); small asyncio servers play the odd servers (one that hangs up
mid-request, one that never answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from minisys.net import HttpNetwork, RpcTimeout, Unreachable
from minisys.net.httpclient import HttpClient, HttpConnectionError, HttpTimeout, ReplyTooLarge
from minisys.net.httpserver import MAX_HEAD_BYTES, HttpServer, Request, Response
from minisys.net.wire import RPC_PATH

from .protocol import Echo, Echoed, Recorder


async def _echo_app(request: Request) -> Response:
    """Answers with the path; ``/slow`` waits a little first, so pipelined answers would overtake it."""
    if request.path == "/slow":
        await asyncio.sleep(0.2)
    return Response(200, f"{request.method} {request.path} {len(request.body)}".encode())


@contextlib.asynccontextmanager
async def serving(app: Any = _echo_app, *, client: HttpClient | None = None, **options: Any) -> AsyncIterator[int]:
    """A started HttpServer's port; the server (and ``client``, if given) closed afterwards."""
    server = HttpServer(app, **options)
    port = await server.start()
    try:
        yield port
    finally:
        if client is not None:
            await client.close()
        await server.close()


async def _raw(port: int, data: bytes, *, until_closed: bool = True, expect: int = 0) -> bytes:
    """Send raw bytes; read until the server closes (or until ``expect`` bytes arrived)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    got = b""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            break
        got += chunk
        if not until_closed and len(got) >= expect:
            break
    writer.close()
    return got


def _statuses(raw: bytes) -> list[str]:
    return [line.split(b" ", 2)[1].decode() for line in raw.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


async def test_pipelined_requests_are_answered_in_request_order() -> None:
    async with serving() as port:
        raw = await _raw(port, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"POST /last HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
    bodies = [part.split(b"\r\n\r\n", 1)[1].split(b"HTTP/1.1")[0] for part in raw.split(b"HTTP/1.1 200")[1:]]
    assert bodies == [b"GET /slow 0", b"GET /fast 0", b"POST /last 3"]


async def test_the_client_reuses_one_keep_alive_connection_for_sequential_requests() -> None:
    server = HttpServer(_echo_app)
    port = await server.start()
    client = HttpClient()
    try:
        for i in range(5):
            resp = await client.request(("127.0.0.1", port), "POST", f"/n{i}", b"xy")
            assert (resp.status, resp.body) == (200, f"POST /n{i} 2".encode())
        assert len(server._connections) == 1
    finally:
        await client.close()
        await server.close()


async def test_concurrent_requests_beyond_the_connection_limit_wait_for_a_free_connection() -> None:
    server = HttpServer(_echo_app)
    port = await server.start()
    client = HttpClient(limit=2)
    try:
        replies = await asyncio.gather(*(client.request(("127.0.0.1", port), "GET", "/slow") for _ in range(5)))
        assert [r.status for r in replies] == [200] * 5
        assert len(server._connections) <= 2
    finally:
        await client.close()
        await server.close()


async def test_oversized_body_gets_413_from_content_length_before_the_body_is_sent() -> None:
    async with serving(max_body=1000) as port:
        # Headers only: the server must answer without waiting for the 10 MB it was promised.
        raw = await _raw(port, b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
        assert _statuses(raw) == ["413"] and b"Connection: close" in raw
        chunked = (b"PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + b"".join(b"200\r\n" + b"x" * 0x200 + b"\r\n" for _ in range(3)) + b"0\r\n\r\n")
        assert _statuses(await _raw(port, chunked)) == ["413"]
        small = b"PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        assert (await _raw(port, small, until_closed=False, expect=10)).startswith(b"HTTP/1.1 200")


async def test_malformed_http_gets_400_and_the_server_keeps_serving() -> None:
    client = HttpClient()
    async with serving(client=client) as port:
        for garbage in (b"\x00\x01\x02 nonsense\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
                        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"):
            raw = await _raw(port, garbage)
            assert _statuses(raw) == ["400"], raw
        # An upgrade request is answered as plain HTTP (RFC 9110 §7.8 lets a server ignore Upgrade).
        raw = await _raw(port, b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n")
        assert _statuses(raw) == ["200"] and b"Connection: close" in raw
        huge_head = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n"
        assert _statuses(await _raw(port, huge_head)) == ["431"]
        assert (await client.request(("127.0.0.1", port), "GET", "/ok")).status == 200


async def test_expect_100_continue_is_answered_so_curl_does_not_stall() -> None:
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"ok")
        assert (await reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 200")
        writer.close()


async def test_http_10_and_connection_close_requests_get_their_connection_closed() -> None:
    async with serving() as port:
        raw = await _raw(port, b"GET /a HTTP/1.0\r\n\r\n")  # returns only because the server closed
        assert _statuses(raw) == ["200"] and raw.endswith(b"GET /a 0")


async def test_a_timed_out_request_closes_its_connection_so_a_late_reply_never_answers_the_next() -> None:
    client = HttpClient()
    async with serving(client=client) as port:
        with pytest.raises(HttpTimeout):
            await client.request(("127.0.0.1", port), "GET", "/slow", timeout=0.05)
        resp = await client.request(("127.0.0.1", port), "GET", "/fast")
        assert resp.body == b"GET /fast 0"


async def test_a_reply_over_the_limit_is_refused() -> None:
    async def big(request: Request) -> Response:
        return Response(200, b"x" * 5000)

    client = HttpClient(max_body=1000)
    async with serving(big, client=client) as port:
        with pytest.raises(ReplyTooLarge):
            await client.request(("127.0.0.1", port), "GET", "/")


async def test_a_pooled_connection_the_server_closed_is_not_reused() -> None:
    server = HttpServer(_echo_app)
    port = await server.start()
    client = HttpClient()
    try:
        assert (await client.request(("127.0.0.1", port), "GET", "/one")).status == 200
        await server.close()  # closes the idle keep-alive connection
        server = HttpServer(_echo_app, port=port)
        await server.start()
        assert (await client.request(("127.0.0.1", port), "GET", "/two")).body == b"GET /two 0"
    finally:
        await client.close()
        await server.close()


async def _hang_up_server(answer: bytes | None) -> tuple[asyncio.AbstractServer, int]:
    """A server that reads a request, then sends ``answer`` (or nothing) and hangs up (None: never answers)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if answer is None:
            await asyncio.sleep(3600)
        writer.write(answer)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


@pytest.mark.parametrize("answer", [b"", b"HTTP/1.1 200 OK\r\nContent-Len", b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"])
async def test_a_peer_dying_mid_request_is_unreachable_not_a_hang(answer: bytes) -> None:
    srv, port = await _hang_up_server(answer)
    try:
        async with HttpNetwork({"b": f"http://127.0.0.1:{port}"}) as net:
            a = await net.add_client("a")
            with pytest.raises(Unreachable, match="'b'"):
                await a.call("b", Echo("hello?"), timeout=60)
        client = HttpClient()
        with pytest.raises(HttpConnectionError):
            await client.request(("127.0.0.1", port), "GET", "/", timeout=60)
        await client.close()
    finally:
        srv.close()


async def test_a_peer_that_never_answers_is_an_rpc_timeout() -> None:
    srv, port = await _hang_up_server(None)
    try:
        async with HttpNetwork({"b": f"http://127.0.0.1:{port}"}) as net:
            a = await net.add_client("a")
            with pytest.raises(RpcTimeout):
                await a.call("b", Echo("anyone?"), timeout=0.2)
    finally:
        srv.close()


async def test_call_then_delivers_replies_and_failures_through_the_callback() -> None:
    async with HttpNetwork() as net:
        a = await net.add_node("a", Recorder)
        await net.add_node("b", Recorder)
        net.directory["gone"] = "http://127.0.0.1:1"  # nothing listens on port 1
        got: asyncio.Queue[tuple[object, object]] = asyncio.Queue()
        a.call_then("b", Echo("cb"), lambda reply, error: got.put_nowait((reply, error)), 30)
        assert await got.get() == (Echoed("cb", "b"), None)
        a.call_then("gone", Echo("cb"), lambda reply, error: got.put_nowait((reply, error)), 30)
        reply, error = await got.get()
        assert reply is None and isinstance(error, Unreachable)
        a.call_then("nobody", Echo("cb"), lambda reply, error: got.put_nowait((reply, error)), 30)
        reply, error = await got.get()
        assert reply is None and isinstance(error, Unreachable)


async def test_rpc_endpoint_is_plain_http_for_any_client() -> None:
    """What curl would do: JSON in, JSON out, over a fresh connection, without the minisys client."""
    async with HttpNetwork() as net:
        await net.add_node("b", Recorder)
        port = int(net.directory["b"].rsplit(":", 1)[1])
        body = b'{"v": 1, "kind": "call", "src": "curl", "dst": "b", "type": "nettest.Echo", "body": {"text": "hi"}}'
        raw = await _raw(port, b"POST " + RPC_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                         b"Content-Type: application/json; charset=utf-8\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        assert _statuses(raw) == ["200"] and raw.endswith(b'"body":{"text":"hi","by":"b"}}')
        raw = await _raw(port, b"GET " + RPC_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _statuses(raw) == ["405"]


def test_servers_bind_loopback_only_by_default() -> None:
    async def main() -> None:
        server = HttpServer(_echo_app)
        await server.start()
        assert server._server is not None
        assert server._server.sockets[0].getsockname()[0] == "127.0.0.1"
        assert server._server.sockets[0].family == socket.AF_INET
        await server.close()

    asyncio.run(main())


async def test_the_client_skips_an_interim_100_continue_and_returns_the_final_reply() -> None:
    srv, port = await _hang_up_server(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    client = HttpClient()
    try:
        resp = await client.request(("127.0.0.1", port), "PUT", "/", b"x")
        assert (resp.status, resp.body) == (200, b"ok")
    finally:
        await client.close()
        srv.close()
