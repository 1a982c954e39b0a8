"""Connections from a client to a broker (the clients are :mod:`.producer` and :mod:`.consumer`).

Two transports for the same messages (:mod:`minisys.log.server` has the
other end): :class:`Connection`, a TCP stream with length-prefixed msgpack
frames where requests are pipelined and replies come back in order (a
``Fetched`` reply is followed by the raw log bytes), and
:class:`HttpConnection`, one ``minisys.net`` HTTP call per request.
:func:`connect` picks by the address: ``host:port`` or ``http://host:port``.
"""

from __future__ import annotations

import asyncio
import collections
import struct
import uuid
from dataclasses import replace
from typing import Any

from minisys.errors import BadInput, ServiceUnavailable
from minisys.log import messages as m
from minisys.log.errors import from_kind
from minisys.net import decode, encode

_FRAME = struct.Struct(">I")


class Connection:
    """One TCP connection to a broker; requests pipelined, replies matched in order."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        if not port.isdigit():
            raise BadInput(f"broker address {address!r}: expected host:port")
        self.address, self.host, self.port = address, host or "127.0.0.1", int(port)
        self._writer: asyncio.StreamWriter | None = None
        self._pending: collections.deque[asyncio.Future] = collections.deque()
        self._reader_task: asyncio.Task | None = None

    async def open(self) -> Connection:
        try:
            reader, self._writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            raise ServiceUnavailable(f"minisys log broker at {self.address} does not answer: {exc}") from exc
        self._reader_task = asyncio.create_task(self._read_replies(reader))
        return self

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                (length,) = _FRAME.unpack(await reader.readexactly(4))
                reply = decode(await reader.readexactly(length))
                if type(reply) is m.Fetched and reply.size:
                    reply = replace(reply, data=await reader.readexactly(reply.size))
                future = self._pending.popleft()
                if future.done():
                    continue
                if type(reply) is m.Error:
                    future.set_exception(from_kind(reply.kind, reply.detail))
                else:
                    future.set_result(reply)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            self._fail(ServiceUnavailable(f"connection to the broker at {self.address} closed: {exc}"))

    def _fail(self, exc: Exception) -> None:
        while self._pending:
            future = self._pending.popleft()
            if not future.done():
                future.set_exception(exc)

    def submit(self, request: Any) -> asyncio.Future:
        """Send now, return the future of the reply (pipelining: don't wait)."""
        if self._writer is None or self._reader_task is None or self._reader_task.done():
            raise ServiceUnavailable(f"not connected to the broker at {self.address}")
        body = encode(request)
        future = asyncio.get_running_loop().create_future()
        self._pending.append(future)
        self._writer.write(_FRAME.pack(len(body)) + body)
        return future

    async def drain(self) -> None:
        if self._writer is not None:
            await self._writer.drain()

    async def call(self, request: Any) -> Any:
        return await self.submit(request)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        if self._reader_task is not None:
            self._reader_task.cancel()
            await asyncio.gather(self._reader_task, return_exceptions=True)
        self._fail(ServiceUnavailable("connection closed"))


class HttpConnection:
    """The same calls over ``minisys.net`` HTTP (one POST per request)."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def open(self) -> HttpConnection:
        from minisys.net import HttpNetwork

        self._net = HttpNetwork({"broker": self.address})
        await self._net.__aenter__()
        self._client = await self._net.add_client(f"client-{uuid.uuid4().hex[:8]}")
        return self

    def submit(self, request: Any) -> asyncio.Future:
        return asyncio.ensure_future(self.call(request))

    async def drain(self) -> None:
        return None

    async def call(self, request: Any) -> Any:
        from minisys.net import RemoteError, Unreachable

        try:
            return await self._client.call("broker", request)
        except RemoteError as exc:
            raise from_kind(exc.error_type, exc.detail) from None
        except Unreachable as exc:
            raise ServiceUnavailable(f"minisys log broker at {self.address} does not answer: {exc}") from None

    async def close(self) -> None:
        await self._net.close()


async def connect(address: str) -> Connection | HttpConnection:
    """``host:port`` → stream connection; ``http://host:port`` → minisys.net HTTP."""
    conn = HttpConnection(address) if address.startswith("http") else Connection(address)
    return await conn.open()


async def create_topic(address: str, topic: str, partitions: int = 1) -> int:
    conn = await connect(address)
    try:
        reply: m.TopicInfo = await conn.call(m.CreateTopic(topic, partitions))
        return reply.partitions
    finally:
        await conn.close()
