"""A lean HTTP/1.1 client: a pool of persistent connections per server, one request at a time on each.

The counterpart of :mod:`minisys.net.httpserver`, for the same reason: an
RPC costs one write and one parsed reply on a connection that is already
open, instead of aiohttp's per-request machinery. A connection carries one
request at a time (no pipelining: a slow handler must not hold up the
requests queued behind it); concurrent requests to one server use more
connections, up to ``limit`` per server, and then wait for one to be free.

Failures are typed so callers can map them without parsing text:
:class:`HttpConnectionError` (a ``ConnectionError``: refused, reset, closed
before the whole reply arrived, or a reply that is not HTTP),
:class:`HttpTimeout` (a ``TimeoutError``: no whole reply in time; the
connection is closed, since a late reply would otherwise answer the next
request) and :class:`ReplyTooLarge`.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

Address = tuple[str, int]


class HttpConnectionError(ConnectionError):
    """The request could not be sent or its reply was cut off (it may or may not have been processed)."""


class HttpNotSent(HttpConnectionError):
    """Connecting failed: the request never left this process, so sending it elsewhere is safe."""


class HttpTimeout(TimeoutError):
    """No complete reply within the timeout."""


class ReplyTooLarge(Exception):
    def __init__(self, status: int, limit: int) -> None:
        super().__init__(f"reply larger than {limit} bytes")
        self.status = status


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@functools.lru_cache(maxsize=1024)
def split_url(url: str) -> tuple[Address, str]:
    """``http://host:port/base`` -> ((host, port), "/base"); cached, as every request names its peer by URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"{url!r}: expected http://HOST[:PORT]")
    return (parts.hostname, parts.port or 80), parts.path.rstrip("/")


class _Conn(asyncio.Protocol):
    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[HttpResponse] | None = None
        self.closed = False
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.body_len = 0
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HttpConnectionError("connection closed before the whole reply arrived"))

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # nobody asked: the stream is out of step with us
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            self._fail(exc.__context__ if isinstance(exc.__context__, ReplyTooLarge) else
                       HttpConnectionError(f"bad reply: {exc}"))
            self.close()
        except httptools.HttpParserError as exc:
            self._fail(HttpConnectionError(f"malformed HTTP reply: {exc}"))
            self.close()

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # --- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.headers = {}
        self.body = []
        self.body_len = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        length = self.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise ReplyTooLarge(self.parser.get_status_code(), self.max_body)

    def on_body(self, body: bytes) -> None:
        self.body_len += len(body)
        if self.body_len > self.max_body:
            raise ReplyTooLarge(self.parser.get_status_code(), self.max_body)
        self.body.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:
            return  # an interim answer (100 Continue): the real reply follows
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        self.keep_alive = self.parser.should_keep_alive()
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(HttpResponse(status, self.headers, body))


def _expire(waiter: asyncio.Future[HttpResponse], timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(HttpTimeout(f"no reply within {timeout:g}s"))


class _Pool:
    __slots__ = ("idle", "busy", "open", "waiting")

    def __init__(self) -> None:
        self.idle: list[_Conn] = []
        self.busy: set[_Conn] = set()
        self.open = 0
        self.waiting: deque[asyncio.Future[None]] = deque()


class HttpClient:
    """Pooled keep-alive connections; ``await client.request(addr, "POST", "/path", body)``."""

    def __init__(self, *, limit: int = 100, max_body: int = 4 << 20) -> None:
        self.limit = limit
        self.max_body = max_body
        self._pools: dict[Address, _Pool] = {}
        self._closed = False

    async def request(self, addr: Address, method: str, path: str, body: bytes = b"",
                      headers: Mapping[str, str] | None = None, timeout: float = 5.0) -> HttpResponse:
        """Send one request and return the whole reply; ``timeout`` covers connecting and waiting."""
        return await self.start(addr, method, path, body, headers, timeout)

    def start(self, addr: Address, method: str, path: str, body: bytes = b"",
              headers: Mapping[str, str] | None = None, timeout: float = 5.0) -> asyncio.Future[HttpResponse]:
        """Send one request now (on an idle connection) and return the future of its reply.

        Why a future and not only a coroutine: a caller that fans out to many
        servers (a Dynamo coordinator) can attach a callback instead of
        running a task per request. Cancelling the future abandons the
        request and closes its connection.
        """
        loop = asyncio.get_running_loop()
        if self._closed:
            failed: asyncio.Future[HttpResponse] = loop.create_future()
            failed.set_exception(HttpConnectionError("client is closed"))
            return failed
        pool = self._pools.get(addr)
        if pool is None:
            pool = self._pools[addr] = _Pool()
        host = f"[{addr[0]}]" if ":" in addr[0] else addr[0]  # an IPv6 literal is bracketed
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{addr[1]}\r\nContent-Length: {len(body)}\r\n"
        if headers:
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        data = (head + "\r\n").encode("latin-1") + body
        conn = self._take_idle(pool)
        if conn is not None:
            return self._send(pool, conn, data, timeout)
        # No idle connection: open one (or wait for one) in a task; a Task is a Future too.
        return loop.create_task(self._connect_and_send(pool, addr, data, timeout, loop.time() + timeout))

    def _take_idle(self, pool: _Pool) -> _Conn | None:
        """An idle connection still open, or None; ones the server closed meanwhile free their slot."""
        while pool.idle:
            conn = pool.idle.pop()
            if not conn.closed:
                return conn
            pool.open -= 1
            self._wake(pool)
        return None

    def _send(self, pool: _Pool, conn: _Conn, data: bytes, timeout: float) -> asyncio.Future[HttpResponse]:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[HttpResponse] = loop.create_future()
        conn.waiter = waiter
        pool.busy.add(conn)
        timer = loop.call_later(timeout, _expire, waiter, timeout)
        waiter.add_done_callback(functools.partial(self._finished, pool, conn, timer))
        conn.transport.write(data)  # type: ignore[union-attr]
        return waiter

    def _finished(self, pool: _Pool, conn: _Conn, timer: asyncio.TimerHandle,
                  waiter: asyncio.Future[HttpResponse]) -> None:
        timer.cancel()
        ok = not waiter.cancelled() and waiter.exception() is None
        self._release(pool, conn, ok and conn.keep_alive and not conn.closed)

    async def _connect_and_send(self, pool: _Pool, addr: Address, data: bytes, timeout: float,
                                deadline: float) -> HttpResponse:
        conn = await self._acquire(pool, addr, timeout)
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            self._release(pool, conn, not conn.closed)
            raise HttpTimeout(f"no reply within {timeout:g}s")
        return await self._send(pool, conn, data, left)

    async def _acquire(self, pool: _Pool, addr: Address, timeout: float) -> _Conn:
        while pool.open >= self.limit:
            ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            pool.waiting.append(ready)
            try:
                await asyncio.wait_for(ready, timeout)
            except TimeoutError:
                raise HttpTimeout(f"no free connection to {addr[0]}:{addr[1]} within {timeout:g}s") from None
            conn = self._take_idle(pool)
            if conn is not None:
                return conn
        pool.open += 1
        try:
            loop = asyncio.get_running_loop()
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: _Conn(self.max_body), addr[0], addr[1]), timeout)
        except BaseException as exc:
            pool.open -= 1
            self._wake(pool)
            if isinstance(exc, TimeoutError):  # before OSError, of which it is a subclass
                raise HttpTimeout(f"cannot connect to {addr[0]}:{addr[1]} within {timeout:g}s") from None
            if isinstance(exc, OSError):
                raise HttpNotSent(f"cannot connect to {addr[0]}:{addr[1]}: {exc.strerror or exc}") from None
            raise
        return conn

    def _release(self, pool: _Pool, conn: _Conn, reusable: bool) -> None:
        pool.busy.discard(conn)
        if reusable and not self._closed:
            pool.idle.append(conn)
        else:
            conn.waiter = None
            conn.close()
            pool.open -= 1
        self._wake(pool)

    @staticmethod
    def _wake(pool: _Pool) -> None:
        while pool.waiting:
            ready = pool.waiting.popleft()
            if not ready.done():
                ready.set_result(None)
                return

    async def close(self) -> None:
        """Close every pooled connection; requests in progress fail with :class:`HttpConnectionError`."""
        self._closed = True
        for pool in self._pools.values():
            for conn in [*pool.idle, *pool.busy]:
                conn.close()
            pool.idle.clear()
        await asyncio.sleep(0)  # let the transports run their connection_lost callbacks
