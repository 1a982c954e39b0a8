"""Replication with a leader, followers and in-sync replicas (Kafka 0.8; optional in the issue).

The 2011 paper has no replication ("we plan to add built-in replication",
§6). Kafka 0.8 added it in the log's own terms (apache/kafka docs/design):

* each partition has **replicas** on several brokers; one is the **leader**
  (it takes every produce and fetch), the others are **followers** that pull
  from it exactly as a consumer would (``ReplicaFetch`` from their log end);
* the leader tracks the **ISR** (in-sync replicas): a follower stays in it
  while it keeps catching up to the leader's log end, and is dropped if it has
  not done so for ``replica_lag_ms`` (``replica.lag.time.max.ms``); it rejoins
  once its log end reaches the high watermark;
* a message is **committed** once every ISR member has it; the **high
  watermark** is the first offset not yet committed, and consumers read only
  below it. ``acks=all`` produces are answered when the high watermark passes
  them, and refused while the ISR is smaller than ``min_insync`` (``min.insync.replicas``);
* when a leader dies the controller picks a new one **from the ISR**
  (:func:`elect_leader`), so no committed message is lost; a replica that
  becomes a follower truncates its log to its high watermark first.

:class:`LeaderState` is the leader's bookkeeping for one partition and
:func:`follow` a follower's fetch loop; :class:`~minisys.log.broker.Broker`
switches between them when a ``LeaderAndIsr`` arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence

from minisys.errors import MinisysError
from minisys.log import messages as m
from minisys.log.errors import NotLeader
from minisys.log.partition import PartitionLog
from minisys.log.record import scan

#: Kafka's replica.lag.time.max.ms default (30 s).
DEFAULT_REPLICA_LAG_MS = 30_000


def elect_leader(isr: Sequence[str], alive: Iterable[str]) -> str:
    """Clean leader election: the first in-sync replica that is alive.

    Only an ISR member is guaranteed to hold every committed message; Kafka
    calls electing anyone else "unclean" and it is off by default.
    """
    up = set(alive)
    for replica in isr:
        if replica in up:
            return replica
    raise MinisysError(f"no in-sync replica of {list(isr)} is alive: the partition is offline")


class LeaderState:
    """The leader's view of its followers for one partition: their log ends, the ISR, the high watermark."""

    def __init__(self, me: str, log: PartitionLog, replicas: Sequence[str], isr: Sequence[str],
                 lag_ms: float, clock: Callable[[], float]) -> None:
        self.me, self.log, self.lag_ms, self.clock = me, log, lag_ms, clock
        self.replicas = tuple(replicas)
        now = clock()
        self.follower_end: dict[str, int] = {r: 0 for r in replicas if r != me}
        self.caught_up_at: dict[str, float] = {r: now for r in replicas if r != me}
        self.isr: set[str] = set(isr) | {me}
        self.hw = log.commit_limit if log.commit_limit is not None else 0
        log.commit_limit = self.hw
        self._waiters: list[tuple[int, asyncio.Future]] = []

    def record_fetch(self, replica: str, offset: int) -> None:
        """A follower asked for ``offset``: it holds everything before it (Kafka's replication ack)."""
        if replica not in self.follower_end:
            raise MinisysError(f"{replica!r} is not a replica of {self.log.directory.name}")
        self.follower_end[replica] = offset
        if offset >= self.log.next_offset:  # caught up with the leader's log end
            self.caught_up_at[replica] = self.clock()
        if replica not in self.isr and offset >= self.hw:
            self.isr.add(replica)  # caught up again: back in sync
        self.update_hw()

    def shrink_isr(self, now: float | None = None) -> list[str]:
        """Drop followers that have not caught up within ``lag_ms``; returns who was dropped."""
        now = self.clock() if now is None else now
        dropped = [r for r in sorted(self.isr - {self.me})
                   if (now - self.caught_up_at[r]) * 1000.0 > self.lag_ms]
        self.isr -= set(dropped)
        if dropped:
            self.update_hw()
        return dropped

    def update_hw(self) -> bool:
        """HW = min over the ISR of log ends; never moves back.

        Consumers additionally wait for the leader's flush (the paper's rule,
        :attr:`PartitionLog.visible_end`); an acks=all produce does not, as in
        Kafka, where committed means appended by every in-sync replica.
        """
        ends = [self.log.next_offset] + [self.follower_end[r] for r in self.isr if r != self.me]
        new = max(self.hw, min(ends))
        if new == self.hw:
            return False
        self.hw = self.log.commit_limit = new
        still = []
        for offset, future in self._waiters:
            if offset <= new:
                if not future.done():
                    future.set_result(new)
            else:
                still.append((offset, future))
        self._waiters = still
        return True

    async def committed(self, offset: int) -> None:
        """Wait until every message before ``offset`` is committed (an acks=all produce)."""
        if offset <= self.hw:
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((offset, future))
        await future

    def abandon(self, reason: str) -> None:
        """No longer the leader: fail every waiting acks=all produce."""
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(NotLeader(reason))
        self._waiters = []


#: Bytes a follower asks for per pull.
REPLICA_FETCH_BYTES = 1 << 20


async def follow(log: PartitionLog, me: str, topic: str, partition: int, leader_address: str) -> None:
    """A follower's fetch loop, until cancelled: pull from the log end, append, learn the high watermark.

    The fetch offset is the follower's acknowledgement of everything before
    it; a long poll (woken by the leader's appends) keeps replication prompt.
    """
    from minisys.log.client import connect

    conn = None
    try:
        while True:
            try:
                if conn is None:
                    conn = await connect(leader_address)
                reply = await conn.call(m.ReplicaFetch(topic, partition, log.next_offset, REPLICA_FETCH_BYTES,
                                                       me, max_wait_ms=50))
            except MinisysError:  # leader unreachable or refusing: retry until the controller decides
                if conn is not None:
                    await conn.close()
                    conn = None
                await asyncio.sleep(0.05)
                continue
            if reply.data:
                count, end = scan(reply.data)  # whole messages with good CRCs only
                if count:
                    log.append(reply.data[:end], count)
            log.commit_limit = min(reply.high_watermark, log.next_offset)
    finally:
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
