"""Linearizability checking: Wing & Gong's search with Lowe's improvements.

Herlihy & Wing (1990): a history is linearizable if every operation can be
given one instant between its invocation and its response such that, in
that order, the operations obey the object's sequential specification.
Deciding it is NP-complete (Gibbons & Korach 1997), so the search must be
pruned hard:

* **Wing & Gong (1993)**: walk the history's call/return events in time
  order; at a call, tentatively linearize that operation (if the model
  allows it) and *lift* it out of the list; at a return whose operation is
  not yet linearized, backtrack to the last choice.
* **Lowe (2017), "Testing for linearizability", §4**: the events live in a
  doubly-linked list so lifting/unlifting is O(1), and a *cache* of
  visited configurations — (set of linearized operations as a bitset,
  model state) — stops the search from exploring the same configuration
  twice, which turns most real histories from exponential to near-linear.
* **P-compositionality** (Herlihy & Wing §3.3 locality; Horn & Kroening
  2015): a history of independent keys is linearizable iff each key's
  sub-history is, so each key is searched on its own.

Indefinite operations (``info``) get an infinite return time: they may be
linearized anywhere after their call, or never (the search succeeds once
every *definite* operation is placed). Indefinite reads constrain nothing
and are dropped; failed operations never happened and are dropped.

A search that exceeds its time budget answers "unknown", never a guess.
A violation is explained by a small sub-history shrunk with steps that keep
it non-linearizable *only if the original was* (see :func:`shrink`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from minisys.consistency.history import INFINITY, History, Operation
from minisys.consistency.models import IMPOSSIBLE, Model
from minisys.consistency.models import model as model_named
from minisys.consistency.result import CheckResult

#: How often (in search steps) the deadline is looked at.
_CLOCK_EVERY = 2048
#: Explanations are shrunk within this share of the remaining budget.
SHRINK_SECONDS = 2.0


@dataclass
class _Outcome:
    valid: bool | None
    steps: int
    blocked: Operation | None = None  # the op whose return could not be reached, at the deepest point
    depth: int = 0  # how many ops were linearized at that point


def relevant(ops: Iterable[Operation]) -> list[Operation]:
    """Drop what cannot constrain the search: failed ops and indefinite reads."""
    return [op for op in ops if op.status != "fail" and not (op.indefinite and op.is_read)]


def wgl(ops: list[Operation], model: Model, deadline: float = INFINITY, cache: bool = True) -> _Outcome:
    """Search one key's operations; True, False, or None (out of time).

    ``cache=False`` turns Lowe's memoisation off (plain Wing & Gong), for
    the benchmark's comparison and for tests that show what the cache buys.
    """
    n = len(ops)
    if n == 0:
        return _Outcome(True, 0)
    # Events: (time, 0 = call / 1 = return, op index). Calls sort before
    # returns at equal times: touching intervals count as concurrent.
    events = [(op.call, 0, i) for i, op in enumerate(ops)]
    events += [(op.ret, 1, i) for i, op in enumerate(ops) if op.ret != INFINITY]
    events.sort()
    m = len(events)
    # Lowe's doubly-linked list over event slots; slot m is the head sentinel.
    HEAD = m
    nxt = list(range(1, m + 1)) + [0]
    nxt[m - 1] = -1
    prv = [HEAD] + list(range(0, m - 1)) + [-1]
    nxt[HEAD] = 0 if m else -1
    is_call = [e[1] == 0 for e in events]
    op_of = [e[2] for e in events]
    ret_slot = [-1] * n
    for s, e in enumerate(events):
        if e[1] == 1:
            ret_slot[e[2]] = s

    def lift(s: int) -> None:
        nxt[prv[s]] = nxt[s]
        if nxt[s] != -1:
            prv[nxt[s]] = prv[s]
        r = ret_slot[op_of[s]]
        if r != -1:
            nxt[prv[r]] = nxt[r]
            if nxt[r] != -1:
                prv[nxt[r]] = prv[r]

    def unlift(s: int) -> None:
        r = ret_slot[op_of[s]]
        if r != -1:
            nxt[prv[r]] = r
            if nxt[r] != -1:
                prv[nxt[r]] = r
        nxt[prv[s]] = s
        if nxt[s] != -1:
            prv[nxt[s]] = s

    step = model.step
    state = model.init()
    linearized = 0
    seen: set[tuple[int, object]] = set()
    stack: list[tuple[int, object]] = []
    entry = nxt[HEAD]
    steps = 0
    best_depth, blocked = -1, None
    while nxt[HEAD] != -1:
        steps += 1
        if steps % _CLOCK_EVERY == 0 and time.monotonic() > deadline:
            return _Outcome(None, steps)
        if entry == -1:
            return _Outcome(True, steps)  # only indefinite calls are left: leave them out
        if is_call[entry]:
            i = op_of[entry]
            new = step(state, ops[i])
            if new is not IMPOSSIBLE:
                lin = linearized | (1 << i)
                if not cache or (lin, new) not in seen:
                    if cache:
                        seen.add((lin, new))
                    stack.append((entry, state))
                    state, linearized = new, lin
                    lift(entry)
                    entry = nxt[HEAD]
                    continue
            entry = nxt[entry]
        else:
            if len(stack) > best_depth:
                best_depth, blocked = len(stack), ops[op_of[entry]]
            if not stack:
                return _Outcome(False, steps, blocked, best_depth)
            entry, state = stack.pop()
            linearized &= ~(1 << op_of[entry])
            unlift(entry)
            entry = nxt[entry]
    return _Outcome(True, steps)


def _observed_values(ops: list[Operation]) -> set:
    seen = set()
    for op in ops:
        if op.is_read:
            seen.add(op.output)
        elif op.f == "cas":
            seen.add(op.value[0])
    return seen


def _written(op: Operation) -> object:
    return op.value[1] if op.f == "cas" else op.value


def shrink(ops: list[Operation], model: Model, blocked: Operation | None, seconds: float) -> list[Operation]:
    """A small sub-history that is still non-linearizable, by sound steps only.

    Each step keeps "H linearizable ⇒ H' linearizable", so H' failing
    proves H fails: (1) cut at the blocked operation's return, dropping
    later calls and making ops still pending then indefinite; (2) drop a
    read (reads change no state); (3) drop an update (write or cas) whose
    value no read or cas observed (registers only: in any linearization
    only writes can follow it before the next change); (4) weaken a
    definite update to indefinite (it may then be placed or left out).
    A step is kept only if the search *definitely* still says
    non-linearizable within the budget; chunks are tried before single
    operations (Zeller's delta debugging).
    """
    deadline = time.monotonic() + seconds
    if blocked is not None and blocked.ret != INFINITY:
        cut = blocked.ret
        cand = [op if op.ret <= cut else replace(op, status="info", ret=INFINITY) for op in ops if op.call <= cut]
        cand = relevant(cand)
        if wgl(cand, model, deadline).valid is False:
            ops = cand
    appends = any(op.f == "append" for op in ops)

    def reads(cur: list[Operation]) -> list[int]:
        return [op.id for op in cur if op.is_read]

    def unobserved(cur: list[Operation]) -> list[int]:
        if appends:
            return []
        seen = _observed_values(cur)
        return [op.id for op in cur if op.f in ("write", "put", "cas") and _written(op) not in seen]

    def definite_updates(cur: list[Operation]) -> list[int]:
        return [op.id for op in cur if not op.is_read and not op.indefinite]

    for action, candidates in (("drop", reads), ("drop", unobserved), ("weaken", definite_updates), ("drop", unobserved)):
        ops = _reduce(ops, model, action, candidates, deadline)
    return ops


def _reduce(ops: list[Operation], model: Model, action: str, candidates: Callable[[list[Operation]], list[int]],
            deadline: float) -> list[Operation]:
    """Delta debugging over the candidate operations: try a whole chunk at
    once, halve the chunk when nothing goes, down to single operations."""
    def apply(cur: list[Operation], ids: set[int]) -> list[Operation]:
        if action == "drop":
            return [op for op in cur if op.id not in ids]
        return [replace(op, status="info", ret=INFINITY, weakened=True) if op.id in ids else op for op in cur]

    cand = candidates(ops)
    chunk = max(1, len(cand) // 2)
    while cand and time.monotonic() < deadline:
        i = 0
        while i < len(cand) and time.monotonic() < deadline:
            trial = apply(ops, set(cand[i:i + chunk]))
            if wgl(trial, model, deadline).valid is False:
                ops, cand = trial, candidates(trial)
            else:
                i += chunk
        if chunk == 1:
            break
        chunk = max(1, chunk // 2)
    return ops


def by_key(ops: Iterable[Operation]) -> dict[object, list[Operation]]:
    """P-compositionality: one independent sub-history per key."""
    parts: dict[object, list[Operation]] = defaultdict(list)
    for op in ops:
        parts[op.key].append(op)
    return parts


def check_linearizable(history: History | Iterable[Operation], model: Model | str = "register",
                       timeout: float | None = None, explain: bool = True) -> CheckResult:
    """Linearizable, not linearizable (with a minimal explanation), or unknown."""
    mdl = model_named(model) if isinstance(model, str) else model
    ops = history.operations() if isinstance(history, History) else list(history)
    mdl.validate(ops)
    start = time.monotonic()
    deadline = start + timeout if timeout is not None else INFINITY
    unknown_keys: list[object] = []
    steps = 0
    for key, part in sorted(by_key(relevant(ops)).items(), key=lambda kv: (len(kv[1]), repr(kv[0]))):
        out = wgl(part, mdl, deadline)
        steps += out.steps
        if out.valid is False:
            witness = part
            if explain:
                budget = SHRINK_SECONDS if timeout is None else max(0.0, min(SHRINK_SECONDS, deadline - time.monotonic()))
                witness = shrink(part, mdl, out.blocked, budget)
            where = f"key {key!r}: " if key is not None else ""
            blocked = f"; stuck before {out.blocked.describe()}" if out.blocked else ""
            return CheckResult(
                "linearizable", False,
                f"{where}no order of these {len(witness)} operations obeys the {mdl.name} model and real time{blocked}",
                offending=witness, details={"key": key, "ops": len(ops), "steps": steps, "seconds": time.monotonic() - start},
            )
        if out.valid is None:
            unknown_keys.append(key)
            if time.monotonic() > deadline:
                break
    details = {"ops": len(ops), "keys": len(by_key(ops)), "steps": steps, "seconds": time.monotonic() - start}
    if unknown_keys:
        return CheckResult("linearizable", None, f"search ran out of time (timeout {timeout}s) on key(s) {unknown_keys!r}; no verdict", details=details)
    return CheckResult("linearizable", True, f"{len(ops)} operations over {details['keys']} key(s) are linearizable ({mdl.name})", details=details)
