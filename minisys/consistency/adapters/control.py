"""The control stores (:mod:`minisys.consistency.controls`) as a sim target.

Three replicas and one harness client per process. Clients follow the
get-then-put shape of Basho's ``ec_eqc``: a write carries the context of
that process's last read of the key, so it supersedes exactly what the
writer saw; every request goes to a replica chosen by the process's seeded
RNG, so reads often land on a replica that has not heard of a write yet.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from minisys.consistency.adapters.base import Failed, Indefinite, SimTarget, siblings_view
from minisys.consistency.controls import Get, Put, Replica, clock_of, join
from minisys.net import RpcTimeout, SimNetwork, Uniform, Unreachable

REPLICAS = ("r1", "r2", "r3")
TIMEOUT = 0.2


class ControlTarget(SimTarget):
    siblings = True
    quiesce_seconds = 1.0  # 20 anti-entropy rounds per replica

    def __init__(self, merge: str = "vclock", seed: int = 0, processes: int = 5) -> None:
        self.name = f"control-{merge}"
        self.merge = merge
        self.base_latency = Uniform(0.001, 0.01)
        self.net = SimNetwork(seed=seed, latency=self.base_latency, default_timeout=TIMEOUT)
        for r in REPLICAS:
            self.net.add_node(r, lambda t, m=merge: Replica(t, m))
        self.nodes = REPLICAS
        self.clients = {p: self.net.add_client(f"c{p}") for p in range(processes)}
        self.rng = random.Random(f"{seed}/control-clients")
        self.contexts: dict[tuple[int, str], tuple] = {}
        self.read_values: dict[tuple[int, str], tuple] = {}

    def _client(self, process: int):
        if process not in self.clients:
            self.clients[process] = self.net.add_client(f"c{process}")
        return self.clients[process]

    async def _call(self, process: int, node: str, msg: Any) -> Any:
        try:
            return await self._client(process).call(node, msg, timeout=TIMEOUT)
        except Unreachable as exc:
            raise Failed(str(exc)) from None
        except RpcTimeout as exc:
            raise Indefinite(str(exc)) from None

    async def read(self, process: int, key: str) -> Any:
        return await self.read_at(self.rng.choice(REPLICAS), key, process)

    async def read_at(self, node: str, key: str, process: int = 0) -> Any:
        got = await self._call(process, node, Get(key))
        versions = list(got.versions)
        self.contexts[(process, key)] = join([clock_of(v) for v in versions])
        self.read_values[(process, key)] = tuple(v[0] for v in versions)
        return siblings_view([v[0] for v in versions])

    def context(self, process: int, key: str) -> tuple | None:
        return self.read_values.get((process, key), ())

    async def write(self, process: int, key: str, value: Any) -> None:
        ctx = self.contexts.pop((process, key), ())
        self.read_values.pop((process, key), None)
        await self._call(process, self.rng.choice(REPLICAS), Put(key, value, ctx))

    def replica_states(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for key in keys:
            out[key] = {
                r: sorted((v[0] for v in self.net.storage(r).get(f"k/{key}", [])), key=repr)
                for r in REPLICAS
            }
        return out
