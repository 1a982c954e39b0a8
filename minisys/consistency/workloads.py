"""Workloads: which operations clients issue, and which checkers judge them.

Jepsen's shapes, small: a ``register`` workload (reads, writes and — where
the store has it — compare-and-set over a few keys, judged by the
linearizability checker with the cas-register model, and, for sibling
stores, by no-lost-writes and convergence), a ``set`` workload (unique adds
and a final read, judged by the set checker) and a ``kv`` workload (reads,
writes and list appends, judged by the kv model). Written values are
unique per run so every read names the write it saw.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from minisys.consistency.convergence import check_convergence, check_final_reads_agree
from minisys.consistency.history import Operation
from minisys.consistency.linearizability import check_linearizable
from minisys.consistency.lost_writes import check_no_lost_writes
from minisys.consistency.result import CheckResult
from minisys.consistency.sessions import check_monotonic_reads, check_read_your_writes
from minisys.consistency.sets import check_set
from minisys.errors import BadInput

WORKLOADS = ("register", "set", "kv")


@dataclass
class Workload:
    name: str
    keys: tuple[str, ...]
    functions: tuple[str, ...]  # what the store offers; the mix is drawn from these
    _values: itertools.count = field(default_factory=lambda: itertools.count(1))

    def next_op(self, rng: random.Random) -> tuple[str, str, object]:
        """(f, key, value) for one client operation."""
        key = rng.choice(self.keys)
        if self.name == "set":
            return ("add", key, next(self._values)) if rng.random() < 0.9 else ("read", key, None)
        r = rng.random()
        if r < 0.45:
            return "read", key, None
        if self.name == "kv" and "append" in self.functions and r < 0.75:
            return "append", key, next(self._values)
        if "cas" in self.functions and r < 0.65:
            hi = next(self._values)
            return "cas", key, (rng.randrange(max(1, hi - 5), hi + 1) if hi > 1 else None, next(self._values))
        return "write", key, next(self._values)

    def final_keys(self) -> tuple[str, ...]:
        return self.keys


def workload(name: str, functions: Sequence[str], keys: int = 3) -> Workload:
    if name not in WORKLOADS:
        raise BadInput(f"unknown workload {name!r}; choose one of {', '.join(WORKLOADS)}")
    need = {"set": "add", "kv": "write", "register": "write"}[name]
    if need not in functions:
        raise BadInput(f"workload {name!r} needs {need!r}, which this target does not offer ({', '.join(functions)})")
    prefix = {"set": "s", "kv": "kv", "register": "r"}[name]
    return Workload(name, tuple(f"{prefix}{i}" for i in range(keys if name != "set" else 1)), tuple(functions))


def check(workload: Workload, ops: list[Operation], *, siblings: bool,
          replicas: dict[str, dict[str, object]] | None = None, timeout: float = 30.0) -> list[CheckResult]:
    """Every checker that applies to this workload on this kind of store."""
    if workload.name == "set":
        return [check_set(ops)]
    model = "kv" if workload.name == "kv" else "cas-register"
    live = [op for op in ops if not op.final]
    results = [check_linearizable(live, model, timeout=timeout)]
    order = "context" if siblings else "realtime"
    results += [check_read_your_writes(live, order=order, siblings=siblings),
                check_monotonic_reads(live, order=order, siblings=siblings)]
    if siblings:
        results.append(check_no_lost_writes(ops))
        results.append(check_final_reads_agree(ops))
        if replicas:
            results.append(check_convergence(replicas))
    return results
