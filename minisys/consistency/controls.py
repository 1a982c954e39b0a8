"""Control stores: small replicated registers whose guarantees are known.

A checker that never fails proves nothing, so the toolkit ships stores it
*must* catch and one it must pass, all on :class:`minisys.net.SimNetwork`
so every fault schedule replays from its seed:

* ``merge="vclock"`` — sibling-preserving, like Dynamo §4.4, with dotted
  version vectors: each version carries the dot that made it and the
  causal context its writer had read; a version is discarded only if
  another one's context covers its dot, so concurrent versions stay
  siblings until a write carrying their merged context reconciles them.
  Acknowledged writes are never lost and replicas converge — but it is
  *not* linearizable (a write is acknowledged by one replica and copied
  asynchronously, so reads elsewhere are stale).
* ``merge="broken"`` — the deliberately broken vector-clock merge: it
  orders clocks by the *sum* of their counters, a total order posing as
  the partial one, so one of two concurrent writes silently disappears.
* ``merge="lww"`` — last write wins by the coordinator's wall-clock
  timestamp (Cassandra, Riak with ``allow_mult=false``): loses concurrent
  writes, and under clock skew even causally later ones.

Replication is push only: the coordinator stores the write, answers, and
sends the key's whole sibling set to the other replicas (lost across a
partition); every
``ANTI_ENTROPY_INTERVAL`` a replica pushes its whole store to a random peer
(Dynamo §4.7 in its simplest form, without Merkle trees), which heals
divergence once the network does. State lives in the node's durable
``storage`` so a crash loses nothing acknowledged.
"""

from __future__ import annotations

from typing import Any

from minisys.net import Node, Transport, handler, message

#: Seconds between two anti-entropy pushes of one replica (jittered).
ANTI_ENTROPY_INTERVAL = 0.05
MERGES = ("vclock", "broken", "lww")

Clock = tuple  # ((node, counter), ...) sorted by node
#: (value, dot node, dot counter, causal context clock, timestamp)
Version = tuple


@message(name="consistency.Get")
class Get:
    key: str


@message(name="consistency.Got")
class Got:
    versions: tuple


@message(name="consistency.Put")
class Put:
    key: str
    value: Any
    context: tuple  # the merged clock of the versions the client read


@message(name="consistency.Replicate")
class Replicate:
    key: str
    versions: tuple


@message(name="consistency.Sync")
class Sync:
    store: tuple  # ((key, versions), ...)


def descends(a: Clock, b: Clock) -> bool:
    """Dynamo §4.4: ``a`` descends from ``b`` if every counter in ``b`` is ≤ ``a``'s."""
    ca = dict(a)
    return all(ca.get(n, 0) >= c for n, c in b)


def join(clocks: list[Clock]) -> Clock:
    """The pointwise maximum: the context that subsumes every clock given."""
    out: dict[str, int] = {}
    for clock in clocks:
        for n, c in clock:
            out[n] = max(out.get(n, 0), c)
    return tuple(sorted(out.items()))


def clock_of(v: Version) -> Clock:
    """A version's full vector clock: its causal context plus its own dot."""
    return join([v[3], ((v[1], v[2]),)])


def obsoletes(w: Version, v: Version) -> bool:
    """``w`` supersedes ``v`` iff ``w``'s writer had seen ``v`` (its context holds ``v``'s dot).

    Dotted version vectors (Preguiça et al. 2010): a per-version *dot*
    instead of a bare server-id counter, so two writes through one
    coordinator with the same stale context stay concurrent instead of one
    falsely dominating the other (the pitfall in the Dynamo brief, §5.2).
    """
    return dict(w[3]).get(v[1], 0) >= v[2]


def merge(mode: str, current: list[Version], incoming: list[Version]) -> list[Version]:
    """Reconcile two replicas' versions of one key under ``mode``."""
    every = {(v[1], v[2]): v for v in [*current, *incoming]}
    versions = list(every.values())
    if not versions:
        return []
    if mode == "lww":
        return [max(versions, key=lambda v: (v[4], v[1]))]
    if mode == "broken":  # BUG on purpose: a total order by counter sum replaces descent
        return [max(versions, key=lambda v: (sum(c for _, c in clock_of(v)), v[1]))]
    keep = [v for v in versions if not any(obsoletes(w, v) for w in versions if w is not v)]
    return sorted(keep, key=lambda v: (v[1], v[2]))


class Replica(Node):
    """One replica of every key; any replica coordinates any request."""

    def __init__(self, transport: Transport, mode: str = "vclock") -> None:
        super().__init__(transport)
        if mode not in MERGES:
            raise ValueError(f"merge mode must be one of {MERGES}, not {mode!r}")
        self.mode = mode

    async def start(self) -> None:
        self.spawn(self.anti_entropy())

    def versions(self, key: str) -> list[Version]:
        return [_version(v) for v in self.storage.get(f"k/{key}", [])]

    def keys(self) -> list[str]:
        return sorted(k[2:] for k in self.storage if k.startswith("k/"))

    def _store(self, key: str, incoming: list[Version]) -> None:
        merged = merge(self.mode, self.versions(key), incoming)
        self.storage[f"k/{key}"] = [[v[0], v[1], v[2], [list(p) for p in v[3]], v[4]] for v in merged]

    @handler
    async def on_get(self, msg: Get, sender: str) -> Got:
        return Got(tuple(self.versions(msg.key)))

    @handler
    async def on_put(self, msg: Put, sender: str) -> Got:
        """Dynamo §5 put: the coordinator mints the next dot of its own counter."""
        mine = self.versions(msg.key)
        counter = max([c for v in mine for n, c in clock_of(v) if n == self.node_id], default=0)
        counter = max(counter, dict(msg.context).get(self.node_id, 0)) + 1
        version: Version = (msg.value, self.node_id, counter, tuple(tuple(p) for p in msg.context), self.now())
        self._store(msg.key, [version])
        # The whole sibling set travels, not just the new version (as in
        # DVVSets): a replica that learns dot (n, k) learns every earlier
        # dot of n at the same time, so a read's joined context never
        # claims a version the reader did not see.
        everything = tuple(self.versions(msg.key))
        for peer in self.peers():
            self.send(peer, Replicate(msg.key, everything))
        return Got((version,))

    @handler
    async def on_replicate(self, msg: Replicate, sender: str) -> None:
        self._store(msg.key, [_version(v) for v in msg.versions])

    @handler
    async def on_sync(self, msg: Sync, sender: str) -> None:
        for key, versions in msg.store:
            self._store(key, [_version(v) for v in versions])

    async def anti_entropy(self) -> None:
        while True:
            await self.sleep(ANTI_ENTROPY_INTERVAL * (0.5 + self.random.random()))
            peers = self.peers()
            if peers:
                store = tuple((k, tuple(self.versions(k))) for k in self.keys())
                self.send(self.random.choice(peers), Sync(store))


def _version(raw: Any) -> Version:
    """Plain data (lists, from storage or the wire) back to a hashable version."""
    value, node, counter, context, ts = raw
    value = tuple(value) if isinstance(value, list) else value
    return (value, node, counter, tuple((n, c) for n, c in context), ts)
