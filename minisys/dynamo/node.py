"""A Dynamo storage node: the get/put request state machines and their coordinator (§4.5, §5, §6).

Every node can take any request. One state machine per request runs on the
node that coordinates it:

* **put** (§4.5): the *coordinator* is the first reachable node of the key's
  top N (a node outside the top N forwards the put; with a context it is the
  node that replied fastest to the previous read, §6.1). It builds the new
  version (:func:`~minisys.dynamo.reconcile.update`), writes it locally, sends
  it to the other N-1 of the first N healthy nodes and answers once W-1 of
  them acknowledged (W counts the local write).
* **get** (§5): any node coordinates; it asks the first N healthy nodes for
  every version they hold, waits for R replies, returns every causally
  unrelated version with a context subsuming them and -- after replying --
  waits briefly for stragglers and writes the merged result back to replicas
  that answered with stale data (*read repair*).

A replica that does not answer is suspected (:mod:`minisys.dynamo.failure`)
and replaced by the next healthy node with a hint (:mod:`minisys.dynamo.handoff`).
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from minisys.dynamo import reconcile
from minisys.dynamo.context import Context
from minisys.dynamo.failure import FailureDetector
from minisys.dynamo.gossip import Membership, SharedView
from minisys.dynamo.handoff import HintedHandoff, SloppyPlan, sloppy_quorum
from minisys.dynamo.merkle import AntiEntropy
from minisys.dynamo.messages import (
    Ack,
    ClientGet,
    ClientPut,
    GetReply,
    PutReply,
    ReplicaData,
    ReplicaGet,
    ReplicaPut,
    Status,
    StatusQuery,
)
from minisys.dynamo.reconcile import Sibling, from_plain, to_plain
from minisys.dynamo.ring import Ring
from minisys.dynamo.storage import Engine, NodeStorageEngine
from minisys.dynamo.transfer import RangeTransfer
from minisys.errors import BadInput, MinisysError
from minisys.net import NetError, Node, RemoteError, Transport, handler

MODES = ("vv", "lww")
DOT_BLOCK = 1000


class DynamoUnavailable(MinisysError):
    """Too few replicas answered to meet R or W (§4.5): the request failed."""


@dataclass(frozen=True)
class DynamoConfig:
    """An instance's knobs: N, R, W (§4.5), the partitioning strategy (§6.2), timers, limits."""

    n: int = 3
    r: int = 2
    w: int = 2
    strategy: int = 3
    partitions: int = 64
    tokens_per_node: int = 8
    fallbacks: int = 6  # nodes past the top N a sloppy quorum may use (§4.6)
    mode: str = "vv"  # "vv": vector clocks + siblings; "lww": last write wins (loses data)
    replica_timeout: float = 0.5
    request_timeout: float = 3.0
    read_repair: bool = True
    fastest_replier_coordinates: bool = True
    handoff_interval: float = 1.0  # 0 disables the background loop
    anti_entropy_interval: float = 1.0
    gossip_interval: float = 1.0
    retry_after: float = 1.0
    truncate_at: int = 10
    max_key_bytes: int = 1024
    max_value_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        if self.n < 1:
            raise BadInput(f"n={self.n}: need at least one replica")
        for name in ("r", "w"):
            value = getattr(self, name)
            if not 1 <= value <= self.n:
                raise BadInput(f"{name}={value}: must be between 1 and n={self.n}")
        if self.mode not in MODES:
            raise BadInput(f"mode={self.mode!r}: choose one of {', '.join(MODES)}")
        if self.strategy not in (1, 2, 3):
            raise BadInput(f"strategy={self.strategy}: the paper's strategies are 1, 2 and 3")


class QuorumRound:
    """Fan one request out to a sloppy-quorum plan; replace failures with hinted stand-ins.

    The paper's per-request state machine (§5): each replica call answers
    through a callback (:meth:`~minisys.net.Node.call_then`), no task per
    replica. Replies are processed as they arrive (one future wakes the waiter
    once enough are in), so waiting for R of N costs the same whatever N is,
    and letting the stragglers finish after the client was answered (read
    repair, §5; the rest of a put's N copies) needs no task of its own:
    :meth:`finish` registers what to do once all are in.
    """

    __slots__ = ("node", "plan", "top", "message", "timeout", "convert", "replies", "order", "hints",
                 "_arrived", "_outstanding", "_need", "_wakeup", "_then")

    def __init__(self, node: DynamoNode, plan: SloppyPlan, top: Sequence[str],
                 message: Callable[[str, str], Any], timeout: float,
                 convert: Callable[[Any], Any] | None = None) -> None:
        self.node = node
        self.plan = plan
        self.top = top
        self.message = message
        self.timeout = timeout
        self.convert = convert
        self.replies: dict[str, Any] = {}
        self.order: list[str] = []
        self.hints: dict[str, str] = {}
        self._arrived: deque[tuple[str, str, bool, Any]] = deque()
        self._outstanding = 0
        self._need = 0  # replies someone is waiting for; 0: arrivals just queue up
        self._wakeup: asyncio.Future[None] | None = None
        self._then: Callable[[], None] | None = None
        for target, hint in plan.targets:
            self._launch(target, hint)

    def _launch(self, target: str, hint: str) -> None:
        self.hints[target] = hint
        self._outstanding += 1

        def arrive(reply: Any, error: BaseException | None) -> None:
            self._outstanding -= 1
            if error is None and self.convert is not None:
                try:
                    reply = self.convert(reply)
                except Exception as bad:  # a reply we cannot read counts as no reply
                    error = RemoteError(target, "reply", type(bad).__name__, str(bad))
            self._arrived.append((target, hint, error is None, reply if error is None else error))
            if self._need:
                self._process()

        self.node.transport.call_then(target, self.message(target, hint), arrive, self.timeout)

    def _process(self) -> None:
        """Take arrivals in order until the waiter has ``_need`` replies (failures launch stand-ins)."""
        arrived = self._arrived
        replies = self.replies
        need = self._need
        while arrived and len(replies) < need:
            target, hint, ok, result = arrived.popleft()
            if ok:
                self.node.detector.alive(target)
                replies[target] = result
                self.order.append(target)
                continue
            self.node.detector.suspect(target)
            nxt = self.plan.replace(target, hint, self.top)
            if nxt is not None:
                self._launch(*nxt)
        if self._unsatisfied():
            return
        self._satisfy()

    def _unsatisfied(self) -> bool:
        """Fewer than ``_need`` replies while someone may still answer."""
        return len(self.replies) < self._need and bool(self._arrived or self._outstanding)

    def _satisfy(self) -> None:
        """Enough replies (or nobody left to ask): wake the waiter, run what :meth:`finish` registered."""
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)
        if self._then is not None:
            then, self._then = self._then, None
            self._need = 0
            then()

    async def wait(self, need: int) -> int:
        """Until ``need`` replies arrived or nobody is left to ask; returns the count."""
        self._need = need
        self._process()
        if self._unsatisfied():
            self._wakeup = self.node.transport.loop.create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None
        self._need = 0
        return len(self.replies)

    def finish(self, then: Callable[[], None] | None = None) -> None:
        """Let the stragglers (and their stand-ins) complete -- all N copies, or as many as exist -- then ``then()``."""
        self._then = then or _nothing
        self._need = 1 << 30
        self._process()


def _nothing() -> None:
    pass


def _siblings_of(reply: ReplicaData) -> list[Sibling]:
    return from_plain(reply.siblings)


class DynamoNode(Node):
    """One storage node: engine, ring view, and the request coordinator."""

    def __init__(self, transport: Transport, config: DynamoConfig | None = None, *,
                 engine: Callable[[DynamoNode], Engine] | None = None,
                 bootstrap: dict[str, Any] | None = None, shared: SharedView | None = None,
                 seeds: Sequence[str] = (),
                 address: str = "", api: str = "", join: bool = False) -> None:
        super().__init__(transport)
        self.config = config or DynamoConfig()
        self.address = address
        self.api = api
        #: node id -> RPC URL, kept up to date from gossip (set by the real server's network).
        self.address_book: dict[str, str] | None = None
        self.join_on_start = join
        self.engine: Engine = engine(self) if engine else NodeStorageEngine(self.storage)
        self.detector = FailureDetector(self.now, self.config.retry_after)
        self.stats: dict[str, int] = {"gets": 0, "puts": 0, "forwarded": 0, "read_repairs": 0,
                                      "failed": 0, "coordinated_puts": 0}
        self._ready = False
        self._my_ranges: tuple[Ring, list[str]] | None = None
        self._dot_next = self._dot_limit = int(self.storage.get("dot_limit", 0))
        self.membership = Membership(self, self.config.gossip_interval, tuple(seeds))
        if bootstrap is not None:
            self.membership.adopt(bootstrap, shared)
        self.handoff = HintedHandoff(self, self.config.handoff_interval)
        self.anti_entropy = AntiEntropy(self, self.config.anti_entropy_interval)
        self.transfer = RangeTransfer(self)
        self.anti_entropy.rebuild()
        self._ready = True

    async def start(self) -> None:
        if self.join_on_start and self.node_id not in self.membership.live_members():
            await self.membership.join()
        if self.config.gossip_interval > 0:
            self.spawn(self.membership.run_forever(), name=f"{self.node_id}.gossip")
        if self.config.handoff_interval > 0:
            self.spawn(self.handoff.run_forever(), name=f"{self.node_id}.handoff")
        if self.config.anti_entropy_interval > 0:
            self.spawn(self.anti_entropy.run_forever(), name=f"{self.node_id}.anti-entropy")

    @property
    def ring(self) -> Ring:
        return self.membership.ring

    def my_ranges(self) -> list[str]:
        """The ranges this node replicates under the current ring (cached per ring)."""
        ring = self.ring
        if self._my_ranges is None or self._my_ranges[0] is not ring:
            self._my_ranges = (ring, ring.ranges_replicated_by(self.node_id, self.config.n))
        return self._my_ranges[1]

    def ring_changed(self, old: Ring | None, new: Ring) -> None:
        """Membership moved tokens: re-index ranges and offer data to new replicas (§4.9)."""
        if not self._ready:
            return
        self.anti_entropy.rebuild()
        self.spawn(self.transfer.hand_over(old, new), name=f"{self.node_id}.transfer")

    # --- local storage ----------------------------------------------------------------------

    def _sync(self, *lists: list[Sibling]) -> list[Sibling]:
        return reconcile.lww_sync(*lists) if self.config.mode == "lww" else reconcile.sync(*lists)

    def _merge_with(self, ours: list[Sibling], *others: list[Sibling]) -> list[Sibling]:
        """``_sync(ours, *others)`` where ``ours`` came from our engine (already merged).

        Replicas in agreement send back the very versions we hold (decoding
        reuses known versions, :mod:`~minisys.dynamo.reconcile`), and when
        every other list equals ours (same versions, so the same dots) the
        merge is ours.
        """
        for other in others:
            if other != ours:  # list equality: C, and object for object it is an identity check
                return self._sync(ours, *others)
        return list(ours)

    def _merge_replies(self, rnd: QuorumRound) -> list[Sibling]:
        ours = rnd.replies.get(self.node_id)
        if ours is None:
            return self._sync(*rnd.replies.values())
        return self._merge_with(ours, *(v for k, v in rnd.replies.items() if k != self.node_id))

    def store(self, key: str, siblings: list[Sibling], hint: str = "") -> list[Sibling]:
        """Merge ``siblings`` into our copy (or the hint store for ``hint``); ``await engine.sync()`` makes it durable."""
        if hint and hint != self.node_id:
            merged = self._sync(self.engine.hinted(key).get(hint, []), siblings)
            self.engine.put_hint(hint, key, merged)
            return merged
        current = self.engine.get(key)
        merged = self._merge_with(current, siblings)
        if not reconcile.same_versions(merged, current):
            self._keep(key, merged)
        return merged

    def _keep(self, key: str, siblings: list[Sibling]) -> None:
        """Write our copy of ``key`` and tell anti-entropy it changed."""
        self.engine.put(key, siblings)
        self.anti_entropy.stored(key, siblings)

    def local_versions(self, key: str) -> list[Sibling]:
        """Our copy plus any hinted copies we hold for others (a fallback serves reads too)."""
        hinted = self.engine.hinted(key)
        if not hinted:  # what the engine holds was merged when it was stored
            return self.engine.get(key)
        return self._sync(self.engine.get(key), *hinted.values())

    def _healthy(self) -> Callable[[str], bool] | None:
        """The failure detector's verdict for a sloppy quorum; None while it suspects nobody."""
        return self.detector.healthy if self.detector.suspects_anyone() else None

    def _check_key(self, key: str) -> None:
        if not key:
            raise BadInput("key is empty")
        if 4 * len(key) > self.config.max_key_bytes and len(key.encode("utf-8")) > self.config.max_key_bytes:
            raise BadInput(f"key is {len(key.encode('utf-8'))} bytes; the limit is {self.config.max_key_bytes}")

    # --- replica side -------------------------------------------------------------------------

    @handler(inline=True)  # never waits: no task per replica read
    async def on_replica_get(self, msg: ReplicaGet, sender: str) -> ReplicaData:
        return ReplicaData(to_plain(self.local_versions(msg.key)))

    @handler(inline=True)  # waits only for a file engine's group commit
    async def on_replica_put(self, msg: ReplicaPut, sender: str) -> Ack:
        self.store(msg.key, from_plain(msg.siblings), msg.hint)
        await self.engine.sync()  # durable before we acknowledge (a write counted in W survives kill -9)
        return Ack()

    # --- get (§4.5, §5) ---------------------------------------------------------------------------

    @handler(inline=True)  # the get state machine (§5): no task, resumed by the replies' callbacks
    async def on_client_get(self, msg: ClientGet, sender: str) -> GetReply:
        self._check_key(msg.key)
        self.stats["gets"] += 1
        return await self.coordinate_get(msg.key)

    async def coordinate_get(self, key: str) -> GetReply:
        cfg = self.config
        plist = self.ring.preference_list(key, cfg.n + cfg.fallbacks)
        top = plist[: cfg.n]
        local = self.node_id in top
        plan = sloppy_quorum(plist, cfg.n, self.node_id, self._healthy(), local=local)

        request = ReplicaGet(key)
        rnd = QuorumRound(self, plan, top, lambda target, hint: request, cfg.replica_timeout, _siblings_of)
        if local:
            rnd.replies[self.node_id] = self.local_versions(key)
            rnd.order.append(self.node_id)
        got = await rnd.wait(cfg.r)
        if got < cfg.r:
            self.stats["failed"] += 1
            raise DynamoUnavailable(f"get {key!r}: {got} of R={cfg.r} replicas answered")
        merged = self._merge_replies(rnd)
        fastest = rnd.order[0] if rnd.order else ""
        if cfg.read_repair:
            rnd.finish(functools.partial(self._read_repair, key, rnd))
        ctx = Context(reconcile.context_of(merged), fastest if fastest in top else "")
        return GetReply(to_plain(merged), ctx.encode(), self.node_id)

    def _read_repair(self, key: str, rnd: QuorumRound) -> None:
        """After replying, once the stragglers are in: update replicas that returned stale data (§5)."""
        merged = self._merge_replies(rnd)
        stale = [target for target, versions in rnd.replies.items() if not reconcile.same_versions(versions, merged)]
        if stale and self.transport.alive:
            self.spawn(self._repair(key, merged, stale, rnd.hints), name=f"{self.node_id}.read-repair")

    async def _repair(self, key: str, merged: list[Sibling], stale: list[str], hints: dict[str, str]) -> None:
        for target in stale:
            self.stats["read_repairs"] += 1
            if target == self.node_id:
                self.store(key, merged)
                continue
            try:
                await self.call(target, ReplicaPut(key, to_plain(merged), hints.get(target, "")),
                                timeout=self.config.replica_timeout)
            except NetError:
                self.detector.suspect(target)

    # --- put (§4.5, §6.1) -------------------------------------------------------------------------

    @handler(inline=True)  # the put state machine (§5): no task, resumed by the replies' callbacks
    async def on_client_put(self, msg: ClientPut, sender: str) -> PutReply:
        self._check_key(msg.key)
        if len(msg.value) > self.config.max_value_bytes:
            raise BadInput(f"value is {len(msg.value)} bytes; the limit is {self.config.max_value_bytes}")
        ctx = Context.decode(msg.context)
        self.stats["puts"] += 1
        if not msg.forwarded:
            for target in self.coordinator_candidates(msg.key, ctx):
                if target == self.node_id:
                    break
                try:
                    self.stats["forwarded"] += 1
                    return await self.call(target, ClientPut(msg.key, msg.value, msg.context, True),
                                           timeout=self.config.request_timeout)
                except NetError:
                    self.detector.suspect(target)
        return await self.coordinate_put(msg.key, msg.value, ctx)

    def coordinator_candidates(self, key: str, ctx: Context) -> list[str]:
        """Who should coordinate this put, best first (§4.5 top N; §6.1 fastest replier)."""
        top = list(self.ring.preference_list(key, self.config.n))
        ok = self._healthy()
        healthy = top if ok is None else [t for t in top if t == self.node_id or ok(t)]
        if (self.config.fastest_replier_coordinates and ctx.fastest in healthy):
            return [ctx.fastest] + [t for t in healthy if t != ctx.fastest]
        if self.node_id in top:
            return [self.node_id]
        return healthy

    async def coordinate_put(self, key: str, value: bytes, ctx: Context) -> PutReply:
        cfg = self.config
        plist = self.ring.preference_list(key, cfg.n + cfg.fallbacks)
        top = plist[: cfg.n]
        plan = sloppy_quorum(plist, cfg.n, self.node_id, self._healthy(), local=True)
        if plan.local_hint:
            local = self.engine.hinted(key).get(plan.local_hint, [])
        else:
            local = self.engine.get(key)
        apply = reconcile.lww_update if cfg.mode == "lww" else reconcile.update
        new_list, new = apply(local, ctx.clock, value, self.node_id, self.now(), cfg.truncate_at,
                              self._next_event())
        if not plan.local_hint and cfg.mode != "lww" and new.past is ctx.clock:
            # store() would merge new_list back into ``local``: everything
            # update() dropped is in the new version's past (the context, not
            # truncated) and nothing in ``local`` has seen the fresh dot, so
            # that merge gives new_list itself. Skip it.
            stored = new_list
            self._keep(key, stored)
        else:
            stored = self.store(key, new_list, plan.local_hint)
        self.stats["coordinated_puts"] += 1
        payload = to_plain(stored)

        rnd = QuorumRound(self, plan, top, lambda target, hint: ReplicaPut(key, payload, hint),
                          cfg.replica_timeout)
        await self.engine.sync()  # our own copy is durable before it counts towards W
        acks = 1 + await rnd.wait(cfg.w - 1)
        rnd.finish()  # the remaining copies: stragglers are awaited, failures get hinted stand-ins
        if acks < cfg.w:
            self.stats["failed"] += 1
            raise DynamoUnavailable(f"put {key!r}: {acks} of W={cfg.w} replicas acknowledged")
        return PutReply(Context(new.version()).encode(), self.node_id)

    def _next_event(self) -> int:
        """A node-wide, never reused event counter (Riak KV679: never reissue an actor's events).

        Reserved in blocks persisted to ``storage`` so a restart resumes above
        anything handed out, at one durable write per ``DOT_BLOCK`` puts.
        """
        if self._dot_next >= self._dot_limit:
            self._dot_limit = self._dot_next + DOT_BLOCK
            self.storage["dot_limit"] = self._dot_limit
        self._dot_next += 1
        return self._dot_next

    # --- status -------------------------------------------------------------------------------

    @handler
    async def on_status(self, msg: StatusQuery, sender: str) -> Status:
        return Status(self.status())

    def status(self) -> dict[str, Any]:
        return {
            "node": self.node_id,
            "address": self.address,
            "config": {"n": self.config.n, "r": self.config.r, "w": self.config.w,
                       "strategy": self.config.strategy, "partitions": self.config.partitions,
                       "mode": self.config.mode},
            **self.membership.plain(),
            "ranges_replicated": len(self.my_ranges()),
            "keys": len(self.engine.keys()),
            "hints": self.handoff.counts(),
            "suspected": self.detector.suspected(),
            "stats": dict(self.stats),
            "anti_entropy": {"exchanges": self.anti_entropy.exchanges, "keys_sent": self.anti_entropy.keys_sent},
        }
