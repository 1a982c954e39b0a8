"""minisys Dynamo on the simulator (``minisys.dynamo.SimCluster``) as a sim target.

Clients follow Dynamo's own usage (§4.4, §5): ``get`` returns every
causally unrelated sibling plus an opaque context, and the next ``put`` by
that client passes the context so it supersedes exactly what was read —
the get-then-put shape of Basho's ``ec_eqc``. Requests go through any node
(``routing="server"``, §5 "a generic load balancer").

The ``set`` workload is Dynamo's shopping cart: ``add`` reads the cart,
merges its siblings with ``minisys.dynamo.cart_union``, adds the element
and writes back with the context; reads of a cart return the union.

Outcome mapping: a get that cannot meet R is a definite ``fail``; a put that
cannot meet W is recorded ``info``, not ``fail``, because Dynamo does not
roll back the replicas that did store it (§4.5: the coordinator writes
locally first) — it may resurface, so claiming "did not happen" would be
false. Timeouts are ``info``.

Final phase: heal, restart, then ``SimCluster.converge()`` (hints delivered,
replicas agree) in virtual time, bounded by ``SimCluster.convergence_bound()``; replica state for the convergence
checker comes from ``SimCluster.replicas(key)`` (the key's top-N nodes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from minisys.consistency.adapters.base import (
    Failed,
    Indefinite,
    SimTarget,
    cart_view,
    decode_value,
    siblings_view,
)
from minisys.net import RpcTimeout, Uniform, Unreachable

#: Virtual seconds per convergence round (replicas are compared after each).
ROUND_SECONDS = 0.5


class DynamoSimTarget(SimTarget):
    siblings = True
    functions = ("read", "write", "add")

    def __init__(self, seed: int = 0, nodes: int = 5, n: int = 3, r: int = 2, w: int = 2,
                 mode: str = "vv", processes: int = 5, **config: Any) -> None:
        from minisys.dynamo import SimCluster

        self.name = f"dynamo-sim(N={n},R={r},W={w},{mode})"
        self.base_latency = Uniform(0.001, 0.002)
        config.setdefault("request_timeout", 0.5)
        config.setdefault("replica_timeout", 0.1)
        config.setdefault("handoff_interval", 0.2)
        config.setdefault("anti_entropy_interval", 0.2)
        config.setdefault("gossip_interval", 0.2)
        self.cluster = SimCluster(nodes, n=n, r=r, w=w, seed=seed, mode=mode, latency=self.base_latency, **config)
        self.net = self.cluster.net
        self.nodes = tuple(self.cluster.node_ids)
        self.contexts: dict[tuple[int, str], str] = {}
        self.read_values: dict[tuple[int, str], tuple] = {}
        self.converged_rounds: int | None = None
        #: key -> {replica: its values} when quiesce() ended (before final reads repair anything).
        self.settled: dict[str, dict[str, Any]] = {}
        self.cart_keys: set[str] = set()

    def _client(self, process: int) -> Any:
        return self.cluster.client(f"c{process}", routing="server")

    async def _get(self, client: Any, key: str) -> Any:
        from minisys.dynamo import DynamoUnavailableError

        try:
            return await client.get(key)
        except (DynamoUnavailableError, Unreachable) as exc:
            raise Failed(str(exc)) from None
        except (RpcTimeout, TimeoutError) as exc:
            raise Indefinite(str(exc)) from None

    def _view(self, key: str, values: list[bytes]) -> Any:
        if key in self.cart_keys:  # the shopping cart: the union of every sibling's items
            return cart_view(values)
        return siblings_view([decode_value(v) for v in values])

    async def read(self, process: int, key: str) -> Any:
        got = await self._get(self._client(process), key)
        self.contexts[(process, key)] = got.context
        self.read_values[(process, key)] = tuple(decode_value(v) for v in got.values)
        return self._view(key, got.values)

    async def read_at(self, node: str, key: str) -> Any:
        client = self.cluster.client(f"final-{node}", routing="server", nodes=[node])
        got = await self._get(client, key)
        return self._view(key, got.values)

    async def add(self, process: int, key: str, element: Any) -> None:
        """Dynamo's shopping cart (§4.4): get, merge the siblings, add, put with the context."""
        from minisys.dynamo import DynamoUnavailableError, cart_union

        self.cart_keys.add(key)
        got = await self._get(self._client(process), key)
        cart = cart_union([*got.values, str(element).encode()])
        try:
            await self._client(process).put(key, cart, got.context)
        except (DynamoUnavailableError, RpcTimeout, TimeoutError) as exc:
            raise Indefinite(str(exc)) from None
        except Unreachable as exc:
            raise Failed(str(exc)) from None

    def context(self, process: int, key: str) -> tuple | None:
        return self.read_values.get((process, key), ())

    async def write(self, process: int, key: str, value: Any) -> None:
        from minisys.dynamo import DynamoUnavailableError

        ctx = self.contexts.pop((process, key), "")
        self.read_values.pop((process, key), None)
        try:
            await self._client(process).put(key, str(value).encode(), ctx)
        except (DynamoUnavailableError, RpcTimeout, TimeoutError) as exc:
            raise Indefinite(str(exc)) from None  # W not met: stored replicas are not rolled back
        except Unreachable as exc:
            raise Failed(str(exc)) from None

    def quiesce(self) -> None:
        """Run virtual time until hints are delivered and every key's replicas agree.

        Bounded by :meth:`SimCluster.convergence_bound` (hint retry plus two
        full round-robin anti-entropy cycles), and it stops at the first round
        where they agree -- a fixed number of rounds was too short whenever
        the one replica holding delivered hints was not compared in time.
        """
        rounds = math.ceil(self.cluster.convergence_bound() / ROUND_SECONDS)
        try:
            self.converged_rounds = self.cluster.converge(max_rounds=rounds, round_seconds=ROUND_SECONDS)
        except AssertionError:
            self.converged_rounds = None  # the convergence checker will say what differs
        self.settled = {key: self._states(key) for key in self.cluster.keys()}

    def _states(self, key: str) -> dict[str, Any]:
        return {node: sorted((decode_value(s.value) for s in sibs), key=repr) for node, sibs in self.cluster.replicas(key).items()}

    def replica_states(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Each key's replicas as anti-entropy left them at the end of :meth:`quiesce`.

        Taken before the final reads, whose read repair (§5) would otherwise
        mend a divergence that anti-entropy failed to and hide it from the
        convergence checker.
        """
        return {key: self.settled[key] if key in self.settled else self._states(key) for key in keys}
