"""An asyncio event loop whose clock is virtual.

Why: simulated nodes are ordinary asyncio code (``await asyncio.sleep``,
``asyncio.timeout``, ``TaskGroup``), so the simulator must *be* an asyncio
loop -- but one where waiting costs nothing. When no callback is ready the
stock loop blocks in its selector until the next timer is due; this one
instead jumps the clock to that timer. An hour of simulated time takes as
long as the callbacks in it, and the order of events depends only on the
program and its seed, never on the machine (the 500-lines cluster's
``Network`` timer heap, kept inside asyncio).

Speed matters (a thousand nodes, 10^5 messages a second), so the loop keeps
one heap of plain ``(when, seq, ...)`` tuples -- compared in C, with ``seq``
making equal times first-in-first-out -- and lets the network schedule a
message delivery as a bare function call (:meth:`VirtualTimeLoop.call_raw`)
instead of a cancellable ``TimerHandle``.

There is no I/O: sockets and executors raise, so a simulated node cannot reach
the real world by accident.
"""

from __future__ import annotations

import asyncio
import sys
from asyncio import base_events, events
from collections.abc import Callable, Coroutine
from heapq import heapify, heappop, heappush
from typing import Any, TypeVar

T = TypeVar("T")

_NATIVE_EAGER = sys.version_info >= (3, 12)
#: Rebuild the heap when more than this many cancelled timers (and half of it) linger.
_COMPACT_AT = 512
#: Loop rounds per _run_once call (see there).
_BATCH = 64


class SimDeadlock(RuntimeError):
    """The awaited coroutine waits for something that can never happen.

    No callback is ready, no timer is pending and no message is in flight,
    so virtual time cannot advance.
    """


class VirtualTimeLoop(base_events.BaseEventLoop):
    """``BaseEventLoop`` whose ``time()`` is virtual and whose waiting is a clock jump."""

    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._now = float(start)
        self._clock_resolution = 1e-9
        # Entries: (when, seq, TimerHandle) or (when, seq, None, fn, args).
        self._timers: list[tuple[Any, ...]] = []
        self._seq = 0
        self._cancelled_timers = 0
        self._eager_next = False  # the next call_soon runs its callback now (see start_eager)

    def time(self) -> float:
        return self._now

    # --- scheduling ------------------------------------------------------------

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any,
                context: Any = None) -> asyncio.TimerHandle:
        self._check_closed()
        timer = events.TimerHandle(when, callback, args, self, context)
        self._seq += 1
        heappush(self._timers, (when, self._seq, timer))
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def call_raw(self, when: float, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` at virtual time ``when``; not cancellable, no Handle.

        Exceptions propagate out of ``run_*``: this is for the simulator's own
        plumbing, whose bugs should stop the run, not node code.
        """
        self._seq += 1
        heappush(self._timers, (when, self._seq, None, fn, args))

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        if handle._scheduled:  # type: ignore[attr-defined]
            self._cancelled_timers += 1

    def call_soon(self, callback: Any, *args: Any, context: Any = None) -> asyncio.Handle:
        # BaseEventLoop.call_soon minus the debug-mode and thread checks: this
        # runs once per task wake-up, and a simulation has only one thread.
        if self._eager_next:  # a new task's first step (start_eager): run it now
            self._eager_next = False
            if context is None:
                callback(*args)
            else:
                context.run(callback, *args)
            return None  # type: ignore[return-value]  # only Task.__init__ calls this, and drops it
        if self._closed:  # type: ignore[attr-defined]
            raise RuntimeError("Event loop is closed")
        handle = events.Handle(callback, args, self, context)
        self._ready.append(handle)  # type: ignore[attr-defined]
        return handle

    def start_eager(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A Task whose first step runs now, inside this call.

        Why: most handlers finish without ever suspending (merge a set, answer
        a read). Running the first step immediately saves a trip through the
        ready queue per message, yet the code still runs inside a real Task,
        so ``asyncio.current_task()``, ``asyncio.timeout`` and ``TaskGroup``
        work as they do over HTTP. Python 3.12 has this built in
        (``eager_start``); on 3.11 the new task's first ``call_soon`` -- its
        first step -- is run inline instead of queued (``_eager_next``).
        Call it only from a loop callback, never from inside a running task.
        """
        if _NATIVE_EAGER:
            return asyncio.Task(coro, loop=self, eager_start=True)  # type: ignore[call-arg]
        self._eager_next = True
        try:
            return asyncio.Task(coro, loop=self)
        finally:
            self._eager_next = False

    # --- the loop ------------------------------------------------------------------

    def _run_once(self) -> None:
        # asyncio's run_forever calls this until stop() is requested; doing up
        # to _BATCH rounds per call (checking for stop after each) saves the
        # per-call overhead without changing what runs when.
        ready = self._ready  # type: ignore[attr-defined]
        timers = self._timers  # _compact() keeps this list object
        for _ in range(_BATCH):
            if ready:
                # As in asyncio: callbacks that were already ready run first,
                # then the timers that are due, in (time, scheduling order).
                for _ in range(len(ready)):
                    handle = ready.popleft()
                    if not handle._cancelled:
                        handle._run()
                now = self._now
            else:
                # Nothing to do now: jump the clock to the next live timer.
                while timers:
                    head = timers[0]
                    handle = head[2]
                    if handle is not None and handle._cancelled:
                        heappop(timers)
                        handle._scheduled = False
                        self._cancelled_timers -= 1
                        continue
                    break
                else:
                    if self._stopping:  # type: ignore[attr-defined]
                        return
                    raise SimDeadlock(
                        f"simulation deadlocked at t={self._now:.6f}: nothing is scheduled, "
                        "so the awaited coroutine can never finish"
                    )
                now = head[0]
                if now > self._now:
                    self._now = now
                else:
                    now = self._now
            if self._cancelled_timers > _COMPACT_AT and 2 * self._cancelled_timers > len(timers):
                self._compact()
            while timers and timers[0][0] <= now:
                entry = heappop(timers)
                handle = entry[2]
                if handle is None:
                    entry[3](*entry[4])
                else:
                    handle._scheduled = False
                    if handle._cancelled:
                        self._cancelled_timers -= 1
                    else:
                        handle._run()
            if self._stopping:  # type: ignore[attr-defined]
                return

    def _compact(self) -> None:
        live = []
        for entry in self._timers:
            handle = entry[2]
            if handle is not None and handle._cancelled:
                handle._scheduled = False
            else:
                live.append(entry)
        heapify(live)
        self._timers[:] = live
        self._cancelled_timers = 0

    def close(self) -> None:
        super().close()
        self._timers.clear()

    # --- no real I/O in a simulation ----------------------------------------------

    def _process_events(self, event_list: list[Any]) -> None:
        pass

    def _write_to_self(self) -> None:
        pass  # single-threaded: nothing ever needs waking up

    def run_in_executor(self, executor: Any, func: Any, *args: Any) -> Any:
        raise NotImplementedError("threads are not deterministic; the simulator has no executor")

    def _make_socket_transport(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the simulator has no sockets; talk through the Transport")

    async def getaddrinfo(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("the simulator has no sockets; talk through the Transport")
