"""The transport over real HTTP: each node an HTTP/1.1 server, peers found by id.

Why HTTP: it is what every machine already speaks, passes through proxies
and can be poked with curl, so the same node classes that run in the
simulator serve real requests from real processes (DESIGN principle 2).
Every RPC is one HTTP exchange, so its cost is the transport's cost: the
server (:mod:`minisys.net.httpserver`) and the pooled keep-alive client
(:mod:`minisys.net.httpclient`) are lean asyncio protocols over the
``httptools`` parser rather than a web framework. The wire format is in
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
import functools
import hmac
import logging
import random
import time
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from minisys.net.errors import (
    MessageDecodeError,
    MessageEncodeError,
    NetError,
    Rejected,
    RpcTimeout,
    Unreachable,
)
from minisys.net.httpclient import (
    Address,
    HttpClient,
    HttpConnectionError,
    HttpResponse,
    HttpTimeout,
    ReplyTooLarge,
    split_url,
)
from minisys.net.httpserver import HttpServer, Request, Response
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


def _plain(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, (_one_line(reason) + "\n").encode("utf-8"), headers=headers)


class HttpTransport(Transport):
    """One node's side of the HTTP network: a pooled client and the RPC endpoint."""

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
        self._content_type = CONTENT_TYPES[net.codec]
        self._headers = {"Content-Type": self._content_type}
        self._auth = None
        if net.token is not None:
            self._headers["Authorization"] = bearer = f"Bearer {net.token}"
            self._auth = bearer.encode()
        # One pool per node: keep-alive connections to each peer.
        self._client = HttpClient(limit=net.connections_per_node, max_body=net.max_body)

    def peers(self) -> tuple[str, ...]:
        return tuple(n for n in self._net.directory if n != self.node_id)

    def now(self) -> float:
        return time.time()

    def _address(self, dest: str) -> tuple[Address, str]:
        """``dest``'s (host, port) and RPC path, from the directory."""
        base = self._net.directory.get(dest)
        if base is None:
            raise Unreachable(dest, "not in the directory")
        try:
            addr, path = split_url(base)
        except ValueError as exc:
            raise Unreachable(dest, str(exc)) from None
        return addr, path + RPC_PATH

    def send(self, dest: str, msg: Any) -> None:
        if not self.alive:
            return
        addr, path = self._address(dest)
        body = encode_request(SEND, self.node_id, dest, msg, self._codec)  # errors surface here
        self.spawn(self._post_one_way(dest, addr, path, body, message_name(msg)))

    async def _post_one_way(self, dest: str, addr: Address, path: str, body: bytes, type_name: str) -> None:
        try:
            resp = await self._client.request(addr, "POST", path, body, self._headers,
                                              self.default_timeout)
        except (HttpTimeout, HttpConnectionError, ReplyTooLarge) as exc:
            log.debug("%s -> %s: %s lost: %r", self.node_id, dest, type_name, exc)
            return
        if resp.status != 202:
            log.warning("%s -> %s: %s refused with %d: %s", self.node_id, dest, type_name,
                        resp.status, _one_line(resp.text()))

    def _start(self, dest: str, msg: Any, timeout: float) -> asyncio.Future[HttpResponse]:
        addr, path = self._address(dest)
        body = encode_request(CALL, self.node_id, dest, msg, self._codec)
        return self._client.start(addr, "POST", path, body, self._headers, timeout)

    def _reply(self, dest: str, msg: Any, timeout: float, done: asyncio.Future[HttpResponse]) -> Any:
        """The outcome of a finished request: the reply message, or the transport's exception."""
        try:
            resp = done.result()
        except HttpTimeout:
            raise RpcTimeout(dest, message_name(msg), timeout) from None
        except HttpConnectionError as exc:
            raise Unreachable(dest, _one_line(str(exc))) from None
        except ReplyTooLarge as exc:
            raise Rejected(dest, exc.status, str(exc)) from None
        status = resp.status
        if status == 200:
            codec = codec_for(resp.content_type)
            if codec is not None:
                return decode_reply(resp.body, codec, dest, message_name(msg))
        reason = _one_line(resp.text()) or f"HTTP {status}"
        if status in (404, 503):
            raise Unreachable(dest, reason)
        raise Rejected(dest, status, reason)

    async def call(self, dest: str, msg: Any, timeout: float | None = None) -> Any:
        if not self.alive:
            raise asyncio.CancelledError()  # as in the simulator: a stopped node's code is ending
        if timeout is None:
            timeout = self.default_timeout
        done = self._start(dest, msg, timeout)
        try:
            await done
        except Exception:  # noqa: BLE001 -- mapped to the transport's exceptions just below
            pass
        return self._reply(dest, msg, timeout, done)

    def call_then(self, dest: str, msg: Any, then: Callable[[Any, BaseException | None], None],
                  timeout: float | None = None) -> None:
        """:meth:`call` without a task: the reply's future calls ``then`` (a coordinator's fan-out)."""
        if not self.alive:
            return
        if timeout is None:
            timeout = self.default_timeout
        try:
            done = self._start(dest, msg, timeout)
        except Unreachable as exc:
            self._loop.call_soon(self._then, then, None, exc)
            return
        done.add_done_callback(functools.partial(self._answer, dest, msg, timeout, then))

    def _answer(self, dest: str, msg: Any, timeout: float, then: Callable[[Any, BaseException | None], None],
                done: asyncio.Future[HttpResponse]) -> None:
        if not self.alive:
            if not done.cancelled():
                done.exception()  # retrieved: a stopped node hears nothing more
            return
        try:
            reply = self._reply(dest, msg, timeout, done)
        except NetError as exc:
            self._then(then, None, exc)
            return
        except Exception as exc:  # a reply that does not decode is a bug somewhere: log it, as a task would
            log.error("node %s: reply to %s from %s failed", self.node_id, message_name(msg), dest, exc_info=exc)
            return
        self._then(then, reply, None)

    def _then(self, then: Callable[[Any, BaseException | None], None], reply: Any,
              error: BaseException | None) -> None:
        if self.alive:
            try:
                then(reply, error)
            except Exception as exc:
                log.error("node %s: reply callback failed", self.node_id, exc_info=exc)

    # --- the server side -----------------------------------------------------------

    async def serve(self, request: Request) -> Response:
        """The node's HTTP endpoints: ``POST /minisys/rpc`` (every message) and ``GET /minisys/health``."""
        if request.path != RPC_PATH or request.method != "POST":
            if request.path == RPC_PATH:
                return _plain(405, f"{RPC_PATH} takes POST", {"Allow": "POST"})
            if request.path == HEALTH_PATH and request.method == "GET":
                return Response(200, f"ok {self.node_id}\n".encode())
            return _plain(404, f"no such endpoint: {request.method} {request.path}")
        if not self.alive:
            return _plain(503, f"node {self.node_id!r} is stopping")
        if self._auth is not None:
            given = request.headers.get("authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, self._auth):
                return _plain(401, "missing or wrong token", {"WWW-Authenticate": "Bearer"})
        content_type = request.headers.get("content-type")
        codec: Codec | None = self._codec if content_type == self._content_type else codec_for(request.content_type)
        if codec is None:
            return _plain(415, f"Content-Type must be {' or '.join(CONTENT_TYPES.values())}, "
                               f"got {request.content_type!r}")
        try:
            env = decode_request(request.body, codec)
        except MessageDecodeError as exc:
            return _plain(400, str(exc))
        if env.dst != self.node_id:
            return _plain(404, f"no node {env.dst!r} here; this is {self.node_id!r}")
        if env.kind == SEND:
            self.spawn(self._handle_one_way(env))
            return Response(202)
        # This request's task is one of the node's, so stopping the node
        # cancels it (like a crash) and the server answers 503 instead of
        # waiting for the handler.
        me = request.task
        assert me is not None
        self._tasks.add(me)
        try:
            body = encode_reply(await self._invoke(env.msg, env.src), codec)
        except Exception as exc:
            body = encode_failure(type(exc).__name__, str(exc), codec)
        finally:
            self._tasks.discard(me)
        return Response(200, body, CONTENT_TYPES[codec])

    async def _handle_one_way(self, env: Envelope) -> None:
        try:
            reply = await self._invoke(env.msg, env.src)
            if reply is not None and self.alive:
                self.send(env.src, reply)
        except (Unreachable, MessageEncodeError) as exc:
            log.warning("node %s: cannot answer %s from %s: %s", self.node_id,
                        message_name(env.msg), env.src, exc)

    async def _finish(self) -> None:
        """After :meth:`_kill`: wait for the cancelled tasks, then drop the connections."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.close()


class _Hosted:
    def __init__(self, transport: HttpTransport, node: Node, server: HttpServer | None) -> None:
        self.transport = transport
        self.node = node
        self.server = server


class HttpNetwork:
    """Nodes hosted in this process, each an HTTP server, plus a directory of peers.

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
        server = HttpServer(transport.serve, self.host, port, max_body=self.max_body)
        try:
            bound_port = await server.start()
        except BaseException:
            transport._kill()
            await transport._finish()
            raise
        url_host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        if ":" in url_host:
            url_host = f"[{url_host}]"
        self.directory[node_id] = f"http://{url_host}:{bound_port}"
        self._hosted[node_id] = _Hosted(transport, node, server)
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
        if hosted.server is not None:
            await hosted.server.close(SHUTDOWN_GRACE)
        await hosted.transport._finish()

    async def close(self) -> None:
        for node_id in list(self._hosted):
            await self.stop_node(node_id)

    async def __aenter__(self) -> HttpNetwork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
