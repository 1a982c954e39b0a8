"""Vector clocks and dotted versions: how Dynamo tells "newer" from "concurrent" (§4.4).

Dynamo attaches a vector clock -- a list of (node, counter) pairs -- to every
version. If every counter of A is <= B's, A is an ancestor of B and can be
forgotten; otherwise the two are concurrent and both are kept as *siblings*
for the client to reconcile.

**Why dotted version vectors.** With plain server-id clocks, two clients that
both read context C and write through the same coordinator Sx get clocks
C+(Sx,k) and C+(Sx,k+1): the second *looks* like a descendant of the first,
so one write silently vanishes (the "Server IDs" problem of Preguiça et al.'s
dotted version vectors, and Riak's sibling-explosion history). We give each
stored sibling a **dot** -- the single event ``(node, counter)`` that created
it -- and its **causal past**, the context the client supplied. A sibling is
obsolete only if some other sibling's past (or a client context) contains its
dot. The second write above has past C, which does not contain (Sx,k), so
both survive. The client's context is the join of all returned siblings'
pasts and dots, exactly the paper's "context that subsumes them" (§5 (v)).

**Truncation.** Each entry also carries the wall-clock time of its node's
last update; once a clock has more than ``threshold`` (default 10) entries,
the oldest-by-timestamp entry is dropped (§4.4). That can make a descendant
look concurrent (a false conflict -- siblings, never loss); a test shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Dynamo's example threshold: "when ... reaches a threshold (say 10)".
TRUNCATE_AT = 10


@dataclass(frozen=True, slots=True)
class Dot:
    """One write event: the ``counter``-th version coordinated by ``node`` (at wall time ``ts``)."""

    node: str
    counter: int
    ts: float = 0.0


class VClock:
    """An immutable vector clock: node -> (counter, timestamp of that node's last update)."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, tuple[int, float]] | None = None) -> None:
        self._entries: dict[str, tuple[int, float]] = dict(entries or {})

    # --- construction ---------------------------------------------------------

    @classmethod
    def of(cls, **counters: int) -> VClock:
        """``VClock.of(Sx=2, Sy=1)``: for tests and examples (timestamps 0)."""
        return cls({n: (c, 0.0) for n, c in counters.items()})

    @classmethod
    def from_plain(cls, plain: Iterable[Iterable[object]]) -> VClock:
        """From ``[[node, counter, ts], ...]`` (how clocks travel and are stored)."""
        entries: dict[str, tuple[int, float]] = {}
        for node, counter, ts in plain:  # type: ignore[misc]
            entries[str(node)] = (int(counter), float(ts))  # type: ignore[arg-type]
        if not entries and cls is VClock:
            return _EMPTY  # most versions have an empty past; clocks are immutable, so share one
        return cls(entries)

    def to_plain(self) -> list[list[object]]:
        if not self._entries:
            return []
        return [[n, c, t] for n, (c, t) in sorted(self._entries.items())]

    # --- queries -------------------------------------------------------------

    def entries(self) -> Mapping[str, tuple[int, float]]:
        """node -> (counter, timestamp); read-only (the clock is immutable)."""
        return self._entries

    def counter(self, node: str) -> int:
        entry = self._entries.get(node)
        return entry[0] if entry else 0

    def contains(self, dot: Dot) -> bool:
        """Has this clock seen the event ``dot``?"""
        entry = self._entries.get(dot.node)
        return (entry[0] if entry else 0) >= dot.counter

    def descends(self, other: VClock) -> bool:
        """``self >= other``: every counter of ``other`` is <= ours (§4.4 "ancestor")."""
        return all(self.counter(n) >= c for n, (c, _) in other._entries.items())

    def concurrent(self, other: VClock) -> bool:
        """Neither descends the other: a conflict the client must reconcile."""
        return not self.descends(other) and not other.descends(self)

    def nodes(self) -> list[str]:
        return sorted(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VClock):
            return NotImplemented
        return {n: c for n, (c, _) in self._entries.items()} == {n: c for n, (c, _) in other._entries.items()}

    def __hash__(self) -> int:
        return hash(tuple(sorted((n, c) for n, (c, _) in self._entries.items())))

    def __repr__(self) -> str:
        inner = ", ".join(f"({n},{c})" for n, (c, _) in sorted(self._entries.items()))
        return f"VClock[{inner}]"

    # --- algebra -------------------------------------------------------------

    def merge(self, other: VClock) -> VClock:
        """The least clock that descends both (pointwise max): a join."""
        out = dict(self._entries)
        for n, (c, t) in other._entries.items():
            mine = out.get(n)
            if mine is None or (c, t) > mine:
                out[n] = (c, t)
        return VClock(out)

    @classmethod
    def join(cls, versions: Iterable[tuple[VClock, Dot]]) -> VClock:
        """The :meth:`merge` of every ``past.with_dot(dot)``, built in one dict
        (a get's context joins all its siblings' versions, §5 (v))."""
        out: dict[str, tuple[int, float]] = {}
        for past, dot in versions:
            entries = past._entries
            for node, entry in entries.items():
                mine = out.get(node)
                if mine is None or entry > mine:
                    out[node] = entry
            seen = entries.get(dot.node)
            if seen is None or seen[0] < dot.counter:  # as with_dot: the dot counts only if newer
                entry = (dot.counter, dot.ts)
                mine = out.get(dot.node)
                if mine is None or entry > mine:
                    out[dot.node] = entry
        return cls(out)

    def with_dot(self, dot: Dot) -> VClock:
        """This clock plus the event ``dot`` (the version a sibling represents)."""
        mine = self._entries.get(dot.node)
        if mine is not None and mine[0] >= dot.counter:
            return self
        out = dict(self._entries)
        out[dot.node] = (dot.counter, dot.ts)
        return VClock(out)

    def increment(self, node: str, ts: float) -> VClock:
        """Plain server-id increment (what Fig. 3 draws); kept for the paper's example."""
        out = dict(self._entries)
        out[node] = (self.counter(node) + 1, ts)
        return VClock(out)

    def truncate(self, threshold: int = TRUNCATE_AT) -> VClock:
        """Drop the oldest-by-timestamp entries until at most ``threshold`` remain (§4.4)."""
        if len(self._entries) <= threshold:
            return self
        keep = sorted(self._entries.items(), key=lambda kv: (kv[1][1], kv[0]))[len(self._entries) - threshold:]
        return VClock(dict(keep))


_EMPTY = VClock()
