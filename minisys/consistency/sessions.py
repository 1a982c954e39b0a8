"""Session guarantees (Terry et al., "Session Guarantees for Weakly Consistent
Replicated Data", PDIS 1994): read-your-writes and monotonic reads.

A session is one client process. Which write is "newer" than which needs a
version order; two are offered:

* ``order="realtime"`` (registers): write A is older than B if A returned
  before B was invoked. Any linearizable store passes under this order, so
  a violation is real.
* ``order="context"`` (sibling stores such as Dynamo, §4.4): B is newer
  than A only if B's context — the values it had read — includes A,
  transitively. Concurrent blind writes are *not* ordered, as vector clocks
  would not order them.

Read-your-writes: a read after the session's own write ``w`` returns ``w``'s
value or one not older than it. Monotonic reads: a read never returns a value
older than one an earlier read of the same session returned.
Values must be unique per key (as in Jepsen's workloads).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cache

from minisys.consistency._final import observed
from minisys.consistency.history import History, Operation
from minisys.consistency.result import CheckResult

UPDATES = ("write", "put", "cas")


def written(op: Operation) -> object:
    """The value an update leaves behind (a cas leaves its ``to``)."""
    return op.value[1] if op.f == "cas" else op.value


class _Versions:
    """Which write is older than which, under the chosen order."""

    def __init__(self, ops: list[Operation], order: str) -> None:
        if order not in ("realtime", "context"):
            raise ValueError(f"order must be 'realtime' or 'context', not {order!r}")
        self.order = order
        self.writer: dict[tuple[object, object], Operation] = {}
        for op in ops:
            if op.f in UPDATES and op.status != "fail":
                self.writer[(op.key, written(op))] = op

        @cache
        def ancestors(key: object, value: object) -> frozenset:
            w = self.writer.get((key, value))
            if w is None or not w.context:
                return frozenset()
            out = set(w.context)
            for v in w.context:
                out |= ancestors(key, v)
            return frozenset(out)

        self._ancestors = ancestors

    def not_older(self, key: object, v: object, w: object) -> bool:
        """May a read that must not go back before ``w`` return ``v``?

        Context order: only ``w`` itself or a descendant of it. Real-time
        order: anything not *definitely* older — ``v`` must be a value some
        write produced, and that write must not have returned before ``w``
        was invoked (concurrent writes may be ordered either way).
        """
        if v == w:
            return True
        if self.order == "context":
            return w in self._ancestors(key, v)
        wv, ww = self.writer.get((key, v)), self.writer.get((key, w))
        return wv is not None and ww is not None and not wv.precedes(ww)

    def older(self, key: object, a: object, b: object) -> bool:
        """Is value ``a`` strictly older than value ``b`` (``None`` = never written)?"""
        if a == b:
            return False
        if a is None:
            return b is not None
        if self.order == "context":
            return a in self._ancestors(key, b)
        wa, wb = self.writer.get((key, a)), self.writer.get((key, b))
        return wa is not None and wb is not None and wa.precedes(wb)


def _sessions(ops: list[Operation]) -> dict[object, list[Operation]]:
    by: dict[object, list[Operation]] = defaultdict(list)
    for op in sorted(ops, key=lambda o: o.call):
        by[op.process].append(op)
    return by


def check_read_your_writes(history: History | Iterable[Operation], order: str = "realtime",
                           siblings: bool = False) -> CheckResult:
    ops = history.operations() if isinstance(history, History) else list(history)
    ver = _Versions(ops, order)
    bad: list[Operation] = []
    checked = 0
    for session in _sessions(ops).values():
        mine: dict[object, Operation] = {}
        for op in session:
            if op.f in UPDATES and op.status == "ok":
                mine[op.key] = op
            elif op.is_read and op.status == "ok" and op.key in mine:
                w = mine[op.key]
                checked += 1
                seen = observed(op, siblings)
                if not any(ver.not_older(op.key, v, written(w)) for v in seen):
                    bad += [w, op]
    if bad:
        return CheckResult("read-your-writes", False, f"{len(bad) // 2} read(s) missed their own session's earlier write", offending=bad, details={"reads_checked": checked})
    if not checked:
        return CheckResult("read-your-writes", None, "no read followed a write of the same session")
    return CheckResult("read-your-writes", True, f"{checked} reads after own writes all saw them", details={"reads_checked": checked})


def check_monotonic_reads(history: History | Iterable[Operation], order: str = "realtime",
                          siblings: bool = False) -> CheckResult:
    ops = history.operations() if isinstance(history, History) else list(history)
    ver = _Versions(ops, order)
    bad: list[Operation] = []
    checked = 0
    for session in _sessions(ops).values():
        last: dict[object, Operation] = {}
        for op in session:
            if not (op.is_read and op.status == "ok"):
                continue
            prev = last.get(op.key)
            if prev is not None:
                checked += 1
                before, now = observed(prev, siblings), observed(op, siblings)
                if any(ver.older(op.key, v, u) for v in now for u in before) or (before and not now and siblings):
                    bad += [prev, op]
            last[op.key] = op
    if bad:
        return CheckResult("monotonic-reads", False, f"{len(bad) // 2} read(s) went back in time within a session", offending=bad, details={"pairs_checked": checked})
    if not checked:
        return CheckResult("monotonic-reads", None, "no session read a key twice")
    return CheckResult("monotonic-reads", True, f"{checked} successive read pairs never went back in time", details={"pairs_checked": checked})
