"""The registries of §3.2, which the paper keeps in ZooKeeper.

"Kafka uses Zookeeper for... (1) detecting the addition and the removal of
brokers and consumers, (2) triggering a rebalance process in each consumer
when the above events happen, and (3) maintaining the consumption
relationship and keeping track of the consumed offset of each partition."
Four registries:

* **broker registry** (ephemeral): the topics and their partitions — here
  the broker's own topic table, passed in as a callable;
* **consumer registry** (ephemeral): each consumer of a group and the topics
  it subscribes to; an entry disappears when its session expires (the
  consumer stopped heartbeating — an unclean crash) or it leaves;
* **ownership registry** (ephemeral): which consumer of a group owns which
  partition; at most one owner, enforced here ("claim" fails on conflict);
* **offset registry** (persistent): the last committed offset per group and
  partition, written to a JSON file so it survives a broker restart.

ZooKeeper *watchers* become a version number: every change to the broker or
consumer registry bumps it, and a consumer that sees a new version in a
heartbeat reply runs the rebalance (:mod:`minisys.log.rebalance`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from minisys.log.errors import NotRegistered
from minisys.log.messages import ConsumerEntry, PartitionOwner, RegistryView


@dataclass
class _Member:
    topics: tuple[str, ...]
    session_s: float
    expires_at: float


@dataclass
class _Group:
    version: int = 0
    members: dict[str, _Member] = field(default_factory=dict)
    owners: dict[tuple[str, int], str] = field(default_factory=dict)


class Registry:
    """Consumer, ownership and offset registries for every group, plus watch versions."""

    def __init__(self, offsets_path: Path | None, topics: Callable[[], dict[str, int]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.offsets_path = offsets_path
        self.topics = topics
        self.clock = clock
        self.groups: dict[str, _Group] = {}
        self.offsets: dict[str, dict[str, int]] = {}
        if offsets_path is not None and offsets_path.exists():
            self.offsets = json.loads(offsets_path.read_text())

    def _group(self, group: str) -> _Group:
        return self.groups.setdefault(group, _Group())

    def _member(self, group: str, consumer: str) -> _Member:
        self.expire()
        member = self._group(group).members.get(consumer)
        if member is None:
            raise NotRegistered(f"consumer {consumer!r} is not registered in group {group!r} (session expired?)")
        member.expires_at = self.clock() + member.session_s  # any request renews the session
        return member

    # ------------------------------------------------------------ consumer registry

    def join(self, group: str, consumer: str, topics: tuple[str, ...], session_ms: int) -> int:
        g = self._group(group)
        session = session_ms / 1000.0
        g.members[consumer] = _Member(tuple(topics), session, self.clock() + session)
        g.version += 1
        return g.version

    def leave(self, group: str, consumer: str) -> None:
        g = self._group(group)
        if g.members.pop(consumer, None) is not None:
            self._drop_ownership(g, consumer)
            g.version += 1

    def heartbeat(self, group: str, consumer: str) -> int:
        """Renew the session; the reply's version is the watch (§3.2)."""
        self._member(group, consumer)
        return self.groups[group].version

    def expire(self) -> list[tuple[str, str]]:
        """Drop consumers whose session ran out: their ephemeral entries vanish."""
        now = self.clock()
        gone = []
        for name, g in self.groups.items():
            for consumer in [c for c, m in g.members.items() if m.expires_at < now]:
                del g.members[consumer]
                self._drop_ownership(g, consumer)
                g.version += 1
                gone.append((name, consumer))
        return gone

    def topics_changed(self) -> None:
        """The broker registry changed: every group's watch fires."""
        for g in self.groups.values():
            g.version += 1

    def view(self, group: str) -> RegistryView:
        self.expire()
        g = self._group(group)
        return RegistryView(
            version=g.version,
            consumers=tuple(ConsumerEntry(c, m.topics) for c, m in sorted(g.members.items())),
            partitions=dict(self.topics()),
            owners=tuple(PartitionOwner(t, p, c) for (t, p), c in sorted(g.owners.items())),
        )

    # ------------------------------------------------------------ ownership registry

    def claim(self, group: str, consumer: str, topic: str, partition: int) -> tuple[bool, str]:
        """Write ownership of one partition; fails if another consumer still owns it."""
        self._member(group, consumer)
        owners = self.groups[group].owners
        owner = owners.setdefault((topic, partition), consumer)
        return owner == consumer, owner

    def release(self, group: str, consumer: str) -> None:
        self._drop_ownership(self._group(group), consumer)

    @staticmethod
    def _drop_ownership(g: _Group, consumer: str) -> None:
        for key in [k for k, c in g.owners.items() if c == consumer]:
            del g.owners[key]

    # ------------------------------------------------------------ offset registry

    def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        self.offsets.setdefault(group, {})[f"{topic}/{partition}"] = offset
        if self.offsets_path is not None:
            tmp = self.offsets_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.offsets, sort_keys=True))
            os.replace(tmp, self.offsets_path)

    def committed(self, group: str, topic: str, partition: int) -> int | None:
        return self.offsets.get(group, {}).get(f"{topic}/{partition}")
