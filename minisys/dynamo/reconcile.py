"""Siblings: the versions of one key that no other version supersedes (§4.4, §6).

A replica stores, per key, a list of :class:`Sibling` s -- a value, the
:class:`~minisys.dynamo.vclock.Dot` that created it and its causal past.
Three operations keep that list honest:

* :func:`update` -- a coordinator applies a client's put: it drops the
  siblings the client's context has seen and adds the new value with a fresh
  dot. Siblings the client had *not* seen stay (that is what keeps concurrent
  writers' data, the shopping cart's "add to cart is never lost", §4.4).
* :func:`sync` -- two replicas' lists merge: union, minus whatever another
  sibling's past contains. Commutative, associative, idempotent, so replicas
  converge whatever order hints, read repair and anti-entropy arrive in.
* :func:`context_of` -- the clock a get returns: the join of every sibling's
  past and dot, so a put with it supersedes all of them (§5 (v)).

Reconciliation beyond that is the application's: :func:`merge_values` runs a
*merge hook* (e.g. :func:`cart_union`, the shopping-cart union) over the
siblings. :func:`lww_sync` is the "last write wins" mode some Dynamo services
used (§6): it keeps only the highest timestamp and therefore *loses* concurrent
writes; it exists as a negative control.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from minisys.dynamo.vclock import TRUNCATE_AT, Dot, VClock


@dataclass(frozen=True, slots=True)
class Sibling:
    """One surviving version of a key: its value, the event that made it, and what it had seen."""

    value: bytes
    dot: Dot
    past: VClock

    def version(self) -> VClock:
        return self.past.with_dot(self.dot)

    def to_plain(self) -> list[object]:
        return [self.value, self.dot.node, self.dot.counter, self.dot.ts, self.past.to_plain()]

    @classmethod
    def from_plain(cls, plain: Sequence[object]) -> Sibling:
        value, node, counter, ts, past = plain
        return cls(bytes(value), Dot(str(node), int(counter), float(ts)), VClock.from_plain(past))  # type: ignore[arg-type]


def to_plain(siblings: Iterable[Sibling]) -> list[list[object]]:
    return [s.to_plain() for s in siblings]


def from_plain(plain: Iterable[Sequence[object]]) -> list[Sibling]:
    return [Sibling.from_plain(p) for p in plain]


def _key(s: Sibling) -> tuple[str, int]:
    return (s.dot.node, s.dot.counter)


def sync(*lists: Iterable[Sibling]) -> list[Sibling]:
    """Merge replicas' sibling lists: keep each dot once, drop those another sibling has seen."""
    by_dot: dict[tuple[str, int], Sibling] = {}
    for siblings in lists:
        for s in siblings:
            by_dot.setdefault((s.dot.node, s.dot.counter), s)
    if len(by_dot) <= 1:  # the common case: one version, nothing can have seen it but itself
        return list(by_dot.values())
    alive = list(by_dot.values())
    kept = [s for s in alive if not any(o is not s and o.past.contains(s.dot) for o in alive)]
    return sorted(kept, key=_key)


def dots(siblings: Iterable[Sibling]) -> frozenset[tuple[str, int]]:
    """The identities of a sibling list: a dot names exactly one version (value and past)."""
    return frozenset((s.dot.node, s.dot.counter) for s in siblings)


def context_of(siblings: Iterable[Sibling]) -> VClock:
    """A clock that subsumes every sibling: what a get hands back to the client (§5 (v))."""
    clock = VClock()
    for s in siblings:
        clock = clock.merge(s.version())
    return clock


def next_counter(node: str, siblings: Iterable[Sibling], context: VClock) -> int:
    """A fresh counter for ``node``: above anything it coordinated that is still visible here.

    Per-actor counters must strictly increase (Riak's KV679 bug reused them
    after data loss); the coordinator stores locally before acking, so its own
    store always holds its highest event for the key.
    """
    top = context.counter(node)
    for s in siblings:
        top = max(top, s.past.counter(node), s.dot.counter if s.dot.node == node else 0)
    return top + 1


def update(local: Iterable[Sibling], context: VClock, value: bytes, node: str, ts: float,
           truncate_at: int = TRUNCATE_AT, floor: int = 0) -> tuple[list[Sibling], Sibling]:
    """Apply a put coordinated by ``node``: the new list and the new sibling (§4.4, §5).

    ``floor`` is the node's own never-decreasing event counter: it keeps dots
    unique even after the node dropped a key (range transfer) or coordinated
    it as a sloppy fallback with only a hint at hand.
    """
    local = list(local)
    dot = Dot(node, max(next_counter(node, local, context), floor), ts)
    new = Sibling(value, dot, context.truncate(truncate_at))
    kept = [s for s in local if not context.contains(s.dot)]
    return sync(kept, [new]), new


# --- last write wins: the negative control ------------------------------------------------


def lww_sync(*lists: Iterable[Sibling]) -> list[Sibling]:
    """Keep the single version with the highest (timestamp, node): concurrent writes are lost."""
    best: Sibling | None = None
    for siblings in lists:
        for s in siblings:
            if best is None or (s.dot.ts, s.dot.node, s.dot.counter) > (best.dot.ts, best.dot.node, best.dot.counter):
                best = s
    return [] if best is None else [best]


def lww_update(local: Iterable[Sibling], context: VClock, value: bytes, node: str, ts: float,
               truncate_at: int = TRUNCATE_AT, floor: int = 0) -> tuple[list[Sibling], Sibling]:
    """A put in LWW mode: the context is ignored, the newest timestamp stomps everything."""
    local = list(local)
    new = Sibling(value, Dot(node, max(next_counter(node, local, context), floor), ts), VClock())
    return lww_sync(local, [new]), new


# --- application-level merge hooks (§4.4, §6 "business logic specific reconciliation") ----------

MergeHook = Callable[[list[bytes]], bytes]


def cart_union(values: list[bytes]) -> bytes:
    """The shopping cart: items are comma-separated; the merge is their set union."""
    items: set[str] = set()
    for v in values:
        items.update(x for x in v.decode("utf-8").split(",") if x)
    return ",".join(sorted(items)).encode("utf-8")


def merge_values(values: list[bytes], hook: MergeHook | None = None) -> bytes:
    """One value from siblings: the hook's answer, or the only value if there is one."""
    if len(values) == 1:
        return values[0]
    if hook is None:
        raise ValueError(f"{len(values)} siblings and no merge hook to reconcile them")
    return hook(values)
