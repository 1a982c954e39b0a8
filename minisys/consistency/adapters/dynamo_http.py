"""minisys Dynamo as real processes (``minisys dynamo serve`` over HTTP), with real SIGKILL.

Each node is its own OS process started by ``minisys.dynamo.localcluster.
LocalCluster``; each client process of the test is a thread with its own
event loop and its own ``minisys.dynamo.Client`` (get-then-put with the
context, like the simulated adapter). The nemesis is a thread that
SIGKILLs a random node — no shutdown code runs, only what reached the disk
survives — and restarts it from its data directory a moment later.
After the clients finish, every node is restarted, anti-entropy and hinted
handoff get a bounded amount of wall time to make every node serve the same
siblings (``settle``), and a final read is made through every node.

Outcome mapping as in :mod:`.dynamo_sim`: an unmet W is ``info`` (not
rolled back, §4.5); an unmet R is ``fail``; timeouts are ``info``.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from minisys.consistency.adapters.base import (
    Client,
    Failed,
    Indefinite,
    SyncStore,
    cart_view,
    decode_value,
    siblings_view,
)

#: Wall seconds between a kill and the restart.
DOWN_SECONDS = 1.0
#: After the run: wait at least this long for repair, then poll until every
#: node serves the same siblings for every written key, up to the maximum.
SETTLE_SECONDS = 3.0
SETTLE_MAX_SECONDS = 30.0


class DynamoHttpClient(Client):
    def __init__(self, urls: list[str], seed: int, cart_keys: set[str] | None = None) -> None:
        from minisys.dynamo import Client as DynamoClient

        self.loop = asyncio.new_event_loop()
        self.dynamo = DynamoClient(urls, routing="server", timeout=2.0, seed=seed)
        self.contexts: dict[str, str] = {}
        self.read_values: dict[str, tuple] = {}
        self.touched: set[str] = set()
        self.cart_keys = cart_keys if cart_keys is not None else set()

    def _call(self, coro: Any) -> Any:
        from minisys.dynamo import DynamoUnavailableError

        try:
            return self.loop.run_until_complete(coro)
        except DynamoUnavailableError as exc:  # no node took the request
            raise Failed(str(exc)) from None
        except (TimeoutError, ConnectionError) as exc:  # sent, reply lost: it may have been applied
            raise Indefinite(str(exc) or type(exc).__name__) from None

    def read(self, key: str) -> Any:
        self.touched.add(key)
        got = self._call(self.dynamo.get(key))
        values = tuple(decode_value(v) for v in got.values)
        self.contexts[key], self.read_values[key] = got.context, values
        if key in self.cart_keys:  # the shopping cart: the union of every sibling's items
            return cart_view(got.values)
        return siblings_view(values)

    def add(self, key: str, element: Any) -> None:
        """Dynamo's shopping cart (§4.4): get, merge siblings, add, put with the context."""
        from minisys.dynamo import cart_union

        self.cart_keys.add(key)
        self.touched.add(key)
        got = self._call(self.dynamo.get(key))
        try:
            self._call(self.dynamo.put(key, cart_union([*got.values, str(element).encode()]), got.context))
        except Failed as exc:
            raise Indefinite(str(exc)) from None

    def context(self, key: str) -> tuple:
        return self.read_values.get(key, ())

    def write(self, key: str, value: Any) -> None:
        self.touched.add(key)
        ctx = self.contexts.pop(key, "")
        self.read_values.pop(key, None)
        try:
            self._call(self.dynamo.put(key, str(value).encode(), ctx))
        except Failed as exc:
            raise Indefinite(str(exc)) from None  # W not met: not rolled back

    def close(self) -> None:
        self.loop.run_until_complete(self.dynamo.close())
        self.loop.close()


class DynamoHttpStore(SyncStore):
    functions = ("read", "write", "add")
    siblings = True

    def __init__(self, nodes: int = 5, n: int = 3, r: int = 2, w: int = 2, mode: str = "vv",
                 kills: bool = True, root: str | Path | None = None) -> None:
        self.name = f"dynamo-http(N={n},R={r},W={w},{mode})"
        self.options = dict(nodes=nodes, n=n, r=r, w=w, mode=mode)
        self.kills = kills
        self.root = Path(root) if root else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.cluster: Any = None
        self.killed: list[str] = []
        #: (node, time.monotonic() when its restart returned), one per completed kill.
        self.restarted: list[tuple[str, float]] = []
        self.clients: list[DynamoHttpClient] = []
        self.cart_keys: set[str] = set()
        self.settled_after: float | None = None

    def open(self) -> None:
        from minisys.dynamo.localcluster import LocalCluster

        if self.root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="minisys-dynamo-http-")
            self.root = Path(self._tmp.name)
        self.cluster = LocalCluster(self.root, **self.options)
        self.cluster.__enter__()

    def client(self, process: int) -> Client:
        c = DynamoHttpClient(self.cluster.urls, seed=process, cart_keys=self.cart_keys)
        self.clients.append(c)
        return c

    def final_clients(self) -> dict[str, Client]:
        """One client per node, reading only through that node (for final reads)."""
        return {node: DynamoHttpClient([self.cluster.url(node)], seed=0, cart_keys=self.cart_keys)
                for node in self.cluster.ids}

    def nemesis(self, rng: random.Random, stop: threading.Event) -> None:
        """Kill -9 a random node, wait, restart it; repeat until the clients finish."""
        if not self.kills:
            return
        while not stop.wait(rng.uniform(0.05, 0.3)):
            node = rng.choice(self.cluster.ids)
            self.cluster.kill9(node)
            self.killed.append(node)
            stop.wait(DOWN_SECONDS)
            self.cluster.start(node)
            self.restarted.append((node, time.monotonic()))

    def faults_completed(self) -> int:
        """Kill-and-restart cycles done so far (the runner keeps clients going past the first)."""
        return len(self.restarted)

    def settle(self) -> None:
        """Restart every node, then wait (bounded) until all nodes serve the same
        siblings for every key the clients touched: convergence is a liveness
        property, so the check is "within SETTLE_MAX_SECONDS", not "at once"."""
        for node in self.cluster.ids:
            if self.cluster.procs[node].poll() is not None:
                self.cluster.start(node)
        start = time.monotonic()
        time.sleep(SETTLE_SECONDS)
        keys = sorted({k for c in self.clients for k in c.touched})
        probes = self.final_clients()
        try:
            while time.monotonic() - start < SETTLE_MAX_SECONDS:
                try:
                    if all(len({repr(p.read(k)) for p in probes.values()}) == 1 for k in keys):
                        self.settled_after = time.monotonic() - start
                        return
                except (Failed, Indefinite):
                    pass
                time.sleep(1.0)
        finally:
            for p in probes.values():
                p.close()

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
