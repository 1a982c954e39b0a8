"""Running a real (wall-clock) process's event loop: uvloop when it is installed.

Why: a node process spends much of its CPU in the event loop itself --
socket reads and writes, callbacks, timers -- for every HTTP exchange.
uvloop (libuv) does that work in C and roughly halves it; asyncio's own loop
is the fallback, with identical behaviour. The simulator never uses this:
its virtual-time loop is what makes runs replayable.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


#: Set to ``asyncio`` to run on asyncio's own loop even when uvloop is installed (A/B runs, debugging).
LOOP_ENV = "MINISYS_LOOP"


def fast_loop_name() -> str:
    """``"uvloop"`` if :func:`run` will use it, else ``"asyncio"``."""
    if os.environ.get(LOOP_ENV, "").lower() == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on uvloop when available (and not turned off with ``MINISYS_LOOP=asyncio``)."""
    if fast_loop_name() == "asyncio":
        return asyncio.run(main)
    import uvloop

    return uvloop.run(main)
