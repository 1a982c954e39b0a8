"""The producer: message sets, batching, pipelining (Kafka §3.1).

Messages for one partition accumulate into a message set of ``batch_size``
messages (or whatever is there after ``linger_ms``) and go out in one
request — §3.1: "a producer can send a set of messages in a single publish
request". Requests are pipelined on one connection (up to
``max_in_flight``); each is acknowledged with the offset of the set's first
message, so a message's offset is that plus its index in the set.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from typing import Any

from minisys.errors import BadInput, MinisysError
from minisys.log import messages as m
from minisys.log.client import Connection, HttpConnection, connect
from minisys.log.record import encode_message_set


class Delivery:
    """Awaitable offset of one sent message (its set's base offset + its index)."""

    __slots__ = ("_future", "_index")

    def __init__(self, future: asyncio.Future, index: int) -> None:
        self._future, self._index = future, index

    def __await__(self):
        produced = yield from asyncio.ensure_future(self._future).__await__()
        return produced.base_offset + self._index


class Producer:
    """Batching, pipelining producer: ``await send(topic, value)``; ``await flush()``."""

    def __init__(self, address: str, *, batch_size: int = 50, linger_ms: float = 5.0,
                 max_in_flight: int = 64, acks: int | str = 1) -> None:
        if batch_size < 1:
            raise BadInput(f"batch_size must be >= 1, got {batch_size}")
        if acks not in (1, -1, "all"):
            raise BadInput(f"acks must be 1 (the leader) or 'all' (every in-sync replica), not {acks!r}")
        #: 1: acknowledged once the leader appended; -1 ("all"): once every in-sync replica has it.
        self.acks = -1 if acks == "all" else int(acks)
        self.address = address
        self.batch_size, self.linger_ms, self.max_in_flight = batch_size, linger_ms, max_in_flight
        self._conn: Connection | HttpConnection | None = None
        self._partitions: dict[str, int] = {}
        self._next_partition: dict[str, itertools.cycle] = {}
        self._batches: dict[tuple[str, int], list[bytes]] = {}
        self._batch_futures: dict[tuple[str, int], asyncio.Future] = {}
        self._in_flight: collections.deque[asyncio.Future] = collections.deque()
        self._linger: asyncio.TimerHandle | None = None
        #: The partition each topic's open batch goes to (round robin between batches).
        self._current: dict[str, tuple[str, int]] = {}

    async def start(self) -> Producer:
        self._conn = await connect(self.address)
        return self

    async def __aenter__(self) -> Producer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def partitions_for(self, topic: str) -> int:
        if topic not in self._partitions:
            info: m.TopicInfo = await self._call(m.Metadata(topic))
            self._partitions[topic] = info.partitions
            self._next_partition[topic] = itertools.cycle(range(info.partitions))
        return self._partitions[topic]

    async def _call(self, request: Any) -> Any:
        if self._conn is None:
            raise MinisysError("producer not started: use `async with Producer(...)` or `await start()`")
        return await self._conn.call(request)

    async def send(self, topic: str, value: bytes, partition: int | None = None) -> Delivery:
        """Queue ``value``; a full batch goes out at once, a partial one after ``linger_ms``.

        Without ``partition`` batches go to the topic's partitions in turn
        (order is kept within a partition only, §3.3).
        """
        if not isinstance(value, bytes | bytearray):
            raise BadInput(f"message value must be bytes, not {type(value).__name__}")
        if partition is None:
            if topic not in self._partitions:
                await self.partitions_for(topic)
            key = self._current.get(topic)
            if key is None:
                key = self._current[topic] = (topic, next(self._next_partition[topic]))
        else:
            key = (topic, partition)
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = []
            self._batch_futures[key] = asyncio.get_running_loop().create_future()
        batch.append(bytes(value))
        delivery = Delivery(self._batch_futures[key], len(batch) - 1)
        if len(batch) >= self.batch_size:
            await self._send_batch(key)
        elif self._linger is None:
            self._linger = asyncio.get_running_loop().call_later(self.linger_ms / 1000.0, self._linger_expired)
        return delivery

    def _linger_expired(self) -> None:
        self._linger = None
        for key in list(self._batches):
            self._dispatch(key)

    def _dispatch(self, key: tuple[str, int]) -> asyncio.Future:
        values = self._batches.pop(key)
        batch_future = self._batch_futures.pop(key)
        if self._current.get(key[0]) == key:
            del self._current[key[0]]
        assert self._conn is not None
        reply = self._conn.submit(m.Produce(key[0], key[1], encode_message_set(values), self.acks))

        def done(f: asyncio.Future) -> None:
            if batch_future.done():
                return
            if f.cancelled():
                batch_future.cancel()
            elif f.exception() is not None:
                batch_future.set_exception(f.exception())
            else:
                batch_future.set_result(f.result())
        reply.add_done_callback(done)
        batch_future.add_done_callback(lambda f: f.cancelled() or f.exception())  # never "never retrieved"
        self._in_flight.append(reply)
        return reply

    async def _send_batch(self, key: tuple[str, int]) -> None:
        self._dispatch(key)
        while len(self._in_flight) >= self.max_in_flight:
            await self._in_flight.popleft()
        while self._in_flight and self._in_flight[0].done():
            self._in_flight.popleft().result()
        if self._conn is not None:
            await self._conn.drain()

    async def flush(self) -> None:
        """Send every partial batch and wait until the broker acknowledged everything."""
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        for key in list(self._batches):
            self._dispatch(key)
        while self._in_flight:
            await self._in_flight.popleft()

    async def close(self) -> None:
        if self._conn is not None:
            try:
                await self.flush()
            finally:
                await self._conn.close()
                self._conn = None
