"""``SimCluster``: a whole Dynamo instance on the deterministic simulated network.

The harness a test, a scenario or the consistency toolkit drives: nodes,
clients, and the faults (crash, restart, partition, heal, slow links, clock
skew) -- all in virtual time from one seed, so a failing seed replays exactly.
The node code is the same :class:`~minisys.dynamo.node.DynamoNode` that
``minisys dynamo serve`` runs over HTTP.

    with SimCluster(nodes=5, n=3, r=2, w=2, seed=7) as c:
        alice = c.client("alice")
        c.run(alice.put("cart", b"milk"))
        got = c.run(alice.get("cart"))          # GetResult(values=[b"milk"], context=...)
        c.crash("n1"); c.partition(["n2"]); c.heal(); c.restart("n1")
        c.converge()                             # hints, anti-entropy until replicas agree
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, TypeVar

from minisys.dynamo.client import GetResult, PutResult, SimClient
from minisys.dynamo.gossip import SharedView, initial_state
from minisys.dynamo.merkle import digest
from minisys.dynamo.node import DynamoConfig, DynamoNode
from minisys.dynamo.reconcile import Sibling
from minisys.dynamo.storage import Engine, MemoryEngine, NodeStorageEngine
from minisys.dynamo.transfer import leave
from minisys.errors import BadInput
from minisys.net import Constant, Latency, SimNetwork, Uniform

T = TypeVar("T")
ENGINES = ("durable", "memory")


def _engine_factory(kind: str) -> Any:
    if kind == "durable":
        return lambda node: NodeStorageEngine(node.storage)
    if kind == "memory":
        return lambda node: MemoryEngine()
    raise BadInput(f"engine={kind!r}: choose one of {', '.join(ENGINES)}")


class SimCluster:
    """N-node Dynamo on a :class:`~minisys.net.SimNetwork`, with client handles and fault controls.

    ``nodes`` is a count (ids ``n0``, ``n1``, ...) or a list of ids. Any other
    :class:`~minisys.dynamo.node.DynamoConfig` field can be passed as a keyword
    (``strategy=1``, ``mode="lww"``, ``anti_entropy_interval=0`` ...).
    ``engine`` is ``"durable"`` (survives crashes: the simulated disk) or
    ``"memory"`` (lost on crash).
    """

    def __init__(self, nodes: int | Sequence[str] = 5, *, n: int = 3, r: int = 2, w: int = 2,
                 seed: int | str = 0, latency: Latency | None = None, loss: float = 0.0,
                 engine: str = "durable", trace: bool = True, check_messages: bool = True,
                 **config: Any) -> None:
        ids = [f"n{i}" for i in range(nodes)] if isinstance(nodes, int) else list(nodes)
        if not ids:
            raise BadInput("a cluster needs at least one node")
        try:
            self.config = DynamoConfig(n=n, r=r, w=w, **config)
        except TypeError as exc:
            raise BadInput(f"SimCluster: {exc}") from None
        if self.config.n > len(ids):
            raise BadInput(f"n={self.config.n} replicas need at least {self.config.n} nodes, got {len(ids)}")
        self.seed = seed
        self.engine = engine
        self._engine = _engine_factory(engine)
        self.net = SimNetwork(seed, latency=latency or Uniform(0.001, 0.002), loss=loss,
                              default_timeout=self.config.request_timeout, trace=trace,
                              check_messages=check_messages)
        self.bootstrap = initial_state(ids, self.config.strategy, q=self.config.partitions,
                                       tokens_per_node=self.config.tokens_per_node, seed=seed)
        self._shared = SharedView(self.bootstrap, self.config.strategy, self.config.partitions)
        self.node_ids: list[str] = []
        for node_id in ids:
            self._add(node_id, bootstrap=self.bootstrap, shared=self._shared)
        self._clients: dict[str, SimClient] = {}

    def _factory(self, **kw: Any) -> Any:
        return functools.partial(DynamoNode, config=self.config, engine=self._engine, **kw)

    def _add(self, node_id: str, **kw: Any) -> DynamoNode:
        node = self.net.add_node(node_id, self._factory(**kw))
        self.node_ids.append(node_id)
        return node  # type: ignore[return-value]

    # --- clients -------------------------------------------------------------------------------

    def client(self, name: str | None = None, *, routing: str = "server", timeout: float | None = None,
               nodes: Sequence[str] | None = None) -> SimClient:
        """A client handle (``routing="server"``: via any node; ``"client"``: straight to the coordinator).

        ``nodes`` restricts which nodes the client's load balancer knows (default: all).
        Asking again for an existing name returns the same handle.
        """
        name = name or f"client{len(self._clients)}"
        if name in self._clients:
            return self._clients[name]
        handle = SimClient(self.net.add_client(name), list(nodes or self.node_ids), routing=routing, n=self.config.n,
                           strategy=self.config.strategy, partitions=self.config.partitions,
                           timeout=timeout or self.config.request_timeout + 1.0)
        self._clients[name] = handle
        return handle

    def get(self, key: str, client: str | None = None) -> GetResult:
        """Synchronous convenience: run one get to completion."""
        return self.run(self.client(client or "default").get(key))

    def put(self, key: str, value: bytes | str, context: str = "", client: str | None = None) -> PutResult:
        return self.run(self.client(client or "default").put(key, value, context))

    # --- running ------------------------------------------------------------------------------

    def run(self, aw: Awaitable[T], *, max_time: float | None = None) -> T:
        return self.net.run(aw, max_time=max_time)

    def run_for(self, seconds: float) -> None:
        self.net.run_for(seconds)

    @property
    def now(self) -> float:
        return self.net.now

    # --- faults ------------------------------------------------------------------------------------

    def crash(self, node_id: str) -> None:
        self.net.crash(node_id)

    def restart(self, node_id: str) -> DynamoNode:
        return self.net.restart(node_id)  # type: ignore[return-value]

    def partition(self, group_a: Iterable[str], group_b: Iterable[str] | None = None) -> None:
        """Cut ``group_a`` from ``group_b`` (default: from everyone else, clients included)."""
        self.net.partition(group_a, group_b)

    def heal(self) -> None:
        self.net.heal()

    def slow(self, src: str, dst: str, latency: Latency | float, both_ways: bool = True) -> None:
        """Make one link slow: a latency distribution, or a constant in seconds."""
        lat = Constant(latency) if isinstance(latency, int | float) else latency
        self.net.set_link(src, dst, latency=lat, both_ways=both_ways)

    def set_clock(self, node_id: str, *, skew: float = 0.0, drift: float = 0.0) -> None:
        self.net.set_clock(node_id, skew=skew, drift=drift)

    def is_up(self, node_id: str) -> bool:
        return self.net.is_up(node_id)

    # --- membership (§4.9) -------------------------------------------------------------------

    def add_node(self, node_id: str, seeds: Sequence[str] | None = None) -> DynamoNode:
        """An administrator adds a node: it joins through seeds and ranges move to it."""
        seeds = list(seeds or self.node_ids[:2])
        return self._add(node_id, seeds=seeds, join=True)

    def remove_node(self, node_id: str) -> None:
        """An administrator removes a node: it hands its ranges over, announces, and stops."""
        node = self.node(node_id)
        self.run(leave(node))
        self.net.crash(node_id)
        self.node_ids.remove(node_id)

    # --- inspection -----------------------------------------------------------------------------

    def node(self, node_id: str) -> DynamoNode:
        return self.net.node(node_id)  # type: ignore[return-value]

    def up_nodes(self) -> list[DynamoNode]:
        return [self.node(i) for i in self.node_ids if self.net.is_up(i)]

    def replicas(self, key: str) -> dict[str, list[Sibling]]:
        """What each of the key's top-N nodes (by the first up node's ring) stores for it."""
        ring = self.up_nodes()[0].ring
        out = {}
        for node_id in ring.preference_list(key, self.config.n):
            engine: Engine = self.node(node_id).engine if self.net.is_up(node_id) else NodeStorageEngine(
                self.net.storage(node_id))
            out[node_id] = engine.get(key)
        return out

    def keys(self) -> list[str]:
        found: set[str] = set()
        for i in self.node_ids:
            if self.net.is_up(i):
                found.update(self.node(i).engine.keys())
        return sorted(found)

    def hints_pending(self) -> int:
        return sum(node.engine.hint_count() for node in self.up_nodes())

    def replicas_agree(self, keys: Iterable[str] | None = None) -> bool:
        """Every key's N preference-list replicas hold identical sibling sets."""
        for key in self.keys() if keys is None else keys:
            if len({digest(s) for s in self.replicas(key).values()}) != 1:
                return False
        return True

    def convergence_bound(self) -> float:
        """Virtual seconds within which the background mechanisms must make replicas agree once faults stop.

        Derived, not guessed: a suspicion expires after ``retry_after``; a
        hint is offered again within 1.5 ``handoff_interval`` (the loop's
        jitter); then anti-entropy compares every ``(range, peer)`` pair of
        every node within one round-robin cycle
        (:meth:`~minisys.dynamo.merkle.AntiEntropy.cycle_seconds`). Two cycles
        are allowed: the cycle running when the last hint lands may already be
        past the pair it changed, and an exchange can time out once. With
        anti-entropy off only the hint delivery is bounded (then only hints
        and read repair converge, and replicas may never agree).
        """
        cfg = self.config
        hints = cfg.retry_after + 1.5 * cfg.handoff_interval
        if cfg.anti_entropy_interval <= 0:
            return hints
        cycle = max((node.anti_entropy.cycle_seconds() for node in self.up_nodes()), default=0.0)
        return hints + 2 * cycle

    def converge(self, max_rounds: int = 60, round_seconds: float = 1.0) -> int:
        """Heal nothing, but run (virtual) time until hints are delivered and replicas agree.

        Returns the rounds it took; raises if it does not converge within ``max_rounds``.
        """
        for i in range(max_rounds):
            self.run_for(round_seconds)
            if self.hints_pending() == 0 and self.replicas_agree():
                return i + 1
        raise AssertionError(f"replicas did not converge within {max_rounds * round_seconds} virtual seconds")

    def close(self) -> None:
        self.net.close()

    def __enter__(self) -> SimCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["SimCluster", "leave"]
