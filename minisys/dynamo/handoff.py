"""Sloppy quorum and hinted handoff (§4.6).

"All read and write operations are performed on the first N *healthy* nodes
from the preference list, which may not always be the first N nodes
encountered while walking the consistent hashing ring." When A (one of the
top N) is down, its replica goes to the next healthy node D *with a hint*
naming A. D keeps hinted replicas in a separate local store that it scans
periodically; once A is reachable again D delivers them and, after a
successful transfer, deletes its copy. This keeps writes available through
node and network failures (W=1 fails only if *every* node is down).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from minisys.dynamo.messages import ReplicaPut
from minisys.dynamo.reconcile import to_plain
from minisys.net import NetError

if TYPE_CHECKING:
    from minisys.dynamo.node import DynamoNode


class SloppyPlan:
    """Whom a request goes to: ``targets`` as (node, hint) pairs, then stand-ins for failures.

    ``local_hint`` is non-empty when the coordinator itself is outside the top
    N and keeps its copy as a hint for that node. ``standins`` is built on
    first use: with every replica answering (the common case) nobody asks.
    """

    __slots__ = ("targets", "local_hint", "_standins")

    def __init__(self, targets: list[tuple[str, str]], standins: Iterable[str] = (), local_hint: str = "") -> None:
        self.targets = targets
        self.local_hint = local_hint
        self._standins: Iterable[str] = standins  # made a deque on first use (a generator until then)

    @property
    def standins(self) -> deque[str]:
        standins = self._standins
        if not isinstance(standins, deque):
            standins = self._standins = deque(standins)
        return standins

    def replace(self, failed: str, hint: str, top: Sequence[str]) -> tuple[str, str] | None:
        """The next stand-in for a target that failed, carrying the hint it should hold."""
        intended = hint or (failed if failed in top else "")
        standins = self.standins
        if not standins:
            return None
        return standins.popleft(), intended


def sloppy_quorum(plist: Sequence[str], n: int, me: str, healthy: Callable[[str], bool] | None,
                  *, local: bool) -> SloppyPlan:
    """The first N healthy nodes of ``plist``, each fallback hinted with the top-N node it covers.

    ``local`` means the coordinator stores a copy itself (always for puts; for
    gets only when it is a replica), so one fewer remote replica is needed.
    ``healthy=None`` says the coordinator suspects nobody (the common case:
    every node counts as healthy without asking).
    """
    top = plist[:n]
    local_hint = ""
    if me in top:
        intended = [p for p in top if p != me]
    else:
        intended = list(top)
        if local:
            local_hint = intended.pop()  # the coordinator stands in for the last top-N node
    if healthy is None:
        return SloppyPlan([(p, "") for p in intended], (p for p in plist[n:] if p != me), local_hint)
    rest = deque(p for p in plist[n:] if p != me and healthy(p))
    targets: list[tuple[str, str]] = []
    missing: list[str] = []
    for node in intended:
        if healthy(node):
            targets.append((node, ""))
        else:
            missing.append(node)
    for node in missing:
        if rest:
            targets.append((rest.popleft(), node))
    return SloppyPlan(targets, rest, local_hint)


class HintedHandoff:
    """The background scanner that hands hinted replicas back to the nodes they belong to."""

    def __init__(self, node: DynamoNode, interval: float) -> None:
        self.node = node
        self.interval = interval
        self.delivered = 0

    async def run_forever(self) -> None:
        while True:
            await self.node.sleep(self.interval * (0.5 + self.node.random.random()))
            await self.deliver_once()

    async def deliver_once(self) -> int:
        """Try every hint whose intended node we do not currently suspect; delete on success."""
        node = self.node
        done = 0
        if not node.engine.hint_count():
            return 0
        for target, key, siblings in node.engine.hints():
            if not node.detector.healthy(target):
                continue
            try:
                await node.call(target, ReplicaPut(key, to_plain(siblings)), timeout=node.config.replica_timeout)
            except NetError:
                node.detector.suspect(target)
                continue
            node.detector.alive(target)
            # A newer hint may have arrived while we were delivering; only drop what we sent.
            current = node.engine.hinted(key).get(target, [])
            if {(s.dot.node, s.dot.counter) for s in current} - {(s.dot.node, s.dot.counter) for s in siblings}:
                continue
            node.engine.delete_hint(target, key)
            done += 1
        self.delivered += done
        return done

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for target, _, _ in self.node.engine.hints():
            out[target] = out.get(target, 0) + 1
        return out
