"""Key-range transfer when a node joins or leaves (§4.9).

When X joins, the nodes that stop being (or that, with X, are no longer the
only) replicas of some ranges *offer* those ranges to X; X *confirms* only the
ranges it has not already accepted from someone else ("this avoids duplicate
transfers"), and only then are the keys sent. A leaver runs the same protocol
against the ring it is about to announce. After a confirmed transfer a node
deletes the keys of ranges it no longer replicates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minisys.dynamo.merkle import digest
from minisys.dynamo.messages import SyncKeys, TransferConfirm, TransferOffer
from minisys.dynamo.reconcile import from_plain, to_plain
from minisys.dynamo.ring import Ring
from minisys.net import NetError

if TYPE_CHECKING:
    from minisys.dynamo.node import DynamoNode


class RangeTransfer:
    """Offer / confirm / transfer, on both sides."""

    def __init__(self, node: DynamoNode) -> None:
        self.node = node
        self.accepted: dict[str, str] = {}  # range -> the node we accepted it from
        self.keys_sent = 0
        self.offers_refused = 0
        self.delivered: dict[str, str] = {}  # key -> digest of what a confirmed transfer carried
        self.dropped = 0
        node.on(TransferOffer, self.on_offer)

    async def on_offer(self, msg: TransferOffer, sender: str) -> TransferConfirm:
        yes = []
        for r in msg.ranges:
            if self.accepted.get(r, sender) == sender:
                self.accepted[r] = sender
                yes.append(r)
        return TransferConfirm(yes)

    def plan(self, old: Ring | None, new: Ring) -> dict[str, dict[str, list[str]]]:
        """newcomer -> range (in ``new``) -> our keys it should get."""
        n = self.node.config.n
        out: dict[str, dict[str, list[str]]] = {}
        for key in self.node.engine.keys():
            before = set(old.preference_list(key, n)) if old is not None else set()
            for target in new.preference_list(key, n):
                if target not in before and target != self.node.node_id:
                    out.setdefault(target, {}).setdefault(new.range_of(key), []).append(key)
        return out

    async def hand_over(self, old: Ring | None, new: Ring) -> int:
        """Offer every range that gained a replica between ``old`` and ``new``; send what is confirmed."""
        node = self.node
        sent = 0
        for target, ranges in sorted(self.plan(old, new).items()):
            try:
                confirm = await node.call(target, TransferOffer(sorted(ranges)), timeout=node.config.replica_timeout)
                self.offers_refused += len(ranges) - len(confirm.ranges)
                for r in confirm.ranges:
                    items = {k: to_plain(node.engine.get(k)) for k in ranges[r]}
                    await node.call(target, SyncKeys(items, reply=False), timeout=node.config.replica_timeout * 4)
                    sent += len(items)
                    self.delivered.update({k: digest(from_plain(v)) for k, v in items.items()})
            except NetError:
                node.detector.suspect(target)
                continue
        self.keys_sent += sent
        self.drop_unowned(new)
        return sent

    def drop_unowned(self, ring: Ring) -> None:
        """Delete keys this node no longer replicates, once a confirmed transfer carried them."""
        node = self.node
        n = node.config.n
        for key, sent in sorted(self.delivered.items()):
            # Only what the new replica now holds: a write that arrived after the transfer stays.
            if node.node_id not in ring.preference_list(key, n) and digest(node.engine.get(key)) == sent:
                node.engine.delete(key)
                node.anti_entropy.dropped(key)
                self.dropped += 1
        self.delivered.clear()


async def leave(node: DynamoNode) -> None:
    """§4.9 removal: offer our ranges to their new replicas, transfer, then announce ``left``."""
    members, tokens = node.membership.future_without(node.node_id)
    future = node.membership.ring_of(members, tokens)
    await node.transfer.hand_over(node.ring, future)
    node.membership.merge(members, tokens)
    for peer in [p for p in node.membership.live_members() if p != node.node_id]:
        node.send(peer, node.membership.message())
    await node.sleep(0.05)
