"""A deterministic, seeded, virtual-time network for asyncio nodes.

Why: distributed protocols fail in the corners -- a reply lost during a
partition, a message overtaken by a later one, a node that restarts with only
its disk. ``SimNetwork`` makes those corners cheap to reach and exact to
replay: every delay, loss, duplicate and node random number comes from one
seed, time is virtual (:mod:`minisys.net.simloop`), and every message is
written to :attr:`SimNetwork.trace`. The same seed replays the same run, event
for event, so a failing seed *is* the bug report.

The harness owns the faults (STYLE: Maelstrom): latency distributions and
loss/duplication per link, partitions, crash/restart, clock skew. Node code
never sees them, only their effects.

    net = SimNetwork(seed=7, latency=LogNormal(0.002, 1.0), loss=0.01)
    for i in range(5):
        net.add_node(f"n{i}", Replica)
    net.partition(["n0", "n1"], ["n2", "n3", "n4"])
    net.run_for(10.0)
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from heapq import heappush
from typing import Any, NamedTuple, TypeVar

import msgpack

from minisys.net.errors import (
    MessageEncodeError,
    NetError,
    NoHandler,
    RemoteError,
    RpcTimeout,
    Unreachable,
)
from minisys.net.latency import Latency, Uniform
from minisys.net.messages import message_name, registered_name, roundtrip
from minisys.net.simloop import SimDeadlock, VirtualTimeLoop
from minisys.net.storage import Storage
from minisys.net.transport import Node, NodeFactory, Transport

log = logging.getLogger("minisys.net.sim")
_Future = asyncio.Future
T = TypeVar("T")

#: A LAN-ish default: 1-2 ms one way, random, so messages can overtake each other.
DEFAULT_LATENCY = Uniform(0.001, 0.002)
#: Default RPC timeout in (virtual) seconds.
DEFAULT_TIMEOUT = 1.0

# Message kinds, as they appear in the trace.
CALL, SEND, REPLY, ERROR = "call", "send", "reply", "error"


class SimTimeLimit(RuntimeError):
    """``SimNetwork.run(..., max_time=T)`` was still running at virtual time T."""


class TraceEvent(NamedTuple):
    """One thing that happened to one message (or node) at one virtual time.

    ``event`` is ``sent``, ``delivered``, ``dropped`` (``note`` says why:
    ``loss``, ``partition``, ``down``) or ``duplicated`` for messages, and
    ``crash`` / ``restart`` for nodes. ``seq`` pairs a message's events.
    """

    time: float
    event: str
    kind: str
    src: str
    dst: str
    type: str
    seq: int
    note: str = ""


@dataclass(frozen=True)
class Link:
    """How messages from one node to another behave."""

    latency: Latency = DEFAULT_LATENCY
    loss: float = 0.0
    duplicate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} is a probability in [0, 1], got {p}")


class _Slot:
    """What the network keeps about a node across incarnations: its disk and clock."""

    __slots__ = ("node_id", "factory", "listed", "storage", "skew", "drift", "incarnation",
                 "transport", "node")

    def __init__(self, node_id: str, factory: NodeFactory, skew: float, drift: float,
                 listed: bool = True) -> None:
        self.node_id = node_id
        self.factory = factory
        self.listed = listed
        self.storage = Storage()
        self.skew = skew
        self.drift = drift
        self.incarnation = 0
        self.transport: SimTransport | None = None
        self.node: Node | None = None


class SimTransport(Transport):
    """One incarnation of a node in the simulator; discarded when the node crashes."""

    def __init__(self, net: SimNetwork, slot: _Slot) -> None:
        super().__init__(
            slot.node_id,
            loop=net.loop,
            storage=slot.storage,
            rng=random.Random(f"{net.seed}/{slot.node_id}/{slot.incarnation}"),
            default_timeout=net.default_timeout,
        )
        self._net = net
        self._slot = slot
        self._pending: dict[int, asyncio.Future[Any]] = {}
        #: Inline handlers waiting for something (see _Continuation); cancelled on crash.
        self._parked: dict[_Continuation, None] = {}

    def peers(self) -> tuple[str, ...]:
        return self._net._peers_of(self.node_id)

    def now(self) -> float:
        t = self._net.loop._now
        return t + self._slot.skew + self._slot.drift * t

    def send(self, dest: str, msg: Any) -> None:
        if self.alive:
            self._net._transmit(self, dest, SEND, msg, 0)

    async def call(self, dest: str, msg: Any, timeout: float | None = None) -> Any:
        if not self.alive:
            raise asyncio.CancelledError()
        fut = self._net.loop.create_future()
        rid = self._start(dest, msg, fut, timeout)
        try:
            return await fut
        finally:
            self._pending.pop(rid, None)

    def call_then(self, dest: str, msg: Any, then: Callable[[Any, BaseException | None], None],
                  timeout: float | None = None) -> None:
        if not self.alive:
            return
        try:
            self._start(dest, msg, then, timeout)
        except NetError as exc:  # no such node: as call() would raise, but later, like any answer
            self._net.loop.call_soon(then, None, exc)

    def _start(self, dest: str, msg: Any, waiter: Any, timeout: float | None) -> int:
        """Register ``waiter`` (a future, or a callback) under a new request id,
        transmit ``msg`` and arm its timeout; returns the request id."""
        net = self._net
        rid = net._next_rid
        net._next_rid = rid + 1
        self._pending[rid] = waiter
        try:
            net._transmit(self, dest, CALL, msg, rid)
        except BaseException:
            del self._pending[rid]
            raise
        # Arm the timeout (SimNetwork._expire_due): calls with the same
        # timeout expire in the order they were made, so each timeout value
        # has a FIFO queue and one timer for its head, not a timer per call.
        if timeout is None:
            timeout = self.default_timeout
        deadline = net.loop._now + timeout
        queue = net._deadlines.get(timeout)
        if queue is None:
            queue = net._deadlines[timeout] = deque()
        if not queue:
            net.loop.call_raw(deadline, net._expire_due, timeout)
        queue.append((deadline, self, rid, dest, type(msg)))
        return rid

    # --- called by the network -------------------------------------------------

    def _expire(self, rid: int, dest: str, msg_type: type, timeout: float) -> None:
        self._settle(rid, None, RpcTimeout(dest, message_name(msg_type), timeout))

    def _settle(self, rid: int, result: Any, error: BaseException | None) -> None:
        waiter = self._pending.pop(rid, None)
        if waiter is None:
            return  # timed out already, or a duplicate reply
        if waiter.__class__ is not _Future:  # a call_then callback
            if self.alive:
                waiter(result, error)
        elif waiter.done():
            return  # the caller gave up (its task was cancelled)
        elif error is None:
            waiter.set_result(result)
        else:
            waiter.set_exception(error)

    def _dispatch(self, kind: str, src: str, msg: Any, rid: int) -> None:
        fn = self._handlers.get(type(msg))
        if fn is None:
            try:
                self._handler_for(msg)
            except NoHandler as exc:
                return self._answer(kind, src, msg, rid, None, exc)
        if type(msg) in self._inline:
            # Declared inline: the handler runs here, outside any task; if it
            # waits, the deliveries of what it waits for drive it on (_Continuation).
            handling = fn(msg, src)
            try:
                signal = handling.send(None)
            except StopIteration as done:
                return self._answer(kind, src, msg, rid, done.value)
            except asyncio.CancelledError:
                return  # as for a task cancelled before it answered
            except Exception as exc:
                return self._answer(kind, src, msg, rid, None, exc)
            return _Continuation(self, handling, kind, src, msg, rid).park(signal)
        # Started eagerly: most handlers finish right here, answer from inside
        # their task and never touch the ready queue.
        suspended: list[asyncio.Task[None]] = []
        task = self._net.loop.start_eager(self._serve(fn(msg, src), kind, src, msg, rid, suspended))
        if not task.done():
            self._tasks.add(task)
            suspended.append(task)  # so that _serve can drop it from _tasks when it ends

    async def _serve(self, handling: Coroutine[Any, Any, Any], kind: str, src: str, msg: Any,
                     rid: int, suspended: list[asyncio.Task[None]]) -> None:
        """Run one handler in its task and send its outcome (no done-callback round trip).

        ``suspended`` holds this task once it has waited (and so joined ``_tasks``).
        """
        try:
            reply = await handling
        except asyncio.CancelledError:
            if kind == CALL and not self.alive:  # crashed mid-call: the connection drops
                self._net._refuse(self.node_id, src, rid, "crashed while handling the request")
            raise
        except Exception as exc:
            if suspended:
                self._tasks.discard(suspended[0])
            return self._answer(kind, src, msg, rid, None, exc)
        if suspended:
            self._tasks.discard(suspended[0])
        self._answer(kind, src, msg, rid, reply)

    def _answer(self, kind: str, src: str, msg: Any, rid: int, reply: Any,
                exc: BaseException | None = None) -> None:
        """A handler's outcome goes back to a caller, or (one-way) its reply to the sender.

        A return value that is not a message the call may get is answered
        with the TypeError saying so.
        """
        if not self.alive:
            return
        net = self._net
        if exc is None and reply is not None and registered_name(type(reply)) is None:
            try:
                self._check_reply(msg, reply)
            except TypeError as bad:
                exc = bad
        if exc is None:
            try:
                if kind == CALL:
                    return net._transmit(self, src, REPLY, reply, rid)
                if reply is not None:
                    net._transmit(self, src, SEND, reply, 0)
                return
            except MessageEncodeError as bad:  # a reply that could not travel
                exc = bad
        if kind == CALL:
            failure = (type(exc).__name__, str(exc), message_name(msg))
            net._transmit(self, src, ERROR, failure, rid)
        else:
            net._handler_failed(self.node_id, msg, exc)

    def _kill(self) -> None:
        super()._kill()
        parked, self._parked = self._parked, {}
        for waiting in parked:
            waiting.cancel()

    def _task_failed(self, task: asyncio.Task[Any], exc: BaseException) -> None:
        super()._task_failed(task, exc)
        self._net.failures.append((self._net.loop._now, self.node_id, repr(exc)))


class _Continuation:
    """An inline handler that waits, resumed by callbacks instead of a Task (§5's state machine).

    Why: a Dynamo coordinator waits once per request (for R or W replies), and
    a Task per request -- created, registered, woken through the ready
    queue -- costs as much as the rest of the request. A coroutine needs only
    someone to ``send`` into it when the future it yielded is done, which is
    what this does: it parks on the future's done-callback and steps the
    coroutine on until it returns (the handler's reply). A crash throws
    :class:`asyncio.CancelledError` into it, as it would into a task.

    The price, stated on :func:`~minisys.net.handler`: there is no current
    task, so an inline handler must not use ``asyncio.current_task()``,
    ``asyncio.timeout`` or ``TaskGroup`` (``asyncio.sleep`` and awaiting
    futures, calls and other coroutines are fine).
    """

    __slots__ = ("transport", "handling", "kind", "src", "msg", "rid")

    def __init__(self, transport: SimTransport, handling: Coroutine[Any, Any, Any], kind: str, src: str,
                 msg: Any, rid: int) -> None:
        self.transport = transport
        self.handling: Coroutine[Any, Any, Any] | None = handling
        self.kind = kind
        self.src = src
        self.msg = msg
        self.rid = rid

    def step(self, _done: Any = None) -> None:
        """The thing it waited for is done: run the handler until it waits again or finishes."""
        handling = self.handling
        if handling is None:
            return  # cancelled by a crash meanwhile
        t = self.transport
        try:
            signal = handling.send(None)
        except StopIteration as done:
            del t._parked[self]
            return t._answer(self.kind, self.src, self.msg, self.rid, done.value)
        except asyncio.CancelledError:
            del t._parked[self]
            return  # as for a task cancelled before it answered
        except Exception as exc:
            del t._parked[self]
            return t._answer(self.kind, self.src, self.msg, self.rid, None, exc)
        self.park(signal)

    def park(self, signal: Any) -> None:
        """Wait for ``signal`` (what the handler's coroutine yielded: a future, or None)."""
        t = self.transport
        if signal is None:  # a bare yield (asyncio.sleep(0)): go on after what is ready now
            t._net.loop.call_soon(self.step, True)
        elif getattr(signal, "_asyncio_future_blocking", False):
            signal._asyncio_future_blocking = False
            signal.add_done_callback(self.step)
        else:
            handling, self.handling = self.handling, None
            handling.close()
            return t._answer(self.kind, self.src, self.msg, self.rid, None, RuntimeError(
                f"inline handler for {message_name(self.msg)} yielded {signal!r}, not a future"))
        t._parked[self] = None

    def cancel(self) -> None:
        """The node crashed: unwind the handler (its ``finally`` blocks run); a caller sees the connection drop."""
        handling, self.handling = self.handling, None
        if handling is None:
            return
        try:
            handling.throw(asyncio.CancelledError())
        except BaseException:  # noqa: BLE001 -- whatever it does now, the node is gone
            pass
        finally:
            handling.close()
        if self.kind == CALL:
            self.transport._net._refuse(self.transport.node_id, self.src, self.rid,
                                        "crashed while handling the request")


class SimNetwork:
    """A seeded simulated network of asyncio nodes on one virtual-time loop.

    ``seed`` decides every random choice (latency, loss, duplication, and the
    nodes' own ``random``). ``check_messages`` round-trips every message
    through msgpack, as the HTTP network would, so a message that cannot
    travel fails here too and no two nodes ever share a mutable object.
    ``trace=False`` skips recording (for long benchmark runs).
    """

    def __init__(
        self,
        seed: int | str = 0,
        *,
        latency: Latency = DEFAULT_LATENCY,
        loss: float = 0.0,
        duplicate: float = 0.0,
        default_timeout: float = DEFAULT_TIMEOUT,
        check_messages: bool = True,
        trace: bool = True,
    ) -> None:
        self.seed = seed
        self.loop = VirtualTimeLoop()
        self.default_timeout = default_timeout
        self.check_messages = check_messages
        # Plain tuples while running (cheap); made TraceEvents when read.
        self._events: list[Any] = []
        self._named = 0
        self._tracing = trace
        #: (virtual time, node, repr of exception) for every handler or task that raised.
        self.failures: list[tuple[float, str, str]] = []
        self._rng = random.Random(f"{seed}/network")
        self._packer = msgpack.Packer(use_bin_type=True)
        self._deadlines: dict[float, deque[tuple[float, SimTransport, int, str, type]]] = {}
        self._default = Link(latency, loss, duplicate)
        self._links: dict[tuple[str, str], Link] = {}
        self._cuts: list[tuple[frozenset[str], frozenset[str] | None]] = []
        self._slots: dict[str, _Slot] = {}
        self._peers: dict[str, tuple[str, ...]] = {}
        self._seq = 0
        self._next_rid = 1
        self._listed: tuple[str, ...] = ()
        self._sent = self._delivered = self._dropped = self._duplicated = 0

    # --- nodes -------------------------------------------------------------------

    def add_node(
        self, node_id: str, factory: NodeFactory | None = None, *, skew: float = 0.0, drift: float = 0.0
    ) -> Node:
        """Add a node built by ``factory(transport)`` (default: a bare :class:`Node`).

        The factory is called again on every :meth:`restart`. ``skew`` and
        ``drift`` set its clock: ``now() = t + skew + drift * t``.
        """
        return self._add(_Slot(node_id, factory or Node, skew, drift))

    def add_client(self, node_id: str) -> Node:
        """A bare node for the harness to make calls from; not listed in anyone's peers()."""
        return self._add(_Slot(node_id, Node, 0.0, 0.0, listed=False))

    def _add(self, slot: _Slot) -> Node:
        if slot.node_id in self._slots:
            raise ValueError(f"node {slot.node_id!r} already exists")
        self._slots[slot.node_id] = slot
        self._peers.clear()
        if slot.listed:
            self._listed += (slot.node_id,)
        return self._boot(slot)

    def _boot(self, slot: _Slot) -> Node:
        transport = SimTransport(self, slot)
        slot.transport = transport
        slot.node = node = slot.factory(transport)
        transport.spawn(node.start(), name=f"{slot.node_id}.start")
        return node

    def node(self, node_id: str) -> Node:
        """The running incarnation of ``node_id``; :class:`Unreachable` if it is crashed."""
        slot = self._slot(node_id)
        if slot.node is None:
            raise Unreachable(node_id, "crashed")
        return slot.node

    @property
    def node_ids(self) -> tuple[str, ...]:
        return tuple(self._slots)

    def is_up(self, node_id: str) -> bool:
        return self._slot(node_id).transport is not None

    def storage(self, node_id: str) -> Storage:
        """The node's durable storage (survives :meth:`crash`)."""
        return self._slot(node_id).storage

    def crash(self, node_id: str) -> None:
        """Kill the node: tasks cancelled, memory gone, messages to it dropped."""
        slot = self._slot(node_id)
        if slot.transport is None:
            return
        slot.transport._kill()
        slot.transport = slot.node = None
        self._record("crash", "", node_id, node_id, "", 0)

    def restart(self, node_id: str) -> Node:
        """Build a fresh node with the factory; only its :meth:`storage` carried over."""
        slot = self._slot(node_id)
        if slot.transport is not None:
            raise ValueError(f"node {node_id!r} is running; crash it first")
        slot.incarnation += 1
        self._record("restart", "", node_id, node_id, "", 0)
        return self._boot(slot)

    def set_clock(self, node_id: str, *, skew: float = 0.0, drift: float = 0.0) -> None:
        """Make ``node_id``'s ``now()`` read ``t + skew + drift * t`` (t = virtual time)."""
        slot = self._slot(node_id)
        slot.skew, slot.drift = skew, drift

    def _slot(self, node_id: str) -> _Slot:
        try:
            return self._slots[node_id]
        except KeyError:
            raise KeyError(f"no node {node_id!r} in this network") from None

    def _peers_of(self, node_id: str) -> tuple[str, ...]:
        peers = self._peers.get(node_id)
        if peers is None:
            listed = self._listed
            if node_id in listed:
                i = listed.index(node_id)
                peers = listed[:i] + listed[i + 1:]
            else:
                peers = listed
            self._peers[node_id] = peers
        return peers

    # --- faults ------------------------------------------------------------------

    def set_link(
        self,
        src: str,
        dst: str,
        *,
        latency: Latency | None = None,
        loss: float | None = None,
        duplicate: float | None = None,
        both_ways: bool = True,
    ) -> None:
        """Override latency/loss/duplication from ``src`` to ``dst`` (unset = default)."""
        changes = {k: v for k, v in (("latency", latency), ("loss", loss), ("duplicate", duplicate))
                   if v is not None}
        for a, b in ((src, dst), (dst, src)) if both_ways else ((src, dst),):
            self._links[a, b] = replace(self._links.get((a, b), self._default), **changes)

    def set_default_link(
        self, *, latency: Latency | None = None, loss: float | None = None, duplicate: float | None = None
    ) -> None:
        changes = {k: v for k, v in (("latency", latency), ("loss", loss), ("duplicate", duplicate))
                   if v is not None}
        self._default = replace(self._default, **changes)

    def partition(self, group_a: Iterable[str], group_b: Iterable[str] | None = None) -> None:
        """Drop every message between ``group_a`` and ``group_b`` (default: everyone else).

        Cuts add up; :meth:`heal` removes them all. Messages already in
        flight across a new cut are dropped on arrival.
        """
        a = frozenset(group_a)
        b = frozenset(group_b) if group_b is not None else None
        if b is not None and a & b:
            raise ValueError(f"a node cannot be on both sides of a partition: {sorted(a & b)}")
        self._cuts.append((a, b))

    def heal(self) -> None:
        """Remove every partition."""
        self._cuts.clear()

    def _cut(self, src: str, dst: str) -> bool:
        for a, b in self._cuts:
            if b is None:
                if (src in a) != (dst in a):
                    return True
            elif (src in a and dst in b) or (src in b and dst in a):
                return True
        return False

    # --- running -----------------------------------------------------------------

    @property
    def now(self) -> float:
        """Virtual time in seconds since the network was created."""
        return self.loop._now

    def run(self, aw: Awaitable[T], *, max_time: float | None = None) -> T:
        """Run the simulation until ``aw`` completes and return its result.

        ``aw`` runs on the simulated loop (so ``asyncio.sleep`` in it is
        virtual) and may drive faults: sleep, partition, sleep, heal.
        ``max_time`` bounds virtual time: past it, :class:`SimTimeLimit`.
        Raises :class:`SimDeadlock` if ``aw`` waits for something that can
        never happen.
        """
        task = asyncio.ensure_future(aw, loop=self.loop)
        if max_time is not None:
            deadline = self.loop._now + max_time

            def overrun() -> None:
                if not task.done():
                    task.cancel(f"virtual time passed {deadline}")

            guard = self.loop.call_at(deadline, overrun)
        try:
            return self.loop.run_until_complete(task)
        except asyncio.CancelledError:
            if max_time is not None and self.loop._now >= deadline:
                raise SimTimeLimit(f"still running at virtual time {deadline} (max_time={max_time})") from None
            raise
        except SimDeadlock:
            task.cancel()
            raise
        finally:
            if max_time is not None:
                guard.cancel()

    def run_for(self, seconds: float) -> None:
        """Advance virtual time by ``seconds``, running everything due meanwhile."""
        self.run_until(self.loop._now + seconds)

    def run_until(self, time: float) -> None:
        """Run until virtual time ``time``."""
        if time < self.loop._now:
            return
        self.loop.call_at(time, self.loop.stop)
        self.loop.run_forever()
        self.loop._now = max(self.loop._now, time)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start a harness task (a client, a nemesis) that belongs to no node."""
        return self.loop.create_task(coro)

    @property
    def trace(self) -> list[TraceEvent]:
        """Every message event so far, in order; equal for equal seeds (and node code)."""
        events = self._events
        for i in range(self._named, len(events)):
            events[i] = tuple.__new__(TraceEvent, events[i])
        self._named = len(events)
        return events

    def stats(self) -> dict[str, int]:
        """Message counts so far: sent, delivered, dropped, duplicated."""
        return {"sent": self._sent, "delivered": self._delivered, "dropped": self._dropped,
                "duplicated": self._duplicated}

    def close(self) -> None:
        """Cancel every task and close the loop."""
        loop = self.loop
        if loop.is_closed():
            return
        for slot in self._slots.values():
            if slot.transport is not None:
                slot.transport._kill()
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            try:
                loop.run_until_complete(asyncio.wait(tasks, timeout=60.0))
            except SimDeadlock:
                pass
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    def __enter__(self) -> SimNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the wire ----------------------------------------------------------------

    def _record(self, event: str, kind: str, src: str, dst: str, type_name: str, seq: int,
                note: str = "") -> None:
        if self._tracing:
            self._events.append((self.loop._now, event, kind, src, dst, type_name, seq, note))

    def _transmit(self, src: SimTransport, dst: str, kind: str, msg: Any, rid: int) -> None:
        """Put one message on the wire: decide its fate now, deliver it later."""
        slot = self._slots.get(dst)
        if slot is None:
            raise Unreachable(dst, "no such node in this network")
        if kind == ERROR:
            type_name = "error"
        elif msg is None:
            type_name = "None"
        else:
            type_name = registered_name(type(msg)) or message_name(msg)  # the latter raises
            if self.check_messages:
                msg = roundtrip(msg, self._packer)
        self._seq = seq = self._seq + 1
        self._sent += 1
        src_id = src.node_id
        loop = self.loop
        now = loop._now
        if self._tracing:
            self._events.append((now, "sent", kind, src_id, dst, type_name, seq, ""))
        link = self._links.get((src_id, dst), self._default) if self._links else self._default
        rng = self._rng
        if self._cuts and self._cut(src_id, dst):
            return self._drop(kind, src, dst, type_name, seq, "partition")
        if link.loss and rng.random() < link.loss:
            return self._drop(kind, src, dst, type_name, seq, "loss")
        args = (seq, kind, src, slot.transport, dst, type_name, msg, rid)
        # loop.call_raw(when, self._deliver, *args), inlined: this runs for every message.
        loop._seq = order = loop._seq + 1
        heappush(loop._timers, (now + link.latency.sample(rng), order, None, self._deliver, args))
        if link.duplicate and rng.random() < link.duplicate:
            dst_t = slot.transport
            self._duplicated += 1
            self._record("duplicated", kind, src_id, dst, type_name, seq)
            loop.call_raw(now + link.latency.sample(rng), self._deliver,
                          seq, kind, src, dst_t, dst, type_name, msg, rid)

    def _drop(self, kind: str, src: SimTransport, dst: str, type_name: str, seq: int,
              why: str) -> None:
        self._dropped += 1
        if self._tracing:
            self._events.append((self.loop._now, "dropped", kind, src.node_id, dst, type_name, seq, why))

    def _deliver(self, seq: int, kind: str, src: SimTransport, dst_t: SimTransport | None,
                 dst: str, type_name: str, msg: Any, rid: int) -> None:
        src_id = src.node_id
        if dst_t is None or not dst_t.alive:
            # The incarnation it was sent to is gone. Like a TCP reset, the
            # caller learns that the node is down (one more link delay later).
            self._drop(kind, src, dst, type_name, seq, "down")
            if kind == CALL:
                self._refuse(dst, src_id, rid, "node is down")
            return
        if self._cuts and self._cut(src_id, dst):
            return self._drop(kind, src, dst, type_name, seq, "partition")
        self._delivered += 1
        if self._tracing:
            self._events.append((self.loop._now, "delivered", kind, src_id, dst, type_name, seq, ""))
        if kind == REPLY:
            dst_t._settle(rid, msg, None)
        elif kind == ERROR:
            error_type, detail, request_type = msg
            dst_t._settle(rid, None, RemoteError(src_id, request_type, error_type, detail))
        else:
            dst_t._dispatch(kind, src_id, msg, rid)

    def _refuse(self, dst: str, caller_id: str, rid: int, why: str) -> None:
        """Like a TCP reset: the caller of ``rid`` learns one link delay later that ``dst`` is down."""
        caller = self._slots[caller_id].transport
        if caller is None:
            return
        back = self._links.get((dst, caller_id), self._default)
        self.loop.call_raw(self.loop._now + back.latency.sample(self._rng), caller._settle,
                           rid, None, Unreachable(dst, why))

    def _expire_due(self, timeout: float) -> None:
        queue = self._deadlines[timeout]
        now = self.loop._now
        while queue:
            deadline, caller, rid, dest, msg_type = queue[0]
            if rid not in caller._pending:
                queue.popleft()  # answered already: its expiry would do nothing, so skip it now
            elif deadline <= now:
                queue.popleft()
                caller._expire(rid, dest, msg_type, timeout)
            else:
                # The oldest call still waiting: wake up exactly at its deadline.
                self.loop.call_raw(deadline, self._expire_due, timeout)
                return

    def _handler_failed(self, node_id: str, msg: Any, exc: Exception) -> None:
        if isinstance(exc, NoHandler):
            log.warning("%s", exc)
        else:
            log.error("node %s: handler for %s raised", node_id, message_name(msg), exc_info=exc)
        self.failures.append((self.loop._now, node_id, repr(exc)))


__all__ = [
    "DEFAULT_LATENCY",
    "DEFAULT_TIMEOUT",
    "Link",
    "SimDeadlock",
    "SimNetwork",
    "SimTimeLimit",
    "SimTransport",
    "TraceEvent",
]
