"""Consistent hashing, virtual nodes, preference lists and the three partitioning strategies.

Dynamo §4.2: MD5 maps a key to a 128-bit position on a ring; a node owns the
range back to its predecessor. Each physical node holds several *tokens*
(virtual nodes), so a failure's load spreads and a joiner takes a little from
everyone. §4.3: a key's *preference list* is the first N **distinct physical**
nodes met walking clockwise (skipping further tokens of a node already
listed), followed by the rest as fallbacks for the sloppy quorum (§4.6).

§6.2 evaluates three ways to split the ring, all built here:

1. ``strategy1``: T random tokens per node, ranges between consecutive tokens
   (unequal ranges; the original scheme).
2. ``strategy2``: T random tokens per node, but Q equal partitions; a
   partition's replicas are the first N distinct nodes clockwise from its
   *end*. Tokens only build the partition -> nodes map.
3. ``strategy3``: Q equal partitions and Q/S tokens per node, each token sitting
   on a partition end; a joiner steals tokens, a leaver's are redistributed.

A *range* (the unit of Merkle trees, §4.7, and of key transfer, §4.9) is a
partition for strategies 2/3 and a token-to-token arc for strategy 1. Ranges
are named by strings so they can travel in messages.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence

RING_BITS = 128
RING_SIZE = 1 << RING_BITS
STRATEGIES = (1, 2, 3)
#: Keys whose preference list a ring remembers (per N) before it starts over.
KEYS_KEPT = 1 << 17


@functools.lru_cache(maxsize=1 << 17)
def position(key: str | bytes) -> int:
    """A key's place on the ring: its MD5 digest as a 128-bit integer (§4.2).

    Memoised: a pure function that the client, the coordinator, every replica
    and the Merkle index each evaluate for the same key on every request.
    """
    data = key.encode("utf-8") if isinstance(key, str) else key
    return int.from_bytes(hashlib.md5(data).digest(), "big")


def token_hex(token: int) -> str:
    """Tokens travel as 32 hex digits: msgpack integers stop at 64 bits."""
    return f"{token:032x}"


class Ring:
    """An immutable token map -> ranges -> preference lists.

    ``tokens`` maps each token (a ring position) to the physical node owning
    it. ``partitions`` is Q for strategies 2 and 3 (equal ranges), ``None`` for
    strategy 1 (ranges end at tokens).
    """

    def __init__(self, tokens: Mapping[int, str], *, strategy: int = 3, partitions: int | None = None) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"partitioning strategy must be 1, 2 or 3, got {strategy!r}")
        if strategy in (2, 3) and not partitions:
            raise ValueError(f"strategy {strategy} needs a partition count Q")
        if not tokens:
            raise ValueError("a ring needs at least one token")
        self.strategy = strategy
        self.partitions = partitions if strategy in (2, 3) else None
        self._sorted = sorted(tokens)
        self._owners = [tokens[t] for t in self._sorted]
        self.nodes: tuple[str, ...] = tuple(sorted(set(self._owners)))
        self._plists: dict[int, tuple[str, ...]] = {}
        self._names: dict[int, str] = {}
        self._replicated: dict[int, dict[str, list[str]]] = {}
        # n -> key -> first n nodes: every request asks this for its key two or three times.
        self._by_key: dict[int, dict[str | bytes, tuple[str, ...]]] = {}
        if self.partitions:
            self._width = RING_SIZE // self.partitions

    # --- ranges ----------------------------------------------------------------

    def range_index(self, key: str | bytes) -> int:
        pos = position(key)
        if self.partitions:
            return min(pos // self._width, self.partitions - 1)
        i = bisect.bisect_left(self._sorted, pos)
        return 0 if i == len(self._sorted) else i

    def range_of(self, key: str | bytes) -> str:
        """The name of the range holding ``key``."""
        return self.range_name(self.range_index(key))

    def range_name(self, index: int) -> str:
        name = self._names.get(index)
        if name is None:
            name = f"p{index}" if self.partitions else f"t{token_hex(self._sorted[index])}"
            self._names[index] = name
        return name

    def range_names(self) -> list[str]:
        count = self.partitions or len(self._sorted)
        return [self.range_name(i) for i in range(count)]

    def _range_end(self, index: int) -> int:
        if self.partitions:
            return min((index + 1) * self._width, RING_SIZE) - 1
        return self._sorted[index]

    def range_size(self, index: int) -> int:
        """How much of the ring a range covers (for load-balance statistics)."""
        if self.partitions:
            return self._width
        prev = self._sorted[index - 1] if index else self._sorted[-1] - RING_SIZE
        return self._sorted[index] - prev

    def _index_of(self, range_name: str) -> int:
        if self.partitions:
            if not range_name.startswith("p"):
                raise KeyError(range_name)
            return int(range_name[1:])
        token = int(range_name[1:], 16)
        i = bisect.bisect_left(self._sorted, token)
        if i == len(self._sorted) or self._sorted[i] != token:
            raise KeyError(range_name)
        return i

    # --- preference lists --------------------------------------------------------

    def walk(self, index: int, limit: int | None = None) -> tuple[str, ...]:
        """Distinct physical nodes in clockwise order from range ``index``'s end (at most ``limit``).

        The first N are the range's replicas (the *preference list*); the rest
        are fallbacks for sloppy quorums. Cached per range (a ring never
        changes); a longer walk is computed only when someone asks for it.
        """
        cached = self._plists.get(index)
        if cached is not None and limit is not None and len(cached) >= limit:
            return cached if len(cached) == limit else cached[:limit]
        want = len(self.nodes) if limit is None else min(limit, len(self.nodes))
        if cached is not None and len(cached) >= want:
            return cached if len(cached) == want else cached[:want]
        start = bisect.bisect_left(self._sorted, self._range_end(index))
        seen: list[str] = []
        count = len(self._sorted)
        for step in range(count):
            owner = self._owners[(start + step) % count]
            if owner not in seen:
                seen.append(owner)
                if len(seen) == want:
                    break
        result = tuple(seen)
        self._plists[index] = result
        return result

    def preference_list(self, key: str | bytes, n: int | None = None) -> tuple[str, ...]:
        """The first ``n`` distinct nodes for ``key`` (all of them in order if ``n`` is None)."""
        if n is None:
            return self.walk(self.range_index(key), n)
        by_key = self._by_key.get(n)
        if by_key is None:
            by_key = self._by_key[n] = {}
        found = by_key.get(key)
        if found is None:
            found = self.walk(self.range_index(key), n)
            if len(by_key) >= KEYS_KEPT:
                by_key.clear()
            by_key[key] = found
        return found

    def range_preference_list(self, range_name: str, n: int | None = None) -> tuple[str, ...]:
        return self.walk(self._index_of(range_name), n)

    def ranges_replicated_by(self, node: str, n: int) -> list[str]:
        """The ranges whose top-``n`` list includes ``node`` (what it should store, Fig. 2)."""
        by_node = self._replicated.get(n)
        if by_node is None:  # one walk per range for every node at once (simulated nodes share a ring)
            by_node = {name: [] for name in self.nodes}
            for i, name in enumerate(self.range_names()):
                for owner in self.walk(i, n):
                    by_node[owner].append(name)
            self._replicated[n] = by_node
        return list(by_node.get(node, ()))

    def tokens_of(self, node: str) -> list[int]:
        return [t for t, o in zip(self._sorted, self._owners, strict=False) if o == node]

    def token_map(self) -> dict[int, str]:
        return dict(zip(self._sorted, self._owners, strict=False))


# --- the three strategies (§6.2) -----------------------------------------------------------


def partition_tokens(q: int) -> list[int]:
    """Strategy 3's token positions: the end of each of Q equal partitions."""
    width = RING_SIZE // q
    return [min((i + 1) * width, RING_SIZE) - 1 for i in range(q)]


def random_tokens(nodes: Sequence[str], per_node: int, rng: random.Random) -> dict[int, str]:
    tokens: dict[int, str] = {}
    for node in nodes:
        for _ in range(per_node):
            t = rng.getrandbits(RING_BITS)
            while t in tokens:
                t = rng.getrandbits(RING_BITS)
            tokens[t] = node
    return tokens


def strategy1(nodes: Sequence[str], tokens_per_node: int, rng: random.Random) -> Ring:
    """T random tokens per node; ranges between tokens (§6.2, strategy 1)."""
    return Ring(random_tokens(nodes, tokens_per_node, rng), strategy=1)


def strategy2(nodes: Sequence[str], tokens_per_node: int, q: int, rng: random.Random) -> Ring:
    """T random tokens per node plus Q equal partitions (§6.2, strategy 2)."""
    return Ring(random_tokens(nodes, tokens_per_node, rng), strategy=2, partitions=q)


def strategy3_tokens(nodes: Sequence[str], q: int, rng: random.Random) -> dict[int, str]:
    if q < len(nodes):
        raise ValueError(f"strategy 3 needs Q >= number of nodes (Q={q}, S={len(nodes)})")
    order = list(range(q))
    rng.shuffle(order)
    ends = partition_tokens(q)
    return {ends[p]: nodes[i % len(nodes)] for i, p in enumerate(order)}


def strategy3(nodes: Sequence[str], q: int, rng: random.Random) -> Ring:
    """Q equal partitions, Q/S tokens per node on partition ends (§6.2, strategy 3)."""
    return Ring(strategy3_tokens(nodes, q, rng), strategy=3, partitions=q)


def build(strategy: int, nodes: Sequence[str], *, tokens_per_node: int = 8, q: int = 64,
          rng: random.Random) -> Ring:
    nodes = sorted(nodes)
    if strategy == 1:
        return strategy1(nodes, tokens_per_node, rng)
    if strategy == 2:
        return strategy2(nodes, tokens_per_node, q, rng)
    if strategy == 3:
        return strategy3(nodes, q, rng)
    raise ValueError(f"partitioning strategy must be 1, 2 or 3, got {strategy!r}")


def steal_tokens(tokens: Mapping[int, str], joiner: str, rng: random.Random) -> dict[int, str]:
    """Strategy 3 join: the joiner takes tokens from the most loaded nodes until it has Q/S.

    Returns only the tokens that change hands (§6.2: "a new node steals tokens").
    """
    owners = sorted(set(tokens.values()) | {joiner})
    want = len(tokens) // len(owners)
    held: dict[str, list[int]] = {o: [] for o in owners}
    for t in sorted(tokens):
        held[tokens[t]].append(t)
    moved: dict[int, str] = {}
    while len(held[joiner]) < want:
        donor = max((o for o in owners if o != joiner), key=lambda o: (len(held[o]), o))
        t = held[donor].pop(rng.randrange(len(held[donor])))
        held[joiner].append(t)
        moved[t] = joiner
    return moved


def redistribute_tokens(tokens: Mapping[int, str], leaver: str, rng: random.Random) -> dict[int, str]:
    """Strategy 3 leave: the leaver's tokens go, at random, to the least loaded others (§6.2)."""
    remaining = sorted(set(tokens.values()) - {leaver})
    if not remaining:
        raise ValueError("the last node cannot leave")
    held = {o: sum(1 for v in tokens.values() if v == o) for o in remaining}
    moved: dict[int, str] = {}
    mine = sorted(t for t, o in tokens.items() if o == leaver)
    rng.shuffle(mine)
    for t in mine:
        fewest = min(held.values())
        target = rng.choice([o for o in remaining if held[o] == fewest])
        held[target] += 1
        moved[t] = target
    return moved


def load_imbalance(ring: Ring, keys: Iterable[str | bytes], n: int) -> float:
    """Hottest node's share over the mean (1.0 = perfect): §6.2's efficiency, inverted."""
    load = {node: 0 for node in ring.nodes}
    for k in keys:
        for node in ring.preference_list(k, n):
            load[node] += 1
    mean = sum(load.values()) / len(load)
    return max(load.values()) / mean if mean else 1.0
