"""The stateless broker (Kafka §3.1): partitions on disk, no per-consumer state.

"Unlike most other messaging systems, in Kafka, the information about how
much each consumer has consumed is not maintained by the broker, but by the
consumer itself." A fetch names its own offset; the broker looks the offset
up (:meth:`PartitionLog.read`) and returns file bytes. The broker's other
jobs are the flush timer (§3.1: flush after N messages *or* T ms) and
retention (§3.1: delete whole segments after the retention period).

It also hosts the group :class:`~minisys.log.registry.Registry` that the
paper keeps in ZooKeeper (a simplification noted in docs/log.md).

Transport-free: :meth:`Broker.handle` maps a request message to a reply;
:mod:`minisys.log.server` puts it on a TCP stream (with ``sendfile``) or on
``minisys.net`` HTTP.

Layout: ``DATA_DIR/<topic>-<partition>/<base offset>.log|.index`` as in
Kafka, ``DATA_DIR/topics.json`` (partition counts) and
``DATA_DIR/offsets.json`` (the offset registry).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minisys.errors import BadInput
from minisys.log import messages as m
from minisys.log.errors import NotEnoughReplicas, NotLeader, UnknownTopicOrPartition
from minisys.log.partition import LogConfig, PartitionLog
from minisys.log.registry import Registry
from minisys.log.replication import DEFAULT_REPLICA_LAG_MS, LeaderState, follow
from minisys.log.segment import FileSlice

TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
MAX_PARTITIONS = 10_000
#: How often the broker checks retention and expires consumer sessions.
HOUSEKEEPING_S = 1.0
#: Longest long-poll a fetch may ask for.
MAX_WAIT_MS = 30_000


class Broker:
    """Topics of partitions in ``data_dir``, served by offset."""

    def __init__(self, data_dir: Path | str, config: LogConfig | None = None,
                 clock: Callable[[], float] = time.time, *, broker_id: str = "broker",
                 replica_lag_ms: float = DEFAULT_REPLICA_LAG_MS, min_insync: int = 1) -> None:
        self.data_dir = Path(data_dir)
        self.broker_id = broker_id
        self.replica_lag_ms, self.min_insync = replica_lag_ms, min_insync
        #: Replication (optional): partitions this broker leads, and those it follows.
        self.leaders: dict[tuple[str, int], LeaderState] = {}
        self.following: dict[tuple[str, int], asyncio.Task] = {}
        self.epochs: dict[tuple[str, int], int] = {}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config = config or LogConfig()
        self.clock = clock
        self.topics: dict[str, int] = {}
        self.logs: dict[tuple[str, int], PartitionLog] = {}
        self._flushed: dict[tuple[str, int], asyncio.Event] = {}
        self._flushing: dict[tuple[str, int], asyncio.Task] = {}
        self._appended: dict[tuple[str, int], asyncio.Event] = {}  # wakes long-polling followers
        self.registry = Registry(self.data_dir / "offsets.json", lambda: self.topics)
        meta = self.data_dir / "topics.json"
        if meta.exists():
            for topic, partitions in json.loads(meta.read_text()).items():
                self._open_topic(topic, partitions)
        self._handlers: dict[type, Callable[[Any], Any]] = {
            m.CreateTopic: self._create_topic, m.Metadata: self._metadata,
            m.Produce: self._produce, m.ListOffsets: self._list_offsets,
            m.JoinGroup: self._join, m.LeaveGroup: self._leave, m.Heartbeat: self._heartbeat,
            m.ReadRegistry: self._read_registry, m.ClaimPartition: self._claim,
            m.ReleasePartitions: self._release, m.CommitOffset: self._commit,
            m.FetchOffset: self._fetch_offset, m.LeaderAndIsr: self._leader_and_isr,
            m.DescribePartition: self._describe,
        }

    # ------------------------------------------------------------ topics

    def _open_topic(self, topic: str, partitions: int) -> None:
        self.topics[topic] = partitions
        for p in range(partitions):
            log = PartitionLog(self.data_dir / f"{topic}-{p}", self.config, self.clock)
            self.logs[(topic, p)] = log
            log.on_flush = self._notifier((topic, p))
            log.on_flush_due = self._flusher((topic, p))

    @staticmethod
    def _wake(events: dict[tuple[str, int], asyncio.Event], key: tuple[str, int]) -> None:
        event = events.pop(key, None)
        if event is not None:
            event.set()

    def _notifier(self, key: tuple[str, int]) -> Callable[[], None]:
        def notify() -> None:
            self._wake(self._flushed, key)  # a flush makes messages visible to consumers
        return notify

    def _flusher(self, key: tuple[str, int]) -> Callable[[], None]:
        """Flush in the background: the fsync runs on a thread, so the broker keeps
        appending and serving while the disk works (the paper's asynchronous flush, §5)."""
        def due() -> None:
            if key in self._flushing:
                return  # the running flush loops until nothing is due
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop (a synchronous caller): flush inline
                self.logs[key].flush()
                return
            self._flushing[key] = loop.create_task(self._flush_in_background(key))
        return due

    async def _flush_in_background(self, key: tuple[str, int]) -> None:
        log = self.logs[key]
        try:
            while True:
                pending = log.begin_flush()
                if log.config.fsync:
                    await asyncio.to_thread(pending.segment.sync)
                log.finish_flush(pending)
                if not log.flush_due():
                    return
        finally:
            self._flushing.pop(key, None)

    async def quiesce(self) -> None:
        """Stop following leaders and wait for background flushes (before closing files)."""
        for task in self.following.values():
            task.cancel()
        await asyncio.gather(*self.following.values(), return_exceptions=True)
        self.following.clear()
        for leader in self.leaders.values():
            leader.abandon(f"broker {self.broker_id} is shutting down")
        while self._flushing:
            await asyncio.gather(*self._flushing.values(), return_exceptions=True)

    def create_topic(self, topic: str, partitions: int) -> int:
        """Create a topic (idempotent with the same partition count)."""
        if not TOPIC_NAME.match(topic):
            raise BadInput(f"topic name {topic!r}: use 1-200 of letters, digits, '.', '_', '-'")
        if not 1 <= partitions <= MAX_PARTITIONS:
            raise BadInput(f"topic {topic!r}: partitions must be 1..{MAX_PARTITIONS}, got {partitions}")
        if topic in self.topics:
            if self.topics[topic] != partitions:
                raise BadInput(f"topic {topic!r} exists with {self.topics[topic]} partitions, not {partitions}")
            return partitions
        self._open_topic(topic, partitions)
        tmp = self.data_dir / "topics.json.tmp"
        tmp.write_text(json.dumps(self.topics, sort_keys=True))
        os.replace(tmp, self.data_dir / "topics.json")
        self.registry.topics_changed()
        return partitions

    def log(self, topic: str, partition: int) -> PartitionLog:
        found = self.logs.get((topic, partition))
        if found is None:
            if topic not in self.topics:
                raise UnknownTopicOrPartition(f"unknown topic {topic!r}")
            raise UnknownTopicOrPartition(
                f"topic {topic!r} has partitions 0..{self.topics[topic] - 1}, not {partition}")
        return found

    # ------------------------------------------------------------ requests

    async def handle(self, request: Any) -> Any:
        """One request → one reply message (Fetch: use :meth:`fetch` for the file slice)."""
        if type(request) in (m.Fetch, m.ReplicaFetch):
            reply, found = await self.fetch(request)
            if found is None:
                return reply
            data = os.pread(found.file.fileno(), found.length, found.position)
            return m.Fetched(reply.offset, reply.high_watermark, len(data), data)
        handler = self._handlers.get(type(request))
        if handler is None:
            raise BadInput(f"the broker does not handle {type(request).__name__}")
        reply = handler(request)
        return await reply if inspect.isawaitable(reply) else reply

    def _create_topic(self, r: m.CreateTopic) -> m.TopicInfo:
        return m.TopicInfo(r.topic, self.create_topic(r.topic, r.partitions))

    def _metadata(self, r: m.Metadata) -> m.TopicInfo:
        if r.topic not in self.topics:
            raise UnknownTopicOrPartition(f"unknown topic {r.topic!r}")
        return m.TopicInfo(r.topic, self.topics[r.topic])

    def _produce(self, r: m.Produce) -> m.Produced | Any:
        log = self.log(r.topic, r.partition)
        key = (r.topic, r.partition)
        if key in self.following:
            raise NotLeader(f"broker {self.broker_id} follows {r.topic}/{r.partition}; send to its leader")
        leader = self.leaders.get(key)
        if r.acks == -1 and leader is not None and len(leader.isr) < self.min_insync:
            raise NotEnoughReplicas(f"{r.topic}/{r.partition} has {len(leader.isr)} in-sync replicas "
                                    f"({', '.join(sorted(leader.isr))}), fewer than min_insync {self.min_insync}")
        before = log.next_offset
        base = log.append(r.messages)
        produced = m.Produced(base, log.next_offset - before)
        if leader is not None:
            leader.update_hw()  # a leader with no followers in its ISR commits at once
            self._wake(self._appended, key)
        if r.acks == -1 and leader is not None:
            return self._when_committed(leader, produced)
        return produced

    async def _when_committed(self, leader: LeaderState, produced: m.Produced) -> m.Produced:
        await leader.committed(produced.base_offset + produced.count)
        return produced

    async def fetch(self, r: m.Fetch | m.ReplicaFetch) -> tuple[m.Fetched, FileSlice | None]:
        """Where the requested bytes are; waits up to ``max_wait_ms`` for a flush if caught up.

        A ``ReplicaFetch`` comes from a follower: it reports the follower's log
        end to the leader and may read past the commit point.
        """
        log = self.log(r.topic, r.partition)
        key = (r.topic, r.partition)
        replica = type(r) is m.ReplicaFetch
        if key in self.following:
            raise NotLeader(f"broker {self.broker_id} follows {r.topic}/{r.partition}; fetch from its leader")
        if replica:
            leader = self.leaders.get(key)
            if leader is None:
                raise NotLeader(f"broker {self.broker_id} does not lead {r.topic}/{r.partition}")
            before = leader.hw
            leader.record_fetch(r.replica, r.offset)
            if leader.hw != before:
                self._wake(self._flushed, key)  # newly committed: consumers may read on
        found = log.read(r.offset, r.max_bytes, replica=replica)
        if found is None and r.max_wait_ms > 0:
            event = (self._appended if replica else self._flushed).setdefault(key, asyncio.Event())
            try:
                await asyncio.wait_for(event.wait(), min(r.max_wait_ms, MAX_WAIT_MS) / 1000.0)
            except TimeoutError:
                pass
            found = log.read(r.offset, r.max_bytes, replica=replica)
        size = 0 if found is None else found.length
        return m.Fetched(r.offset, log.visible_end, size), found

    # ------------------------------------------------------------ replication

    def _leader_and_isr(self, r: m.LeaderAndIsr) -> m.Ok:
        """Become leader or follower of one partition, as the controller says (Kafka 0.8)."""
        key = (r.topic, r.partition)
        log = self.log(r.topic, r.partition)
        if r.epoch < self.epochs.get(key, -1):
            raise BadInput(f"stale LeaderAndIsr for {r.topic}/{r.partition}: epoch {r.epoch} < {self.epochs[key]}")
        self.epochs[key] = r.epoch
        task = self.following.pop(key, None)
        if task is not None:
            task.cancel()
        old = self.leaders.pop(key, None)
        if old is not None:
            old.abandon(f"broker {self.broker_id} is no longer the leader of {r.topic}/{r.partition}")
        if r.leader == self.broker_id:
            self.leaders[key] = LeaderState(self.broker_id, log, r.replicas, r.isr, self.replica_lag_ms, self.clock)
        else:
            # Messages past the high watermark were never committed: the new leader may not have them.
            log.truncate_to(max(log.start_offset, min(log.next_offset, log.commit_limit or 0)))
            self.following[key] = asyncio.get_running_loop().create_task(
                follow(log, self.broker_id, r.topic, r.partition, r.leader_address))
        return m.Ok()

    def _describe(self, r: m.DescribePartition) -> m.PartitionState:
        key = (r.topic, r.partition)
        log = self.log(r.topic, r.partition)
        leader = self.leaders.get(key)
        if leader is not None:
            return m.PartitionState("leader", self.epochs[key], tuple(sorted(leader.isr)), leader.hw, log.next_offset)
        role = "follower" if key in self.following else "single"
        return m.PartitionState(role, self.epochs.get(key, 0), (), log.visible_end, log.next_offset)

    def _list_offsets(self, r: m.ListOffsets) -> m.OffsetRange:
        log = self.log(r.topic, r.partition)
        return m.OffsetRange(log.start_offset, log.visible_end)

    def _join(self, r: m.JoinGroup) -> m.GroupState:
        # A group may subscribe to a topic that does not exist yet: when it is
        # created the broker registry changes and the watch fires (§3.2).
        for topic in r.topics:
            if not TOPIC_NAME.match(topic):
                raise BadInput(f"topic name {topic!r}: use 1-200 of letters, digits, '.', '_', '-'")
        return m.GroupState(self.registry.join(r.group, r.consumer, r.topics, r.session_ms))

    def _leave(self, r: m.LeaveGroup) -> m.Ok:
        self.registry.leave(r.group, r.consumer)
        return m.Ok()

    def _heartbeat(self, r: m.Heartbeat) -> m.GroupState:
        return m.GroupState(self.registry.heartbeat(r.group, r.consumer))

    def _read_registry(self, r: m.ReadRegistry) -> m.RegistryView:
        return self.registry.view(r.group)

    def _claim(self, r: m.ClaimPartition) -> m.Claim:
        self.log(r.topic, r.partition)
        ok, owner = self.registry.claim(r.group, r.consumer, r.topic, r.partition)
        return m.Claim(ok, owner)

    def _release(self, r: m.ReleasePartitions) -> m.Ok:
        self.registry.release(r.group, r.consumer)
        return m.Ok()

    def _commit(self, r: m.CommitOffset) -> m.Ok:
        self.log(r.topic, r.partition)
        if r.offset < 0:
            raise BadInput(f"cannot commit negative offset {r.offset} for {r.topic}/{r.partition}")
        self.registry.commit(r.group, r.topic, r.partition, r.offset)
        return m.Ok()

    def _fetch_offset(self, r: m.FetchOffset) -> m.CommittedOffset:
        self.log(r.topic, r.partition)
        return m.CommittedOffset(self.registry.committed(r.group, r.topic, r.partition))

    # ------------------------------------------------------------ background work

    def tick(self, now: float | None = None) -> None:
        """The flush timer's step: flush every partition whose oldest message waited flush_ms."""
        now = self.clock() if now is None else now
        for log in self.logs.values():
            log.maybe_flush(now)  # due: hands over to the background flusher
        for key, leader in self.leaders.items():
            if leader.shrink_isr():
                self._notifier(key)()

    def housekeeping(self, now: float | None = None) -> list[tuple[str, int, int]]:
        """Retention on every partition, and expiry of dead consumers' sessions."""
        now = self.clock() if now is None else now
        deleted = [(t, p, base) for (t, p), log in self.logs.items() for base in log.apply_retention(now)]
        self.registry.expire()
        return deleted

    async def run_timers(self) -> None:
        """Flush timer every ``flush_ms / 2`` and housekeeping every second, forever."""
        period = max(self.config.flush_ms / 2000.0, 0.001)
        last_housekeeping = 0.0
        while True:
            await asyncio.sleep(period)
            self.tick()
            if time.monotonic() - last_housekeeping >= HOUSEKEEPING_S:
                last_housekeeping = time.monotonic()
                self.housekeeping()

    def close(self) -> None:
        for log in self.logs.values():
            log.close()
