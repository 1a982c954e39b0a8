"""A lean HTTP/1.1 server on an asyncio Protocol: keep-alive, pipelining, limits, no framework.

Why not aiohttp: profiling a 5-node Dynamo on loopback put about 90% of
every node's CPU in aiohttp's request machinery (routing, middlewares,
multidict headers, stream readers, a task per connection and per request),
and every Dynamo operation costs three or four HTTP exchanges. This server
does only what the node-to-node RPC and the Dynamo API need, with
``httptools`` (the llhttp parser) doing the parsing: a request is parsed in
``data_received``, handed to the application as one :class:`Request` (the
whole body in memory, bounded by ``max_body``) in one task, and its
:class:`Response` is written with ``Content-Length``. It is still plain
HTTP/1.1, so curl, browsers and proxies talk to it.

* Connections are persistent (HTTP/1.1 keep-alive; ``Connection: close`` and
  HTTP/1.0 are honoured). Pipelined requests run concurrently and their
  responses are written in request order, as RFC 9112 §9.3.2 requires.
* Limits (DESIGN principle 6): a head over ``MAX_HEAD_BYTES`` gets 431, a
  body over ``max_body`` gets 413 -- from ``Content-Length`` before the body
  is read, or while a chunked body arrives -- and unparseable bytes get 400;
  each of these closes the connection, because the rest of the stream cannot
  be trusted. ``Expect: 100-continue`` is answered, so ``curl -d @big``
  does not stall.
* An application that raises gets a 500 and a logged traceback: a bug, not
  an input (applications turn bad input into 4xx themselves).
* What is left out: TLS, HTTP/2, upgrades (ignored), trailers, response
  streaming, ``Date``/``Server`` headers, idle-connection timeouts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httptools

log = logging.getLogger("minisys.net.httpserver")

#: Largest request line plus headers accepted (bytes); more gets 431.
MAX_HEAD_BYTES = 64 * 1024
#: Pipelined requests a connection may have in progress before reading pauses.
MAX_PIPELINED = 64

_PHRASES = {s.value: s.phrase for s in HTTPStatus}


@dataclass(slots=True)
class Request:
    """One parsed request. ``path`` is still percent-encoded; header names are lower case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    #: The task answering this request (cancel it to abandon the request).
    task: asyncio.Task[Any] | None = None

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case (``application/json``)."""
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] | None = None


App = Callable[[Request], Awaitable[Response]]
ErrorPage = Callable[[int, str], Response]


def plain_error(status: int, reason: str) -> Response:
    """The default page for refusals the server makes itself: one line of text."""
    return Response(status, (reason + "\n").encode("utf-8"))


def encode_response(resp: Response, keep_alive: bool) -> bytes:
    head = (f"HTTP/1.1 {resp.status} {_PHRASES.get(resp.status, 'Unknown')}\r\n"
            f"Content-Type: {resp.content_type}\r\nContent-Length: {len(resp.body)}\r\n")
    if resp.headers:
        head += "".join(f"{k}: {v}\r\n" for k, v in resp.headers.items())
    if not keep_alive:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode("latin-1") + resp.body


class _Slot:
    """A response position in a connection's pipeline; ``data`` is set when it is ready."""

    __slots__ = ("data", "close")

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.close = False


class _Stop(Exception):
    """Raised from a parser callback to stop parsing a request that was refused."""


class _Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.pipeline: deque[_Slot] = deque()
        self.closing = False
        self.paused = False
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.body_len = 0
        self.head_len = 0
        self.head_size = 0
        self.in_body = False
        self.refusal: tuple[int, str] | None = None

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        # Requests in progress keep running (a put the client gave up on still
        # completes, as with any server); their responses have nowhere to go.
        self.closing = True
        self.server._connections.discard(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        if not self.in_body:
            self.head_len += len(data)
            if self.head_len > MAX_HEAD_BYTES + self.server.max_body:
                self._refuse(431, f"request head larger than {MAX_HEAD_BYTES} bytes")
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Upgrades (websocket, h2c) are ignored, as RFC 9110 §7.8 allows: the
            # request is answered as plain HTTP and the connection closed after it,
            # because the parser stops at an upgrade.
            if self.pipeline and self.pipeline[-1].data is None:
                self.pipeline[-1].close = True
                self.closing = True
            else:
                self._refuse(400, "protocol upgrades are not supported")
        except httptools.HttpParserCallbackError:
            if self.refusal is None:
                raise
            self._refuse(*self.refusal)
        except httptools.HttpParserError as exc:
            self._refuse(400, f"malformed HTTP request: {exc}")

    # --- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.head_size += len(name) + len(value) + 4
        headers = self.headers
        if key in headers:  # a repeated header: RFC 9110 §5.3 lets us join them with commas
            text = f"{headers[key]}, {text}"
        headers[key] = text

    def on_headers_complete(self) -> None:
        self.in_body = True
        if self.head_size > MAX_HEAD_BYTES:
            self.refusal = (431, f"request head larger than {MAX_HEAD_BYTES} bytes")
            raise _Stop
        headers = self.headers
        length = headers.get("content-length")
        if length is not None and len(length) >= self.server._max_digits and length.isdigit() \
                and int(length) > self.server.max_body:
            self.refusal = (413, f"body larger than {self.server.max_body} bytes")
            raise _Stop
        if "expect" in headers and headers["expect"].lower() == "100-continue" and not self.pipeline:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # type: ignore[union-attr]

    def on_body(self, body: bytes) -> None:
        self.body_len += len(body)
        if self.body_len > self.server.max_body:
            self.refusal = (413, f"body larger than {self.server.max_body} bytes")
            raise _Stop
        self.body.append(body)

    def on_message_complete(self) -> None:
        parser = self.parser
        target = self.url
        if target[:1] == b"/":  # origin-form, the usual case: /path?query
            path, _, query = target.partition(b"?")
        else:  # absolute-form (http://host/path, as to a proxy) or garbage
            try:
                url = httptools.parse_url(target)
            except httptools.HttpParserInvalidURLError:
                self.refusal = (400, "malformed request target")
                raise _Stop from None
            path, query = url.path or b"/", url.query or b""
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        request = Request(parser.get_method().decode("ascii", "replace"), path.decode("latin-1"),
                          query.decode("latin-1"), self.headers, body)
        slot = _Slot()
        slot.close = not parser.should_keep_alive()
        self.pipeline.append(slot)
        self.in_body = False
        self.head_len = 0
        if len(self.pipeline) >= MAX_PIPELINED and not self.paused:
            self.paused = True
            self.transport.pause_reading()  # type: ignore[union-attr]
        self.server._start(self, slot, request)

    # --- responses ------------------------------------------------------------------------------

    def _refuse(self, status: int, reason: str) -> None:
        """Answer a request the server will not hand to the application, then close."""
        slot = _Slot()
        slot.close = True
        slot.data = encode_response(self.server.error_page(status, reason), keep_alive=False)
        self.pipeline.append(slot)
        self.closing = True
        self.transport.pause_reading()  # type: ignore[union-attr]
        self._flush()

    def _flush(self) -> None:
        transport = self.transport
        pipeline = self.pipeline
        while pipeline and pipeline[0].data is not None:
            slot = pipeline.popleft()
            if transport is None or transport.is_closing():
                continue
            transport.write(slot.data)  # type: ignore[arg-type]
            if slot.close:
                self.closing = True
                pipeline.clear()
                transport.close()
                return
        if self.paused and len(pipeline) < MAX_PIPELINED // 2 and not self.closing:
            self.paused = False
            transport.resume_reading()  # type: ignore[union-attr]


class HttpServer:
    """Serve ``app`` on ``host:port`` (0: a free port); ``await start()``, ``await close()``.

    ``error_page(status, reason)`` renders the refusals the server makes
    itself (400, 413, 431); the Dynamo API answers them in JSON.
    """

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0, *, max_body: int = 4 << 20,
                 error_page: ErrorPage = plain_error) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.max_body = max_body
        self._max_digits = len(str(max_body))  # a shorter Content-Length cannot exceed max_body
        self.error_page = error_page
        self._server: asyncio.AbstractServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the running loop, from start()
        self._connections: set[_Connection] = set()
        self._running: set[asyncio.Task[Any]] = set()

    async def start(self) -> int:
        """Listen; returns the bound port."""
        loop = self._loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    def _start(self, conn: _Connection, slot: _Slot, request: Request) -> None:
        task = request.task = self._loop.create_task(self._respond(conn, slot, request))  # type: ignore[union-attr]
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _respond(self, conn: _Connection, slot: _Slot, request: Request) -> None:
        try:
            resp = await self.app(request)
        except asyncio.CancelledError:
            slot.data = encode_response(self.error_page(503, "server is shutting down"), keep_alive=False)
            slot.close = True
            conn._flush()
            raise
        except Exception:
            log.exception("HTTP %s %s failed", request.method, request.path)
            resp = self.error_page(500, "internal error (see the server's log)")
        slot.data = encode_response(resp, not slot.close)
        conn._flush()

    async def close(self, grace: float = 2.0) -> None:
        """Stop listening, let requests in progress finish for ``grace`` seconds, then close everything."""
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            if not conn.pipeline and conn.transport is not None:
                conn.transport.close()
        if self._running:
            _, late = await asyncio.wait(set(self._running), timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        for conn in list(self._connections):
            if conn.transport is not None:
                conn.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
