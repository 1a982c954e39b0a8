"""The one interface a node sees, and the ``Node`` base class protocol roles subclass.

Why one interface: MapReduce workers, Dynamo replicas and log brokers are
written once against :class:`Transport` and asyncio, then run either on the
seeded virtual-time :class:`~minisys.net.sim.SimNetwork` (a thousand nodes,
faults on demand, every run replayable) or on
:class:`~minisys.net.http.HttpNetwork` (real processes, real sockets). The
node cannot tell which; the harness owns the faults (STYLE: Maelstrom).

A role is a class with one handler per message type, as in the 500-lines
Paxos (``do_Prepare``) and Maelstrom's ``@node.handler``::

    class Replica(Node):
        @handler
        async def on_get(self, msg: Get, sender: str) -> GetOk | None:
            return GetOk(self.data.get(msg.key))

A handler's return value is its reply: to a :meth:`Node.call` it is what
``await call(...)`` returns; to a one-way :meth:`Node.send` it is sent back to
the sender as another one-way message (``None`` sends nothing).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, TypeVar

from minisys.net.errors import NoHandler
from minisys.net.messages import is_message, message_name
from minisys.net.storage import Storage

log = logging.getLogger("minisys.net")

Handler = Callable[[Any, str], Awaitable[Any]]
NodeFactory = Callable[["Transport"], "Node"]
T = TypeVar("T")


class Transport(ABC):
    """A node's view of the network: its id, its peers, messaging, clock, tasks.

    Created by a network (never by node code) and handed to the node's
    factory. ``storage`` survives crashes; ``random`` is the node's only
    source of randomness (seeded in the simulator, so runs replay).
    """

    def __init__(
        self,
        node_id: str,
        *,
        loop: asyncio.AbstractEventLoop,
        storage: Storage,
        rng: random.Random,
        default_timeout: float,
    ) -> None:
        self.node_id = node_id
        self.storage = storage
        self.random = rng
        self.default_timeout = default_timeout
        self.alive = True
        self._loop = loop
        self._handlers: dict[type, Handler] = {}
        #: Message types whose handler was declared ``inline`` (see :func:`handler`).
        self._inline: set[type] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    def register(self, msg_type: type, fn: Handler, *, inline: bool | None = None) -> None:
        """Route messages of ``msg_type`` to ``async fn(msg, sender) -> reply | None``.

        ``inline`` (default: what ``@handler(inline=...)`` declared) lets a
        network run the handler's first step outside a task; see :func:`handler`.
        """
        message_name(msg_type)  # refuses classes that are not messages
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"handler for {msg_type.__name__} must be an async function")
        self._handlers[msg_type] = fn
        if inline is None:
            inline = bool(getattr(fn, _INLINE, False))
        if inline:
            self._inline.add(msg_type)
        else:
            self._inline.discard(msg_type)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop this node runs on.

        Why not ``asyncio.get_running_loop()``: on CPython before 3.12 that
        makes a ``getpid()`` system call on every use, a measurable cost on a
        per-request path (Dynamo's quorum wait).
        """
        return self._loop

    @abstractmethod
    def peers(self) -> tuple[str, ...]:
        """Ids of the other nodes this one may talk to (down ones included)."""

    @abstractmethod
    async def call(self, dest: str, msg: Any, timeout: float | None = None) -> Any:
        """Send ``msg`` to ``dest`` and wait for the handler's reply (a message or None).

        Raises :class:`RpcTimeout` when no reply comes within ``timeout``
        seconds (default: the network's), :class:`Unreachable` when ``dest``
        is known to be down, :class:`RemoteError` when its handler raised.
        """

    @abstractmethod
    def call_then(self, dest: str, msg: Any, then: Callable[[Any, BaseException | None], None],
                  timeout: float | None = None) -> None:
        """:meth:`call` for state machines: ``then(reply, None)`` or ``then(None, error)`` later.

        Why: a coordinator that fans one request out to N replicas (Dynamo
        §4.5) needs no task per replica, only a callback per answer: the
        simulator runs ``then`` straight from the delivery, HTTP from the
        reply's future. ``error`` is what ``await call(...)`` would raise
        (:class:`RpcTimeout`, :class:`Unreachable`, :class:`RemoteError`).
        ``then`` is never called once this node has stopped or crashed, and
        must not raise: treat it like a handler of the reply.
        """

    @abstractmethod
    def send(self, dest: str, msg: Any) -> None:
        """Fire and forget: no reply, no error if it is lost on the way."""

    @abstractmethod
    def now(self) -> float:
        """This node's local clock in seconds (skewed in the simulator)."""

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        """Run ``coro`` in the background; it is cancelled when the node stops or crashes."""
        if not self.alive:
            coro.close()
            raise RuntimeError(f"node {self.node_id!r} is down; it cannot start tasks")
        task = self._loop.create_task(coro, name=name)
        self._track(task)
        return task

    # --- shared machinery for the networks ---------------------------------

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._task_failed(task, task.exception())  # type: ignore[arg-type]

    def _task_failed(self, task: asyncio.Task[Any], exc: BaseException) -> None:
        log.error("node %s: background task %s failed", self.node_id, task.get_name(), exc_info=exc)

    def _handler_for(self, msg: Any) -> Handler:
        fn = self._handlers.get(type(msg))
        if fn is None:
            raise NoHandler(f"node {self.node_id!r} has no handler for {message_name(msg)}")
        return fn

    @staticmethod
    def _check_reply(msg: Any, reply: Any) -> None:
        if reply is not None and not is_message(reply):
            raise TypeError(
                f"handler for {message_name(msg)} returned {type(reply).__name__}; "
                "return a @message instance or None"
            )

    async def _invoke(self, msg: Any, sender: str) -> Any:
        """Run the handler for ``msg``; what it returns must be a message or None."""
        reply = await self._handler_for(msg)(msg, sender)
        self._check_reply(msg, reply)
        return reply

    def _kill(self) -> None:
        """Stop everything this node was doing; it must not send anything afterwards."""
        self.alive = False
        for task in list(self._tasks):
            task.cancel()


# --- roles ---------------------------------------------------------------------

_HANDLES = "__minisys_handles__"
_INLINE = "__minisys_inline__"
_FROM_ANNOTATION = object()


def handler(arg: Any = None, *, inline: bool = False) -> Any:
    """Mark ``async def on_x(self, msg: X, sender: str)`` as the handler for ``X``.

    Use ``@handler`` to take the type from the ``msg`` annotation, or
    ``@handler(X)`` to name it (needed when the annotation cannot be resolved,
    e.g. a message class defined inside a function).

    ``@handler(inline=True)`` is for handlers that are state machines (a
    replica storing a version; a coordinator waiting for R replies): the
    simulator runs them straight from the delivery, *outside* any task, and
    when they wait it resumes them from the done-callback of the future they
    wait for -- no task per message. Such a handler may await futures, calls,
    ``asyncio.sleep`` and other coroutines, but must not use
    ``asyncio.current_task()``, ``asyncio.timeout`` or ``TaskGroup``
    (there is no current task). Over HTTP the flag changes nothing.
    """

    def mark(fn: Callable[..., Any], msg_type: Any) -> Callable[..., Any]:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"handler {fn.__qualname__} must be an async def")
        setattr(fn, _HANDLES, msg_type)
        if inline:
            setattr(fn, _INLINE, True)
        return fn

    if isinstance(arg, type):
        return lambda fn: mark(fn, arg)
    if arg is None:
        return lambda fn: mark(fn, _FROM_ANNOTATION)
    if callable(arg) and not inline:
        return mark(arg, _FROM_ANNOTATION)
    raise TypeError("use @handler, @handler(MessageType) or @handler(MessageType, inline=True)")


def _handled_types(owner: type, name: str, fn: Callable[..., Any]) -> tuple[type, ...]:
    declared = getattr(fn, _HANDLES)
    if declared is not _FROM_ANNOTATION:
        message_name(declared)
        return (declared,)
    where = f"{owner.__qualname__}.{name}"
    params = list(inspect.signature(fn).parameters)
    if len(params) != 3:
        raise TypeError(f"handler {where} must take (self, msg, sender)")
    try:
        hints = typing.get_type_hints(fn)
    except NameError as exc:
        raise TypeError(f"cannot resolve the message type of {where} ({exc}); "
                        "name it with @handler(MessageType)") from None
    if params[1] not in hints:
        raise TypeError(f"annotate the message parameter of {where} or use @handler(MessageType)")
    tp = hints[params[1]]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = typing.get_args(tp)
    else:
        members = (tp,)
    for m in members:
        try:
            message_name(m)
        except TypeError:
            raise TypeError(f"handler {where} is annotated with {m!r}, which is not a @message") from None
    return members


class Node:
    """Base class of a protocol role: handlers by message type, plus the transport's verbs.

    Subclasses take the transport as the first constructor argument, so the
    class itself (or a ``functools.partial`` of it) is the factory a network
    calls -- again after every simulated restart.
    """

    _handler_table: ClassVar[dict[type, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = dict(cls._handler_table)  # inherited handlers; overrides replace them
        for name, attr in vars(cls).items():
            if callable(attr) and hasattr(attr, _HANDLES):
                for msg_type in _handled_types(cls, name, attr):
                    table[msg_type] = name
        cls._handler_table = table

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        #: This node's id (a plain attribute: read on every message).
        self.node_id: str = transport.node_id
        for msg_type, name in self._handler_table.items():
            transport.register(msg_type, getattr(self, name))

    async def start(self) -> None:
        """Called once the node can send and receive; spawn background loops here."""

    # The verbs, forwarded so role code reads like Maelstrom's: self.call(...).

    @property
    def storage(self) -> Storage:
        return self.transport.storage

    @property
    def random(self) -> random.Random:
        return self.transport.random

    def peers(self) -> tuple[str, ...]:
        return self.transport.peers()

    def call(self, dest: str, msg: Any, timeout: float | None = None) -> Coroutine[Any, Any, Any]:
        """``await self.call(dest, msg)``: see :meth:`Transport.call`."""
        return self.transport.call(dest, msg, timeout)

    def call_then(self, dest: str, msg: Any, then: Callable[[Any, BaseException | None], None],
                  timeout: float | None = None) -> None:
        """Callback-style :meth:`call`: see :meth:`Transport.call_then`."""
        self.transport.call_then(dest, msg, then, timeout)

    def send(self, dest: str, msg: Any) -> None:
        self.transport.send(dest, msg)

    def now(self) -> float:
        return self.transport.now()

    def sleep(self, seconds: float) -> Coroutine[Any, Any, None]:
        return self.transport.sleep(seconds)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        return self.transport.spawn(coro, name=name)

    def on(self, msg_type: type, fn: Handler) -> None:
        """Register a handler at run time (for ad-hoc clients and tests)."""
        self.transport.register(msg_type, fn)
