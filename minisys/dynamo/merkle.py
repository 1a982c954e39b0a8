"""Merkle-tree anti-entropy between replicas of a key range (§4.7).

Hinted handoff cannot repair everything (a hint can die with its holder), so
replicas also compare their data in the background. Dynamo keeps one Merkle
tree per key range: leaves hash keys' values, parents hash their children.
Two replicas exchange the root for a range they share; equal roots mean
nothing to do, otherwise they descend only into the children that differ and
finally transfer only the keys whose hashes differ -- so the data sent is
proportional to the divergence, not to the range.

Our tree has a fixed shape (``FANOUT`` children, ``DEPTH`` levels below the
root): a key's leaf *bucket* is a hash of the key, and a leaf's hash covers
the (key, digest of its siblings) pairs in it -- the layout Riak's hashtrees
use. A fixed shape lets two replicas compare level by level without first
agreeing on the key set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from minisys.dynamo.messages import BucketDigests, Digests, MerkleHashes, MerkleLevel, SyncKeys
from minisys.dynamo.reconcile import Sibling, from_plain, to_plain
from minisys.net import NetError

if TYPE_CHECKING:
    from minisys.dynamo.node import DynamoNode

FANOUT = 16
DEPTH = 2
LEAVES = FANOUT**DEPTH


def digest(siblings: Iterable[Sibling]) -> str:
    """A hash of a key's sibling set: equal iff the replicas hold the same versions."""
    h = hashlib.sha1()
    for s in sorted(siblings, key=lambda s: (s.dot.node, s.dot.counter)):
        h.update(f"{s.dot.node}\0{s.dot.counter}\0".encode())
        h.update(s.value)
        h.update(b"\1")
    return h.hexdigest()[:16]


def bucket(key: str) -> int:
    return int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:4], "big") % LEAVES


class MerkleTree:
    """The hash tree over one range's ``key -> digest`` map: ``levels[0]`` is the root."""

    def __init__(self, digests: dict[str, str]) -> None:
        self.buckets: list[dict[str, str]] = [{} for _ in range(LEAVES)]
        for key, d in digests.items():
            self.buckets[bucket(key)][key] = d
        leaves = [self._hash(f"{k}={v}" for k, v in sorted(b.items())) if b else "" for b in self.buckets]
        levels = [leaves]
        while len(levels[0]) > 1:
            below = levels[0]
            levels.insert(0, [self._hash(below[i:i + FANOUT]) if any(below[i:i + FANOUT]) else ""
                              for i in range(0, len(below), FANOUT)])
        self.levels = levels

    @staticmethod
    def _hash(parts: Iterable[str]) -> str:
        return hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:16]

    @property
    def root(self) -> str:
        return self.levels[0][0]


class AntiEntropy:
    """Per-range key digests for this node, the Merkle exchange, and its background loop."""

    def __init__(self, node: DynamoNode, interval: float) -> None:
        self.node = node
        self.interval = interval
        #: range -> key -> digest of its siblings (what the trees are built from).
        self.index: dict[str, dict[str, str]] = {}
        #: key -> latest siblings, written since the last tree was asked for (not yet placed in a range).
        self._written: dict[str, list[Sibling]] = {}
        #: range -> key -> latest siblings, written since that range's last tree: hashed lazily.
        self._dirty: dict[str, dict[str, list[Sibling]]] = {}
        #: (ring, pairs) for the round-robin schedule; the cursor is where it resumes (-1: not started).
        self._pairs: tuple[object, list[tuple[str, str]]] | None = None
        self._cursor = -1
        self.keys_sent = 0
        self.keys_received = 0
        self.exchanges = 0
        node.on(MerkleLevel, self.on_level)
        node.on(BucketDigests, self.on_bucket_digests)
        node.on(SyncKeys, self.on_sync_keys)

    # --- the index the trees are built from --------------------------------------------
    #
    # Every write just records its key (no range lookup, no hashing): a key
    # written a hundred times between two exchanges is placed in its range and
    # hashed once, when a tree for that range is next needed (§4.7 trees are
    # only read by the background exchange; the request path must not pay for
    # them).

    def rebuild(self) -> None:
        ring = self.node.ring
        self.index = {}
        self._written = {}
        self._dirty = {}
        for key in self.node.engine.keys():
            self.index.setdefault(ring.range_of(key), {})[key] = digest(self.node.engine.get(key))

    def stored(self, key: str, siblings: list[Sibling]) -> None:
        self._written[key] = siblings

    def _place(self) -> None:
        """Sort the keys written since last time into their ranges (still unhashed)."""
        written, self._written = self._written, {}
        range_of = self.node.ring.range_of
        for key, siblings in written.items():
            name = range_of(key)
            dirty = self._dirty.get(name)
            if dirty is None:
                dirty = self._dirty[name] = {}
            dirty[key] = siblings

    def dropped(self, key: str) -> None:
        self._written.pop(key, None)
        name = self.node.ring.range_of(key)
        self._dirty.get(name, {}).pop(key, None)
        self.index.get(name, {}).pop(key, None)

    def digests(self, range_name: str) -> dict[str, str]:
        """``key -> digest`` for one range, after hashing the keys written since last asked."""
        if self._written:
            self._place()
        index = self.index.setdefault(range_name, {})
        dirty = self._dirty.pop(range_name, None)
        if dirty:
            for key, siblings in dirty.items():
                index[key] = digest(siblings)
        return index

    def tree(self, range_name: str) -> MerkleTree:
        return MerkleTree(self.digests(range_name))

    # --- serving a peer -------------------------------------------------------------------

    async def on_level(self, msg: MerkleLevel, sender: str) -> MerkleHashes:
        level = self.tree(msg.range).levels[msg.level]
        return MerkleHashes([level[i] for i in msg.indices])

    async def on_bucket_digests(self, msg: BucketDigests, sender: str) -> Digests:
        tree = self.tree(msg.range)
        out: dict[str, str] = {}
        for b in msg.buckets:
            out.update(tree.buckets[b])
        return Digests(out)

    async def on_sync_keys(self, msg: SyncKeys, sender: str) -> SyncKeys | None:
        mine: dict[str, object] = {}
        for key, plain in msg.items.items():
            self.keys_received += 1
            merged = self.node.store(key, from_plain(plain))
            if msg.reply:
                mine[key] = to_plain(merged)
        await self.node.engine.sync()  # a transfer's sender may delete its copy once we answer
        return SyncKeys(mine, reply=False) if msg.reply else None

    # --- initiating -----------------------------------------------------------------------

    async def exchange(self, peer: str, range_name: str) -> int:
        """Compare our tree for ``range_name`` with ``peer``'s; sync differing keys. Returns their count."""
        node = self.node
        timeout = node.config.replica_timeout
        mine = self.tree(range_name)
        self.exchanges += 1
        differing = [0]
        for level in range(len(mine.levels)):
            if level > 0:
                differing = [c for i in differing for c in range(i * FANOUT, (i + 1) * FANOUT)]
            theirs = await node.call(peer, MerkleLevel(range_name, level, differing), timeout=timeout)
            differing = [i for i, h in zip(differing, theirs.hashes, strict=False) if h != mine.levels[level][i]]
            if not differing:
                return 0
        remote = (await node.call(peer, BucketDigests(range_name, differing), timeout=timeout)).digests
        local: dict[str, str] = {}
        for b in differing:
            local.update(mine.buckets[b])
        keys = sorted(k for k in set(local) | set(remote) if local.get(k) != remote.get(k))
        if not keys:
            return 0
        items = {k: to_plain(node.engine.get(k)) for k in keys}
        self.keys_sent += len(keys)
        reply = await node.call(peer, SyncKeys(items), timeout=timeout)
        for key, plain in reply.items.items():
            node.store(key, from_plain(plain))
        return len(keys)

    def schedule(self) -> list[tuple[str, str]]:
        """Every ``(range, peer)`` pair this node should compare: each range it
        replicates, with each other replica of that range (cached per ring)."""
        node = self.node
        ring = node.ring
        if self._pairs is None or self._pairs[0] is not ring:
            pairs = [(r, p) for r in node.my_ranges()
                     for p in ring.range_preference_list(r, node.config.n) if p != node.node_id]
            self._pairs = (ring, pairs)
        return self._pairs[1]

    def next_pair(self) -> tuple[str, str] | None:
        """The next pair in round-robin order whose peer we do not suspect.

        Round-robin, not a random draw: a random range per round gives no bound
        on how long one range (or one peer of it) goes uncompared -- a replica
        that got the only copy of some writes (a delivered hint) could wait
        indefinitely. Cycling through every pair bounds it by one cycle,
        ``len(schedule())`` rounds (:meth:`cycle_seconds`), as Riak's active
        anti-entropy does. The starting point is random so the nodes do not
        all sweep the same ranges in step.
        """
        pairs = self.schedule()
        if not pairs:
            return None
        if self._cursor < 0:
            self._cursor = self.node.random.randrange(len(pairs))
        healthy = self.node.detector.healthy
        for _ in range(len(pairs)):
            range_name, peer = pairs[self._cursor % len(pairs)]
            self._cursor = (self._cursor + 1) % len(pairs)
            if healthy(peer):
                return range_name, peer
        return None

    def cycle_seconds(self) -> float:
        """Worst-case virtual seconds for the background loop to compare every pair once."""
        return len(self.schedule()) * self.interval * 1.5

    async def run_forever(self) -> None:
        """Every ``interval`` (jittered): the next ``(range, peer)`` pair in round-robin order, one exchange."""
        node = self.node
        while True:
            await node.sleep(self.interval * (0.5 + node.random.random()))
            pair = self.next_pair()
            if pair is None:
                continue
            range_name, peer = pair
            try:
                await self.exchange(peer, range_name)
            except NetError:
                node.detector.suspect(peer)
