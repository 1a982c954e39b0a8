"""Ring membership by gossip: token maps, seeds, explicit join and leave (§4.8, §4.9).

Membership changes are explicit administrator actions (a node that stops
answering is *not* removed -- outages are mostly transient). Every node keeps
the membership history and token map persisted, and "every second, each node
contacts a peer chosen at random and the two nodes efficiently reconcile their
persisted membership change histories" (§4.8.1), so every node can route any
key itself (zero-hop). Each entry carries a version; the higher version wins,
so merging is commutative and idempotent and views converge.

A new node first holds a map with only itself; *seed* nodes, known to all,
keep two independently joined nodes from forming a logical partition
(§4.8.2). Under strategy 3 a joiner learns the token map from a seed and then
steals tokens; under strategies 1 and 2 it draws random ones. A leaver first
hands its ranges over (:mod:`minisys.dynamo.transfer`), then announces
``left`` (and under strategy 3 gives its tokens away at random).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minisys.dynamo import ring as ringmod
from minisys.dynamo.messages import Gossip, Member, TokenOwner
from minisys.net import NetError

if TYPE_CHECKING:
    from minisys.dynamo.node import DynamoNode

UP, LEFT = "up", "left"


def initial_state(nodes: list[str], strategy: int, *, q: int, tokens_per_node: int, seed: Any,
                  addresses: dict[str, tuple[str, str]] | None = None) -> dict[str, Any]:
    """The membership every founding node starts with (what an operator's config would hold)."""
    import random

    r = ringmod.build(strategy, nodes, tokens_per_node=tokens_per_node, q=q, rng=random.Random(f"{seed}/ring"))
    addresses = addresses or {}
    return {
        "members": {n: [UP, 1, *addresses.get(n, ("", ""))] for n in sorted(nodes)},
        "tokens": {ringmod.token_hex(t): [o, 1] for t, o in r.token_map().items()},
    }


class SharedView:
    """One founding membership shared, copy-on-write, by every simulated node that starts from it.

    A thousand simulated nodes with identical views need not hold a thousand
    copies of a 4,000-token map (or rings): each node reads this until its
    first change, then copies. Pure simulation economy; real nodes each own theirs.
    """

    def __init__(self, plain: dict[str, Any], strategy: int, partitions: int) -> None:
        self.plain = plain
        self.members = {n: Member(*m) for n, m in plain["members"].items()}
        self.tokens = {t: TokenOwner(o, v) for t, (o, v) in plain["tokens"].items()}
        live = {n for n, m in self.members.items() if m.status == UP}
        self.ring = ringmod.Ring({int(t, 16): o.node for t, o in self.tokens.items() if o.node in live},
                                 strategy=strategy, partitions=partitions)


class Membership:
    """This node's view of the ring: members and token owners, each with a version."""

    def __init__(self, node: DynamoNode, interval: float, seeds: tuple[str, ...] = ()) -> None:
        self.node = node
        self.interval = interval
        self.seeds = tuple(s for s in seeds if s != node.node_id)
        self.members: dict[str, Member] = {}
        self.tokens: dict[str, TokenOwner] = {}
        self.rounds = 0
        self._shared: SharedView | None = None
        saved = node.storage.get("membership")
        if saved:
            self._load(saved)
        self._ring: ringmod.Ring | None = None
        node.on(Gossip, self.on_gossip)

    # --- state ----------------------------------------------------------------------------

    def _load(self, plain: dict[str, Any]) -> None:
        self.members = {n: Member(*m) for n, m in plain["members"].items()}
        self.tokens = {t: TokenOwner(o, v) for t, (o, v) in plain["tokens"].items()}

    def plain(self) -> dict[str, Any]:
        """Members and tokens as plain data (what is persisted, and what ``/status`` shows)."""
        if self._shared is not None:
            return self._shared.plain
        return {
            "members": {n: [m.status, m.version, m.address, m.api] for n, m in sorted(self.members.items())},
            "tokens": {t: [o.node, o.version] for t, o in sorted(self.tokens.items())},
        }

    def _persist(self) -> None:
        self.node.storage["membership"] = self.plain()

    def adopt(self, plain: dict[str, Any], shared: SharedView | None = None) -> None:
        """Start from a given membership (the founding configuration) unless we have our own."""
        if self.members:
            return
        if shared is not None:  # read-only until our first change (then _own copies and persists)
            self.members, self.tokens, self._shared = shared.members, shared.tokens, shared
            return
        self._load(plain)
        self._persist()

    def _own(self) -> None:
        if self._shared is not None:
            self.members, self.tokens, self._shared = dict(self.members), dict(self.tokens), None

    def live_members(self) -> list[str]:
        return sorted(n for n, m in self.members.items() if m.status == UP)

    @property
    def ring(self) -> ringmod.Ring:
        if self._ring is None:
            self._ring = self._build_ring()
        return self._ring

    def _build_ring(self) -> ringmod.Ring:
        if self._shared is not None:
            return self._shared.ring
        cfg = self.node.config
        live = set(self.live_members())
        tokens = {int(t, 16): o.node for t, o in self.tokens.items() if o.node in live}
        if not tokens:
            tokens = {0: self.node.node_id}
        return ringmod.Ring(tokens, strategy=cfg.strategy, partitions=cfg.partitions)

    def message(self) -> Gossip:
        return Gossip(self.node.node_id, dict(self.members), dict(self.tokens))

    def merge(self, members: dict[str, Member], tokens: dict[str, TokenOwner]) -> bool:
        """Take every entry whose version is newer than ours; returns whether the ring changed."""
        changed = False
        for n, m in members.items():
            mine = self.members.get(n)
            if mine is None or (m.version, m.status) > (mine.version, mine.status):
                self._own()
                self.members[n] = m
                changed = True
                book = self.node.address_book
                if book is not None and m.address and n != self.node.node_id:
                    book[n] = m.address
        for t, o in tokens.items():
            mine_t = self.tokens.get(t)
            if mine_t is None or (o.version, o.node) > (mine_t.version, mine_t.node):
                self._own()
                self.tokens[t] = o
                changed = True
        if changed:
            self._changed()
        return changed

    def _changed(self) -> None:
        self._persist()
        old = self._ring
        self._ring = None
        self.node.ring_changed(old, self.ring)

    # --- gossip (§4.8.1) ------------------------------------------------------------------

    async def on_gossip(self, msg: Gossip, sender: str) -> Gossip | None:
        self.merge(msg.members, msg.tokens)
        if msg.members != self.members or msg.tokens != self.tokens:
            return self.message()
        return None

    async def gossip_once(self) -> None:
        node = self.node
        others = [n for n in self.live_members() if n != node.node_id]
        candidates = others + [s for s in self.seeds if s not in self.members]
        if not candidates:
            return
        peer = node.random.choice(candidates)
        try:
            reply = await node.call(peer, self.message(), timeout=node.config.replica_timeout)
        except NetError:
            return
        self.rounds += 1
        if reply is not None:
            self.merge(reply.members, reply.tokens)

    async def run_forever(self) -> None:
        while True:
            await self.node.sleep(self.interval * (0.5 + self.node.random.random()))
            await self.gossip_once()

    # --- join and leave (§4.9) ------------------------------------------------------------

    async def join(self) -> None:
        """Become a member: learn the map from a seed, pick tokens, announce ourselves."""
        node = self.node
        cfg = node.config
        for seed in self.seeds:
            try:
                reply = await node.call(seed, self.message(), timeout=cfg.replica_timeout)
            except NetError:
                continue
            if reply is not None:
                self.merge(reply.members, reply.tokens)
            break
        me = node.node_id
        version = self.members[me].version + 1 if me in self.members else 1
        if cfg.strategy == 3 and self.tokens:
            live = set(self.live_members())
            current = {int(t, 16): o.node for t, o in self.tokens.items() if o.node in live}
            moved = ringmod.steal_tokens(current, me, node.random)
            new_tokens = {ringmod.token_hex(t): TokenOwner(o, self.tokens[ringmod.token_hex(t)].version + 1)
                          for t, o in moved.items()}
        elif cfg.strategy == 3:
            new_tokens = {ringmod.token_hex(t): TokenOwner(me, 1) for t in ringmod.partition_tokens(cfg.partitions)}
        else:
            new_tokens = {ringmod.token_hex(t): TokenOwner(me, 1)
                          for t in ringmod.random_tokens([me], cfg.tokens_per_node, node.random)}
        self.merge({me: Member(UP, version, node.address, node.api)}, new_tokens)
        for peer in [n for n in self.live_members() if n != me]:
            node.send(peer, self.message())

    def future_without(self, leaver: str) -> tuple[dict[str, Member], dict[str, TokenOwner]]:
        """The membership after ``leaver`` goes: what a leave will announce."""
        members = dict(self.members)
        m = members[leaver]
        members[leaver] = Member(LEFT, m.version + 1, m.address, m.api)
        tokens = dict(self.tokens)
        if self.node.config.strategy == 3:
            live = set(self.live_members())
            current = {int(t, 16): o.node for t, o in self.tokens.items() if o.node in live}
            for t, o in ringmod.redistribute_tokens(current, leaver, self.node.random).items():
                h = ringmod.token_hex(t)
                tokens[h] = TokenOwner(o, tokens[h].version + 1)
        return members, tokens

    def ring_of(self, members: dict[str, Member], tokens: dict[str, TokenOwner]) -> ringmod.Ring:
        cfg = self.node.config
        live = {n for n, m in members.items() if m.status == UP}
        return ringmod.Ring({int(t, 16): o.node for t, o in tokens.items() if o.node in live},
                            strategy=cfg.strategy, partitions=cfg.partitions)
