"""Shared helpers: which reads are "final", and what a read observed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from minisys.consistency.history import INFINITY, Operation


def observed(op: Operation, siblings: bool) -> frozenset:
    """The values a read saw: its sibling set for sibling stores, else one value."""
    if siblings:
        out = op.output
        if out is None:
            return frozenset()
        return frozenset(out) if isinstance(out, tuple) else frozenset([out])
    return frozenset([op.output])


def final_reads(ops: Iterable[Operation]) -> dict[object, list[Operation]]:
    """Per key, the ok reads made after quiescence.

    Reads flagged ``final`` win; without flags, the reads invoked after
    every update of that key had returned (indefinite updates excepted:
    they may still be in flight, which is exactly their point).
    """
    ops = list(ops)
    flagged: dict[object, list[Operation]] = defaultdict(list)
    for op in ops:
        if op.final and op.is_read and op.status == "ok":
            flagged[op.key].append(op)
    if flagged:
        return dict(flagged)
    last: dict[object, float] = defaultdict(lambda: -INFINITY)
    for op in ops:
        if not op.is_read and op.ret != INFINITY:
            last[op.key] = max(last[op.key], op.ret)
    out: dict[object, list[Operation]] = defaultdict(list)
    for op in ops:
        if op.is_read and op.status == "ok" and op.call > last[op.key]:
            out[op.key].append(op)
    return dict(out)
