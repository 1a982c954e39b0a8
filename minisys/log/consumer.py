"""The pulling consumer, alone or in a consumer group (Kafka §3.1-3.3).

For each partition it owns the consumer asks for ``(offset, max_bytes)`` and
advances its own position by the number of whole messages it got — the
broker keeps no consumer state (§3.1). In a group, partitions are owned per
Algorithm 1 (:mod:`minisys.log.rebalance`) and positions are committed to
the offset registry with :meth:`Consumer.commit`. Delivery is at-least-once
(§3.3): a consumer that dies after processing but before committing makes
its successor re-deliver those messages.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Iterable

from minisys.errors import BadInput, MinisysError
from minisys.log import messages as m
from minisys.log.client import Connection, HttpConnection, connect
from minisys.log.errors import NotRegistered
from minisys.log.rebalance import rebalance
from minisys.log.record import Record, decode_messages

#: The paper's pull size: "hundreds of kilobytes" (§3.1); 200 KB in the experiments (§5).
DEFAULT_MAX_BYTES = 256 * 1024
#: Registrations a consumer tries when its session keeps expiring mid-rebalance.
_JOIN_ATTEMPTS = 5


def _retrieve(future: asyncio.Future) -> None:
    """A prefetch nobody may await (after a seek or rebalance): consume its outcome quietly."""
    if not future.cancelled():
        future.exception()


class Consumer:
    """Pulling consumer; with ``group`` it joins a consumer group (§3.2).

    ``auto_offset_reset`` is where a partition with no committed offset
    starts: ``"earliest"`` (the smallest offset) or ``"latest"`` (the
    largest), the paper's configurable choice.
    """

    def __init__(self, address: str, *topics: str, group: str | None = None,
                 consumer_id: str | None = None, auto_offset_reset: str = "earliest",
                 max_bytes: int = DEFAULT_MAX_BYTES, max_wait_ms: int = 100,
                 session_ms: int = 6000, heartbeat_ms: int | None = None, check_crc: bool = True) -> None:
        if auto_offset_reset not in ("earliest", "latest"):
            raise BadInput(f"auto_offset_reset must be 'earliest' or 'latest', not {auto_offset_reset!r}")
        self.address, self.topics, self.group = address, tuple(topics), group
        self.consumer_id = consumer_id or f"consumer-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.auto_offset_reset, self.max_bytes, self.max_wait_ms = auto_offset_reset, max_bytes, max_wait_ms
        self.session_ms, self.check_crc = session_ms, check_crc
        #: How often the background task renews the session and checks the watch.
        self.heartbeat_ms = heartbeat_ms if heartbeat_ms is not None else min(session_ms / 3, 200)
        #: Next offset to read, per owned partition (the consumer's own state, §3.1).
        self.positions: dict[tuple[str, int], int] = {}
        self.rebalances = 0
        self._version = -1
        self._heartbeats: asyncio.Task | None = None
        #: Fetching and rebalancing never interleave (the paper stops fetchers during a rebalance).
        self._lock = asyncio.Lock()
        self._conn: Connection | HttpConnection | None = None
        self._rng = random.Random()
        #: The next pull already sent per partition: (its offset, its reply).
        self._prefetched: dict[tuple[str, int], tuple[int, asyncio.Future]] = {}

    async def start(self) -> Consumer:
        self._conn = await connect(self.address)
        if self.group is None:
            for topic in self.topics:
                info: m.TopicInfo = await self._conn.call(m.Metadata(topic))
                for p in range(info.partitions):
                    self.positions[(topic, p)] = await self._reset_offset(topic, p)
        else:
            async with self._lock:
                await self._join()
            self._heartbeats = asyncio.create_task(self._heartbeat_forever())
        return self

    async def __aenter__(self) -> Consumer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def assignment(self) -> list[tuple[str, int]]:
        return sorted(self.positions)

    async def assign(self, partitions: Iterable[tuple[str, int]], offsets: dict | None = None) -> None:
        """Own exactly these partitions (no group), from ``offsets`` or the reset policy."""
        self.positions = {}
        self._prefetched = {}
        for topic, p in partitions:
            start = (offsets or {}).get((topic, p))
            self.positions[(topic, p)] = start if start is not None else await self._reset_offset(topic, p)

    async def seek(self, topic: str, partition: int, offset: int) -> None:
        """Rewind or skip: the consumer owns its position (§3.1 "deliberately rewind")."""
        self.positions[(topic, partition)] = offset
        self._prefetched.pop((topic, partition), None)

    async def _reset_offset(self, topic: str, partition: int) -> int:
        assert self._conn is not None
        r: m.OffsetRange = await self._conn.call(m.ListOffsets(topic, partition))
        return r.start if self.auto_offset_reset == "earliest" else r.end

    # ------------------------------------------------------------ group membership

    async def _join(self, *, registered: bool = False) -> None:
        """Register in the group (unless ``registered``) and rebalance (§3.2).

        A rebalance can wait on a crashed member's session to expire; if this
        consumer stalls longer than its own ``session_ms`` meanwhile, its
        ephemeral registration expires too and a claim is refused with
        NotRegistered. That is a session expiry like any other, so the answer
        is the same as when a heartbeat finds it: register again and rebalance.
        """
        assert self._conn is not None and self.group is not None
        for attempt in range(_JOIN_ATTEMPTS):
            if attempt or not registered:
                await self._conn.call(m.JoinGroup(self.group, self.consumer_id, self.topics, self.session_ms))
            try:
                await self._rebalance()
                return
            except NotRegistered:
                if attempt == _JOIN_ATTEMPTS - 1:
                    raise NotRegistered(
                        f"consumer {self.consumer_id!r} lost its session in group {self.group!r} during each of "
                        f"{_JOIN_ATTEMPTS} rebalances: session_ms={self.session_ms} is too short for this broker"
                    ) from None

    async def _rebalance(self) -> None:
        assert self._conn is not None and self.group is not None
        version, owned = await rebalance(self._conn.call, self.group, self.consumer_id, self.topics, self._rng)
        positions: dict[tuple[str, int], int] = {}
        for topic, p in owned:
            committed: m.CommittedOffset = await self._conn.call(m.FetchOffset(self.group, topic, p))
            positions[(topic, p)] = (committed.offset if committed.offset is not None
                                     else await self._reset_offset(topic, p))
        # Switch over in one step, after every start offset is known: nobody
        # (a poll, a caller reading ``assignment`` or the version) sees a
        # half-built assignment.
        self.positions, self._prefetched, self._version = positions, {}, version
        self.rebalances += 1

    async def _heartbeat_forever(self) -> None:
        """Keep the ephemeral registration alive and act on the watch, whether or not the app polls.

        ZooKeeper's client keeps a session alive from its own thread and
        delivers watches there (§3.2); this task is that thread. A new
        registry version means a consumer or broker came or went: rebalance.
        """
        while True:
            await asyncio.sleep(self.heartbeat_ms / 1000.0)
            conn = self._conn
            if conn is None or self.group is None:
                return
            try:
                state: m.GroupState = await conn.call(m.Heartbeat(self.group, self.consumer_id))
                changed, expired = state.version != self._version, False
            except NotRegistered:
                changed, expired = True, True
            except MinisysError:
                continue  # the broker is unreachable for now: keep trying
            if changed:
                async with self._lock:
                    if self._conn is not None:
                        await self._join(registered=not expired)

    # ------------------------------------------------------------ pulling

    async def poll(self, timeout_ms: float = 1000.0, max_records: int | None = None) -> list[Record]:
        """Pull from every owned partition once; wait up to ``timeout_ms`` if all are caught up."""
        if self._conn is None:
            raise MinisysError("consumer not started: use `async with Consumer(...)` or `await start()`")
        deadline = time.monotonic() + timeout_ms / 1000.0
        while True:
            async with self._lock:
                records = await self._fetch_round(wait_ms=0, max_records=max_records)
            if records:
                return records
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            async with self._lock:
                records = await self._fetch_round(wait_ms=int(min(left * 1000, self.max_wait_ms)) or 1,
                                                  max_records=max_records)
            if records:
                return records

    async def _fetch_round(self, wait_ms: int, max_records: int | None) -> list[Record]:
        """One pull per owned partition, pipelined on the connection.

        After a pull that returned messages, the next pull for that partition
        is sent at once (a prefetch), so the broker reads and sends while the
        application works through this batch — the paper's consumer iterators
        are fed by background fetcher threads the same way (§3.1).
        """
        assert self._conn is not None
        owned = list(self.positions.items())
        if not owned:
            await asyncio.sleep(wait_ms / 1000.0)
            return []
        per = max(1, wait_ms // len(owned)) if wait_ms else 0
        futures = []
        for (topic, p), offset in owned:
            pre = self._prefetched.pop((topic, p), None)
            if pre is not None and pre[0] == offset and not wait_ms:
                futures.append(pre[1])
            else:
                futures.append(self._conn.submit(m.Fetch(topic, p, offset, self.max_bytes, per)))
        replies = await asyncio.gather(*futures)
        out: list[Record] = []
        for ((topic, p), offset), reply in zip(owned, replies, strict=True):
            if not reply.data or (topic, p) not in self.positions:
                continue
            values, _ = decode_messages(reply.data, check_crc=self.check_crc)
            if max_records is not None:
                values = values[: max(0, max_records - len(out))]
            out.extend([Record(topic, p, offset + i, v) for i, v in enumerate(values)])
            nxt = self.positions[(topic, p)] = offset + len(values)
            if values:
                ahead = self._conn.submit(m.Fetch(topic, p, nxt, self.max_bytes))
                ahead.add_done_callback(_retrieve)
                self._prefetched[(topic, p)] = (nxt, ahead)
        return out

    def __aiter__(self):
        """``async for record in consumer``: the paper's stream iterator, which "never
        terminates" (§3.1) — it blocks in :meth:`poll` until more messages are flushed."""
        return self._stream()

    async def _stream(self):
        while True:
            for record in await self.poll():
                yield record

    async def commit(self) -> None:
        """Write every owned position to the offset registry: everything before it was consumed (§3.1)."""
        if self.group is None:
            raise MinisysError("commit needs a consumer group (Consumer(..., group=...))")
        assert self._conn is not None
        await asyncio.gather(*[self._conn.call(m.CommitOffset(self.group, t, p, off))
                               for (t, p), off in self.positions.items()])

    async def _stop_heartbeats(self) -> None:
        if self._heartbeats is not None:
            self._heartbeats.cancel()
            await asyncio.gather(self._heartbeats, return_exceptions=True)
            self._heartbeats = None

    async def close(self) -> None:
        """Leave the group cleanly (its partitions are rebalanced at once) and disconnect."""
        if self._conn is None:
            return
        await self._stop_heartbeats()
        try:
            if self.group is not None:
                await self._conn.call(m.LeaveGroup(self.group, self.consumer_id))
        except MinisysError:
            pass
        finally:
            await self._conn.close()
            self._conn = None

    async def crash(self) -> None:
        """Disconnect without leaving or committing (tests: an unclean consumer crash)."""
        await self._stop_heartbeats()
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
