"""The transport over real HTTP: each node an aiohttp server, peers found by id.

Why HTTP: it is what every machine already speaks, passes through proxies
and can be poked with curl, and aiohttp gives pooled keep-alive connections,
so the same node classes that run in the simulator serve real requests from
real processes (DESIGN principle 2). The wire format is in
:mod:`minisys.net.wire`.

Safety defaults (DESIGN principle 6): servers bind 127.0.0.1 unless told
otherwise, can require a shared token (``Authorization: Bearer <token>``,
else 401), refuse bodies over ``max_body`` (413), and answer anything they
cannot decode with a 400 and a one-line reason -- never a crash, never a 500.

Outcomes map onto the transport's exceptions: a request timeout is
:class:`RpcTimeout`; a refused or dropped connection, or a 404 (no such node
at that address), is :class:`Unreachable`; any other refusal is
:class:`Rejected`.

    async with HttpNetwork(token="s3cret") as net:
        a = await net.add_node("a", GossipNode)
        b = await net.add_node("b", GossipNode)
        pong = await a.call("b", Ping(1))
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
import time
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from minisys.net.errors import (
    MessageDecodeError,
    MessageEncodeError,
    Rejected,
    RpcTimeout,
    Unreachable,
)
from minisys.net.messages import CODECS, CONTENT_TYPES, Codec, message_name
from minisys.net.storage import Storage
from minisys.net.transport import Node, NodeFactory, Transport
from minisys.net.wire import (
    CALL,
    HEALTH_PATH,
    RPC_PATH,
    SEND,
    Envelope,
    codec_for,
    decode_reply,
    decode_request,
    encode_failure,
    encode_reply,
    encode_request,
)

log = logging.getLogger("minisys.net.http")

#: Default RPC timeout in seconds: generous, because real networks have real tails.
DEFAULT_TIMEOUT = 5.0
#: Largest request body a node accepts (bytes); larger ones get 413.
DEFAULT_MAX_BODY = 4 * 1024 * 1024
#: How long a stopping server waits for requests it is already handling.
SHUTDOWN_GRACE = 2.0


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _plain(status: int, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=_one_line(reason) + "\n", headers=headers)


class HttpTransport(Transport):
    """One node's side of the HTTP network: a client session and a request handler."""

    def __init__(self, net: HttpNetwork, node_id: str, storage: Storage, rng: random.Random) -> None:
        super().__init__(
            node_id,
            loop=asyncio.get_running_loop(),
            storage=storage,
            rng=rng,
            default_timeout=net.default_timeout,
        )
        self._net = net
        self._codec: Codec = net.codec
        self._headers = {"Content-Type": CONTENT_TYPES[net.codec]}
        if net.token is not None:
            self._headers["Authorization"] = f"Bearer {net.token}"
        # One pooled session per node: keep-alive connections to each peer.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=net.connections_per_node),
            timeout=aiohttp.ClientTimeout(total=None),
        )

    def peers(self) -> tuple[str, ...]:
        return tuple(n for n in self._net.directory if n != self.node_id)

    def now(self) -> float:
        return time.time()

    def _url(self, dest: str) -> str:
        base = self._net.directory.get(dest)
        if base is None:
            raise Unreachable(dest, "not in the directory")
        return base.rstrip("/") + RPC_PATH

    def send(self, dest: str, msg: Any) -> None:
        if not self.alive:
            return
        url = self._url(dest)
        body = encode_request(SEND, self.node_id, dest, msg, self._codec)  # errors surface here
        self.spawn(self._post_one_way(dest, url, body, message_name(msg)))

    async def _post_one_way(self, dest: str, url: str, body: bytes, type_name: str) -> None:
        timeout = aiohttp.ClientTimeout(total=self.default_timeout)
        try:
            async with self._session.post(url, data=body, headers=self._headers, timeout=timeout) as resp:
                if resp.status != 202:
                    text = _one_line(await resp.text(errors="replace"))
                    log.warning("%s -> %s: %s refused with %d: %s", self.node_id, dest, type_name,
                                resp.status, text)
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.debug("%s -> %s: %s lost: %r", self.node_id, dest, type_name, exc)

    async def call(self, dest: str, msg: Any, timeout: float | None = None) -> Any:
        if not self.alive:
            raise asyncio.CancelledError()  # as in the simulator: a stopped node's code is ending
        if timeout is None:
            timeout = self.default_timeout
        url = self._url(dest)
        type_name = message_name(msg)
        body = encode_request(CALL, self.node_id, dest, msg, self._codec)
        try:
            async with self._session.post(
                url, data=body, headers=self._headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as resp:
                status = resp.status
                if (resp.content_length or 0) > self._net.max_body:
                    raise Rejected(dest, status, f"reply larger than {self._net.max_body} bytes")
                data = await resp.read()
                codec = codec_for(resp.content_type)
        except TimeoutError:
            raise RpcTimeout(dest, type_name, timeout) from None
        except aiohttp.ClientError as exc:
            raise Unreachable(dest, _one_line(str(exc)) or type(exc).__name__) from None
        if status == 200 and codec is not None:
            return decode_reply(data, codec, dest, type_name)
        reason = _one_line(data.decode("utf-8", "replace")) or f"HTTP {status}"
        if status in (404, 503):
            raise Unreachable(dest, reason)
        raise Rejected(dest, status, reason)

    # --- the server side -----------------------------------------------------------

    async def serve_rpc(self, request: web.Request) -> web.StreamResponse:
        net = self._net
        if not self.alive:
            return _plain(503, f"node {self.node_id!r} is stopping")
        if net.token is not None:
            given = request.headers.get("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, f"Bearer {net.token}".encode()):
                return _plain(401, "missing or wrong token", {"WWW-Authenticate": "Bearer"})
        codec = codec_for(request.content_type)
        if codec is None:
            return _plain(415, f"Content-Type must be {' or '.join(CONTENT_TYPES.values())}, "
                               f"got {request.content_type!r}")
        too_big = f"body larger than {net.max_body} bytes"
        if request.content_length is not None and request.content_length > net.max_body:
            return _plain(413, too_big)
        try:
            data = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _plain(413, too_big)
        try:
            env = decode_request(data, codec)
        except MessageDecodeError as exc:
            return _plain(400, str(exc))
        if env.dst != self.node_id:
            return _plain(404, f"no node {env.dst!r} here; this is {self.node_id!r}")
        if env.kind == SEND:
            self.spawn(self._handle_one_way(env))
            return web.Response(status=202)
        # A task of this node, so stopping the node cancels it (like a crash)
        # instead of the server waiting for it.
        handling = self._loop.create_task(self._invoke(env.msg, env.src))
        self._tasks.add(handling)
        handling.add_done_callback(self._tasks.discard)
        try:
            body = encode_reply(await handling, codec)
        except asyncio.CancelledError:
            if handling.cancelled() and not self.alive:
                return _plain(503, f"node {self.node_id!r} stopped while handling the request")
            raise
        except Exception as exc:
            body = encode_failure(type(exc).__name__, str(exc), codec)
        return web.Response(body=body, content_type=CONTENT_TYPES[codec])

    async def _handle_one_way(self, env: Envelope) -> None:
        try:
            reply = await self._invoke(env.msg, env.src)
            if reply is not None and self.alive:
                self.send(env.src, reply)
        except (Unreachable, MessageEncodeError) as exc:
            log.warning("node %s: cannot answer %s from %s: %s", self.node_id,
                        message_name(env.msg), env.src, exc)

    async def serve_health(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=f"ok {self.node_id}\n")

    async def _finish(self) -> None:
        """After :meth:`_kill`: wait for the cancelled tasks, then drop the connections."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._session.close()


class _Hosted:
    def __init__(self, transport: HttpTransport, node: Node, runner: web.AppRunner | None) -> None:
        self.transport = transport
        self.node = node
        self.runner = runner


class HttpNetwork:
    """Nodes hosted in this process, each an aiohttp server, plus a directory of peers.

    ``directory`` maps node ids to base URLs (``http://10.0.0.5:8001``) and
    may name nodes in other processes; :meth:`add_node` adds this process's
    nodes to it. ``codec`` is what this process sends (servers answer in
    whatever codec the request used). ``storage_dir`` makes each node's
    :class:`Storage` a file there, so it survives a process restart.
    ``seed`` seeds the nodes' ``random`` (default: OS entropy).
    """

    def __init__(
        self,
        directory: Mapping[str, str] | None = None,
        *,
        token: str | None = None,
        codec: Codec = "msgpack",
        host: str = "127.0.0.1",
        max_body: int = DEFAULT_MAX_BODY,
        default_timeout: float = DEFAULT_TIMEOUT,
        storage_dir: str | PathLike[str] | None = None,
        seed: int | str | None = None,
        connections_per_node: int = 100,
    ) -> None:
        if codec not in CODECS:
            raise ValueError(f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}")
        self.directory: dict[str, str] = dict(directory or {})
        self.token = token
        self.codec: Codec = codec
        self.host = host
        self.max_body = max_body
        self.default_timeout = default_timeout
        self.storage_dir = Path(storage_dir) if storage_dir is not None else None
        self.seed = seed
        self.connections_per_node = connections_per_node
        self._hosted: dict[str, _Hosted] = {}
        self._storages: dict[str, Storage] = {}

    def _storage(self, node_id: str) -> Storage:
        if node_id not in self._storages:
            path = self.storage_dir / f"{node_id}.msgpack" if self.storage_dir else None
            self._storages[node_id] = Storage(path)
        return self._storages[node_id]

    def _rng(self, node_id: str) -> random.Random:
        return random.Random(f"{self.seed}/{node_id}" if self.seed is not None else None)

    async def add_node(self, node_id: str, factory: NodeFactory | None = None, *, port: int = 0) -> Node:
        """Start ``factory(transport)`` (default: a bare Node) behind a server on ``port``.

        ``port=0`` picks a free port. The node's URL goes into
        :attr:`directory`, and its ``start()`` runs once the server listens.
        """
        if node_id in self._hosted:
            raise ValueError(f"node {node_id!r} is already running here")
        transport = HttpTransport(self, node_id, self._storage(node_id), self._rng(node_id))
        node = (factory or Node)(transport)
        app = web.Application(client_max_size=self.max_body)
        app.router.add_post(RPC_PATH, transport.serve_rpc)
        app.router.add_get(HEALTH_PATH, transport.serve_health)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, port).start()
        except BaseException:
            transport._kill()
            await runner.cleanup()
            await transport._finish()
            raise
        bound_port = runner.addresses[0][1]
        url_host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        if ":" in url_host:
            url_host = f"[{url_host}]"
        self.directory[node_id] = f"http://{url_host}:{bound_port}"
        self._hosted[node_id] = _Hosted(transport, node, runner)
        transport.spawn(node.start(), name=f"{node_id}.start")
        return node

    async def add_client(self, node_id: str) -> Node:
        """A node that only makes calls: no server, not in the directory, not a peer."""
        if node_id in self._hosted:
            raise ValueError(f"node {node_id!r} is already running here")
        transport = HttpTransport(self, node_id, self._storage(node_id), self._rng(node_id))
        node = Node(transport)
        self._hosted[node_id] = _Hosted(transport, node, None)
        return node

    def node(self, node_id: str) -> Node:
        """The node ``node_id`` hosted in this process."""
        try:
            return self._hosted[node_id].node
        except KeyError:
            raise KeyError(f"node {node_id!r} is not hosted by this HttpNetwork") from None

    async def stop_node(self, node_id: str) -> None:
        """Stop a hosted node: tasks cancelled, server closed; its storage is kept.

        Its directory entry stays, so peers now get :class:`Unreachable`.
        """
        hosted = self._hosted.pop(node_id)
        hosted.transport._kill()  # from here on the server answers 503
        if hosted.runner is not None:
            await hosted.runner.cleanup()
        await hosted.transport._finish()

    async def close(self) -> None:
        for node_id in list(self._hosted):
            await self.stop_node(node_id)

    async def __aenter__(self) -> HttpNetwork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
