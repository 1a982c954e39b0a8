"""Putting the broker on the network: a framed TCP stream with ``sendfile``, or minisys.net HTTP.

Two transports for the same :class:`~minisys.log.broker.Broker` and the same
messages (:mod:`minisys.log.messages`), because the issue asks which is
faster (``benchmarks/log_throughput.py --transport`` measures both):

* **stream** (default): each request is ``u32 length + msgpack frame`` on a
  persistent TCP connection, answered in order (so a producer can pipeline).
  A ``Fetched`` reply is followed by ``size`` raw bytes of segment file sent
  with ``loop.sendfile`` — §3.1's "sendfile API... avoids 2 of the 4 data
  copies and 1 system call": the bytes go from the page cache to the socket
  without entering Python.
* **http**: :class:`BrokerNode`, a ``minisys.net`` node whose one handler
  answers every request; ``Fetched.data`` carries the bytes (copied).

Bad requests get ``Error(kind, detail)`` and the connection keeps serving;
only an unreadable frame (garbage length) closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from pathlib import Path
from typing import Any

from minisys.errors import MinisysError
from minisys.log import messages as m
from minisys.log.broker import Broker
from minisys.net import Node, decode, encode, handler

log = logging.getLogger("minisys.log.server")

FRAME = struct.Struct(">I")
#: Largest request frame the stream server reads (a produce of ~this many bytes).
MAX_FRAME = 64 * 1024 * 1024


def frame(msg: Any) -> bytes:
    body = encode(msg)
    return FRAME.pack(len(body)) + body


def error_reply(exc: BaseException) -> m.Error:
    if isinstance(exc, MinisysError):
        return m.Error(type(exc).__name__, str(exc))
    return m.Error("BrokerError", f"{type(exc).__name__}: {exc}")


class StreamServer:
    """The broker on ``asyncio.start_server``: one task per connection, replies in order."""

    def __init__(self, broker: Broker, host: str = "127.0.0.1", port: int = 0,
                 use_sendfile: bool = True) -> None:
        self.broker = broker
        self.host, self.port = host, port
        self.use_sendfile = use_sendfile
        self._server: asyncio.Server | None = None
        self._timers: asyncio.Task | None = None
        self._connections: set[asyncio.Task] = set()

    async def start(self) -> StreamServer:
        self._server = await asyncio.start_server(self._serve_connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._timers = asyncio.create_task(self.broker.run_timers())
        return self

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    head = await reader.readexactly(4)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                (length,) = FRAME.unpack(head)
                if length > MAX_FRAME:
                    writer.write(frame(m.Error("BadInput", f"request of {length} bytes is over {MAX_FRAME}")))
                    await writer.drain()
                    return
                body = await reader.readexactly(length)
                try:
                    request = decode(body)
                    if type(request) in (m.Fetch, m.ReplicaFetch):
                        reply, found = await self.broker.fetch(request)
                    else:
                        reply, found = await self.broker.handle(request), None
                except Exception as exc:  # a refusal, never a dead connection
                    if not isinstance(exc, MinisysError):
                        log.exception("request failed")
                    reply, found = error_reply(exc), None
                writer.write(frame(reply))
                if found is not None:
                    if writer.transport.is_closing():
                        return  # the client went away (a crashed consumer): nobody to send the data to
                    if self.use_sendfile:
                        try:
                            await loop.sendfile(writer.transport, found.file, found.position, found.length)
                        except RuntimeError:  # "Transport is closing": the client left mid-transfer
                            if writer.transport.is_closing():
                                return
                            raise
                    else:
                        found.file.seek(found.position)
                        writer.write(found.file.read(found.length))
                if writer.transport.get_write_buffer_size() > 1 << 20:
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:  # server closing: end quietly (asyncio logs a cancelled handler)
            return
        finally:
            writer.close()
            if task is not None:
                self._connections.discard(task)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await self._server.wait_closed()
        if self._timers is not None:
            self._timers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timers
        await self.broker.quiesce()
        self.broker.close()

    async def __aenter__(self) -> StreamServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class BrokerNode(Node):
    """The broker as a ``minisys.net`` node (HTTP transport): one handler for every request."""

    broker: Broker

    async def start(self) -> None:
        self.spawn(self.broker.run_timers())

    @handler
    async def on_request(self, msg: m.Request, sender: str) -> Any:  # type: ignore[valid-type]
        return await self.broker.handle(msg)


def broker_node_factory(broker: Broker):
    """A factory for :meth:`HttpNetwork.add_node` serving ``broker``."""
    def make(transport):
        node = BrokerNode(transport)
        node.broker = broker
        return node
    return make


def _stop_event() -> asyncio.Event:
    """Set on SIGTERM/SIGINT, so the broker flushes and closes its segments on the way out."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(data_dir: Path, port: int, host: str = "127.0.0.1", *, http: bool = False,
                config=None, ready: asyncio.Event | None = None, use_sendfile: bool = True,
                broker_id: str = "broker", replica_lag_ms: float = 30_000.0, min_insync: int = 1) -> None:
    """Run a broker until SIGTERM/SIGINT (``minisys log serve``)."""
    broker = Broker(data_dir, config, broker_id=broker_id, replica_lag_ms=replica_lag_ms, min_insync=min_insync)
    stop = _stop_event()
    if http:
        from minisys.net import HttpNetwork

        async with HttpNetwork(host=host) as net:
            await net.add_node("broker", broker_node_factory(broker), port=port)
            print(f"minisys log broker (http) on {net.directory['broker']}, data in {data_dir}", flush=True)
            if ready is not None:
                ready.set()
            try:
                await stop.wait()
            finally:
                await broker.quiesce()
                broker.close()
        return
    async with StreamServer(broker, host, port, use_sendfile=use_sendfile) as server:
        print(f"minisys log broker on {server.address}, data in {data_dir}", flush=True)
        if ready is not None:
            ready.set()
        await stop.wait()
