"""Set and counter workloads: every add and every increment accounted for.

Jepsen's ``set-full`` checker (used by Maelstrom's g-set) and Maelstrom's
g-counter/pn-counter checker. The final read after quiescence must:

* set: contain every acknowledged ``add`` (else *lost*) and nothing never
  attempted (else *unexpected*); an indefinite add may go either way;
* counter: lie between the sum of acknowledged deltas plus every
  indefinite negative delta, and that sum plus every indefinite positive
  delta — each indefinite increment may or may not have counted.
"""

from __future__ import annotations

from collections.abc import Iterable

from minisys.consistency._final import final_reads, observed
from minisys.consistency.history import History, Operation
from minisys.consistency.result import CheckResult


def check_set(history: History | Iterable[Operation]) -> CheckResult:
    ops = history.operations() if isinstance(history, History) else list(history)
    reads = final_reads([op for op in ops if op.f in ("add", "read", "get")])
    adds = [op for op in ops if op.f == "add"]
    bad: list[Operation] = []
    lost = unexpected = 0
    for key, rs in reads.items():
        final = rs[-1]
        present = observed(final, True)
        attempted = {op.value for op in adds if op.key == key and op.status != "fail"}
        missing = [op for op in adds if op.key == key and op.status == "ok" and op.value not in present]
        extra = sorted(present - attempted, key=repr)
        lost += len(missing)
        unexpected += len(extra)
        if missing or extra:
            bad += missing + [final]
    acked = sum(1 for op in adds if op.status == "ok" and op.key in reads)
    details = {"acknowledged": acked, "lost": lost, "unexpected": unexpected}
    if bad:
        return CheckResult("set", False, f"{lost} acknowledged add(s) lost, {unexpected} element(s) never added", offending=bad, details=details)
    if not reads:
        return CheckResult("set", None, "no final read: nothing to check", details=details)
    return CheckResult("set", True, f"all {acked} acknowledged adds present, nothing unexpected", details=details)


def check_counter(history: History | Iterable[Operation]) -> CheckResult:
    ops = history.operations() if isinstance(history, History) else list(history)
    reads = final_reads([op for op in ops if op.f in ("add", "read", "get")])
    bad: list[Operation] = []
    notes = []
    for key, rs in reads.items():
        final = rs[-1]
        adds = [op for op in ops if op.f == "add" and op.key == key]
        base = sum(op.value for op in adds if op.status == "ok")
        lo = base + sum(op.value for op in adds if op.status == "info" and op.value < 0)
        hi = base + sum(op.value for op in adds if op.status == "info" and op.value > 0)
        got = final.output or 0
        if not lo <= got <= hi:
            bad.append(final)
            notes.append(f"{key!r} read {got}, possible {lo}..{hi}")
    if bad:
        return CheckResult("counter", False, "final value outside what the increments allow: " + "; ".join(notes), offending=bad)
    if not reads:
        return CheckResult("counter", None, "no final read: nothing to check")
    return CheckResult("counter", True, f"final values of {len(reads)} counter(s) within bounds")
