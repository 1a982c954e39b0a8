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
from dataclasses import dataclass, field

from minisys.dynamo.vclock import TRUNCATE_AT, Dot, VClock


@dataclass(frozen=True, slots=True)
class Sibling:
    """One surviving version of a key: its value, the event that made it, and what it had seen."""

    value: bytes
    dot: Dot
    past: VClock
    # Its plain form, made once: a version is immutable, and the same sibling
    # travels in many messages (every read of the key sends it again).
    _plain: list[object] | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def version(self) -> VClock:
        return self.past.with_dot(self.dot)

    def to_plain(self) -> list[object]:
        plain = self._plain
        if plain is None:
            dot = self.dot
            plain = [self.value, dot.node, dot.counter, dot.ts, self.past.to_plain()]
            object.__setattr__(self, "_plain", plain)
            _remember((dot.node, dot.counter), self)
        return plain

    @classmethod
    def from_plain(cls, plain: Sequence[object]) -> Sibling:
        value, node, counter, ts, past = plain
        if type(node) is str:
            hit = _versions.get((node, counter))
            if hit is not None and (hit._plain is plain or hit._plain == plain):
                return hit  # the version we decoded (or encoded) before: equal data, same sibling
        sibling = cls(bytes(value), Dot(str(node), int(counter), float(ts)), VClock.from_plain(past))  # type: ignore[arg-type]
        if (type(plain) is list and type(value) is bytes and type(node) is str and type(counter) is int
                and type(ts) is float):
            object.__setattr__(sibling, "_plain", plain)  # already exactly what to_plain() would make
            _remember((node, counter), sibling)
        return sibling


# Versions met recently, by dot. A version travels again and again (every
# read of a key sends all its siblings from each replica, every put sends the
# new list to N-1 replicas), and rebuilding it from plain data each time is
# most of what a replica does per message. A hit is used only if its plain
# form equals the incoming one, so it is exactly what decoding would give.
# Bounded: when full, the older half is forgotten.
_versions: dict[tuple[str, int], Sibling] = {}
VERSIONS_KEPT = 1 << 19


def _remember(dot: tuple[str, int], sibling: Sibling) -> None:
    if len(_versions) >= VERSIONS_KEPT:
        for old in list(_versions)[: VERSIONS_KEPT // 2]:
            _versions.pop(old, None)
    _versions[dot] = sibling


def to_plain(siblings: Iterable[Sibling]) -> list[list[object]]:
    return [s.to_plain() for s in siblings]


def from_plain(plain: Iterable[Sequence[object]]) -> list[Sibling]:
    return [Sibling.from_plain(p) for p in plain]


def sync(*lists: Iterable[Sibling]) -> list[Sibling]:
    """Merge replicas' sibling lists: keep each dot once, drop those another sibling has seen."""
    by_dot: dict[tuple[str, int], Sibling] = {}
    for siblings in lists:
        for s in siblings:
            dot = s.dot
            key = (dot.node, dot.counter)
            if key not in by_dot:
                by_dot[key] = s
    if len(by_dot) <= 1:  # the common case: one version, nothing can have seen it but itself
        return list(by_dot.values())
    # Only a sibling with a non-empty past can have seen (and so obsolete) another.
    seers = [s for s in by_dot.values() if s.past]
    # Highest counter any past has seen, per node: a dot above it is seen by
    # nobody (the usual answer), so the pairwise check runs only below it.
    seen: dict[str, int] = {}
    for o in seers:
        for node, (counter, _) in o.past.entries().items():
            if counter > seen.get(node, 0):
                seen[node] = counter
    return [s for (node, counter), s in sorted(by_dot.items())
            if seen.get(node, 0) < counter or not any(o is not s and o.past.contains(s.dot) for o in seers)]


def dots(siblings: Iterable[Sibling]) -> frozenset[tuple[str, int]]:
    """The identities of a sibling list: a dot names exactly one version (value and past)."""
    return frozenset((s.dot.node, s.dot.counter) for s in siblings)


def same_versions(a: list[Sibling], b: list[Sibling]) -> bool:
    """Do two sibling lists hold the same versions? A dot names one version (same
    dot, same data) and a list never repeats a dot, so equal lengths and equal
    dot sets decide it without comparing values."""
    return a == b or (len(a) == len(b) and dots(a) == dots(b))


def context_of(siblings: Iterable[Sibling]) -> VClock:
    """A clock that subsumes every sibling: what a get hands back to the client (§5 (v)).

    The join of every sibling's :meth:`~Sibling.version`.
    """
    return VClock.join((s.past, s.dot) for s in siblings)


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
