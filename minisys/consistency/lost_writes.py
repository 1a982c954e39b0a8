"""No lost acknowledged writes, for stores that keep siblings (Dynamo §4.4).

Dynamo promises that "an add to cart operation is never lost": concurrent
writes become siblings that a later write (carrying the read's context)
reconciles. So after convergence, every acknowledged write is either still
present, or *superseded* by a write that read it. This is the must/may rule
of Basho's ``ec_eqc.erl`` model: an ok put adds its value to *must*, and a
put (ok or indefinite) moves every value it read to *may*; at the final
read, nothing in *must* may be missing.

Indefinite and failed puts are never counted lost (a timed-out put may or
may not have landed — Cassandra does not even roll a failed one back).
Values must be unique per key, as Jepsen's workloads make them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from minisys.consistency._final import final_reads, observed
from minisys.consistency.history import History, Operation
from minisys.consistency.result import CheckResult

UPDATES = ("write", "put")


def check_no_lost_writes(history: History | Iterable[Operation],
                         final: Mapping[object, Iterable[object]] | None = None) -> CheckResult:
    """Every ok write is present in the final state, or superseded by a write that read it.

    ``final`` maps key → the values (siblings) present after convergence;
    without it, the history's final reads are used (their union, so a
    value counts as present if any final read saw it — disagreement between
    replicas is :func:`~minisys.consistency.convergence.check_convergence`'s job).
    """
    ops = history.operations() if isinstance(history, History) else list(history)
    if final is None:
        reads = final_reads(ops)
        present = {k: frozenset().union(*(observed(r, True) for r in rs)) for k, rs in reads.items()}
    else:
        present = {k: frozenset(v) for k, v in final.items()}
    must: dict[object, list[Operation]] = {}
    may: set[tuple[object, object]] = set()
    for op in ops:
        if op.f not in UPDATES or op.final:
            continue
        if op.status == "ok":
            must.setdefault(op.key, []).append(op)
        if op.status in ("ok", "info") and op.context:
            may.update((op.key, v) for v in op.context)
    checked = [k for k in must if k in present]
    unread = sorted((k for k in must if k not in present), key=repr)
    lost = [w for k in checked for w in must[k] if (k, w.value) not in may and w.value not in present[k]]
    acked = sum(len(must[k]) for k in checked)
    details = {"acknowledged": acked, "lost": len(lost), "keys": len(checked), "keys_without_final_read": unread}
    if lost:
        keys = sorted({w.key for w in lost}, key=repr)
        shown = "; ".join(f"{k!r} ended as {sorted(present[k], key=repr)}" for k in keys[:3])
        return CheckResult("no-lost-writes", False, f"{len(lost)} of {acked} acknowledged writes are gone and were never read by a later write ({shown})", offending=lost, details=details)
    if not checked:
        return CheckResult("no-lost-writes", None, "no final read of any written key: nothing to check", details=details)
    return CheckResult("no-lost-writes", True, f"all {acked} acknowledged writes survive or were superseded by a write that read them", details=details)
