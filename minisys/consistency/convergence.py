"""Convergence after quiescence: all replicas of a key hold the same thing.

Eventual consistency (Vogels 2008; Dynamo §2.3, §4.7) is a liveness
promise: once updates stop and the failures heal, anti-entropy and read
repair bring every replica to the same state. A test therefore heals,
waits for quiescence (bounded, in virtual time when simulated), then
compares. Replica states are compared as given (a sibling list is compared
as a set, since sibling order carries no meaning).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from minisys.consistency._final import final_reads, observed
from minisys.consistency.history import History, Operation
from minisys.consistency.result import CheckResult


def _norm(v: object) -> object:
    if isinstance(v, (list, tuple, set, frozenset)):
        return frozenset(_norm(x) for x in v)
    return v


def check_convergence(replicas: Mapping[object, Mapping[object, object]]) -> CheckResult:
    """``replicas`` maps key → {replica id: that replica's state of the key}."""
    diverged = {}
    for key, states in replicas.items():
        if len({repr(sorted(_norm(s), key=repr)) if isinstance(_norm(s), frozenset) else repr(s) for s in states.values()}) > 1:
            diverged[key] = dict(states)
    details = {"keys": len(replicas), "diverged": len(diverged)}
    if diverged:
        sample = "; ".join(f"{k!r}: {v}" for k, v in list(sorted(diverged.items(), key=lambda kv: repr(kv[0])))[:3])
        return CheckResult("convergence", False, f"{len(diverged)} of {len(replicas)} keys still differ between replicas after quiescence ({sample})", details={**details, "states": diverged})
    if not replicas:
        return CheckResult("convergence", None, "no replica state given: nothing to compare", details=details)
    return CheckResult("convergence", True, f"all replicas agree on all {len(replicas)} keys", details=details)


def check_final_reads_agree(history: History | Iterable[Operation]) -> CheckResult:
    """The client-side view of convergence: every final read of a key (through
    any coordinator or replica) returns the same sibling set."""
    ops = history.operations() if isinstance(history, History) else list(history)
    reads = final_reads(ops)
    bad: list[Operation] = []
    for _key, rs in reads.items():
        if len({observed(r, True) for r in rs}) > 1:
            bad += rs
    if bad:
        return CheckResult("final-reads-agree", False, f"final reads of {len({r.key for r in bad})} key(s) disagree", offending=bad)
    if not reads:
        return CheckResult("final-reads-agree", None, "no final reads: nothing to compare")
    return CheckResult("final-reads-agree", True, f"final reads of {len(reads)} key(s) agree")
