"""The definition, executed: a brute-force linearizability oracle.

Herlihy & Wing's definition read literally: try every order of the
operations that respects real time, keep those the sequential model
accepts. No pruning beyond real-time order and no memoisation, so it is
exponential — usable only on small histories. It exists as the reference
the fast checker is tested against (same verdict on every generated
history) and as the naive baseline in ``benchmarks/linearizability.py``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable

from minisys.consistency.history import INFINITY, Operation
from minisys.consistency.linearizability import relevant
from minisys.consistency.models import IMPOSSIBLE, Model


class OutOfTime(Exception):
    pass


def brute_force_linearizable(ops: Iterable[Operation], model: Model, deadline: float = INFINITY) -> bool:
    """True iff some real-time-respecting order of all definite operations
    (and any subset of the indefinite ones) obeys ``model``. Single key."""
    ops = relevant(ops)
    calls = 0

    def search(remaining: tuple[Operation, ...], state: object) -> bool:
        nonlocal calls
        calls += 1
        if calls % 1024 == 0 and time.monotonic() > deadline:
            raise OutOfTime
        if all(op.indefinite for op in remaining):
            return True
        # An op may go next only if no remaining op returned before it was called.
        earliest_ret = min(op.ret for op in remaining)
        for i, op in enumerate(remaining):
            if op.call > earliest_ret:
                continue
            new = model.step(state, op)
            if new is not IMPOSSIBLE and search(remaining[:i] + remaining[i + 1:], new):
                return True
            if op.indefinite and search(remaining[:i] + remaining[i + 1:], state):
                return True  # the indefinite op never took effect
        return False

    return search(tuple(ops), model.init())


def linearizable_history(n: int, seed: int, processes: int = 10, keys: int = 10) -> list[Operation]:
    """A history that is linearizable by construction, for tests and the benchmark.

    A simulated atomic store: each process issues one operation at a time;
    every operation takes effect at a random instant inside its
    [invocation, completion] interval, and reads return the state at that
    instant. 45% reads, 40% writes (1% of them indefinite, still applied),
    15% cas (a cas whose expected value does not match fails).
    """
    rng = random.Random(seed)
    clock = [0.0] * processes
    state: dict[int, object] = {}
    planned = []
    value = 0
    for i in range(n):
        p = min(range(processes), key=lambda q: clock[q])
        call = clock[p] + rng.uniform(0, 5)
        ret = call + rng.uniform(1, 20)
        point = rng.uniform(call, ret)
        key = rng.randrange(keys)
        r = rng.random()
        value += 1
        f = "read" if r < 0.45 else "write" if r < 0.85 else "cas"
        planned.append((point, i, p, key, f, value, call, ret, rng.random() < 0.01 and f == "write"))
        clock[p] = ret
    ops = []
    for _point, i, p, key, f, v, call, ret, lost in sorted(planned):
        cur = state.get(key)
        if f == "read":
            ops.append(Operation(i, p, "read", key, None, cur, "ok", call, ret))
        elif f == "write":
            state[key] = v
            ops.append(Operation(i, p, "write", key, v, v, "info" if lost else "ok", call, INFINITY if lost else ret))
        else:
            frm = cur if rng.random() < 0.7 else v - 1
            if frm == cur:
                state[key] = v
                ops.append(Operation(i, p, "cas", key, (frm, v), None, "ok", call, ret))
            else:
                ops.append(Operation(i, p, "cas", key, (frm, v), None, "fail", call, ret))
    return sorted(ops, key=lambda o: o.id)
