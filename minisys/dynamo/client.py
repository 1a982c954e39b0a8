"""Client libraries: results, the simulated client handle, and the HTTP client (§4.1, §6.4).

Two routing modes, as in §4.5 / §6.4:

* ``"server"`` -- *server-driven* coordination: send the request to any node
  (a load balancer's pick); a node outside the key's top N forwards puts.
* ``"client"`` -- *client-driven* coordination: the client keeps a copy of the
  membership (refreshed from a random node every ``refresh`` seconds) and
  sends each request straight to the key's coordinator, saving the forwarding
  hop (Table 2 reports 30 ms better p99.9).

Both return the same results: :class:`GetResult` (all causally unrelated
values plus an opaque context) and :class:`PutResult`.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from minisys.dynamo.context import Context
from minisys.dynamo.gossip import UP
from minisys.dynamo.messages import ClientGet, ClientPut, StatusQuery
from minisys.dynamo.reconcile import MergeHook, Sibling, from_plain, merge_values
from minisys.dynamo.ring import Ring
from minisys.errors import BadInput, MinisysError
from minisys.net import Node, RemoteError, Unreachable
from minisys.net.httpclient import HttpClient, HttpConnectionError, HttpNotSent, split_url

ROUTINGS = ("server", "client")
#: Largest reply the HTTP client reads: a get returns every sibling, each up to a 1 MiB value.
REPLY_LIMIT = 1 << 30


class DynamoUnavailableError(MinisysError):
    """The cluster could not meet R or W for this request (a definite failure)."""


@dataclass(frozen=True)
class GetResult:
    """A get's answer: every causally unrelated value (siblings) and a context subsuming them."""

    values: list[bytes]
    context: str
    coordinator: str = ""
    siblings: list[Sibling] = field(default_factory=list, repr=False)

    @property
    def found(self) -> bool:
        return bool(self.values)

    def merged(self, hook: MergeHook | None = None) -> bytes:
        """One value: the only sibling, or ``hook`` applied to all of them (e.g. ``cart_union``)."""
        return merge_values(self.values, hook)


@dataclass(frozen=True)
class PutResult:
    context: str
    coordinator: str = ""


def _value(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


_RINGS: dict[tuple[Any, ...], Ring] = {}
_RINGS_KEPT = 8


def ring_from_status(info: dict[str, Any], strategy: int, partitions: int) -> Ring:
    """The ring a ``/status`` answer describes (live members' tokens only).

    Rings are immutable and cache their preference lists, so clients that
    fetched the same token map share one ring object (and its cache) instead
    of each recomputing every range's preference list.
    """
    live = {n for n, m in info["members"].items() if m[0] == UP}
    tokens = {int(t, 16): o for t, (o, _) in info["tokens"].items() if o in live}
    key = (strategy, partitions, tuple(sorted(tokens.items())))
    ring = _RINGS.get(key)
    if ring is None:
        if len(_RINGS) >= _RINGS_KEPT:
            del _RINGS[next(iter(_RINGS))]
        ring = _RINGS[key] = Ring(tokens, strategy=strategy, partitions=partitions)
    return ring


class SimClient:
    """A client of a :class:`~minisys.dynamo.cluster.SimCluster`: async get/put inside the simulation."""

    def __init__(self, node: Node, nodes: Sequence[str], *, routing: str = "server", n: int = 3,
                 strategy: int = 3, partitions: int = 64, refresh: float = 10.0, timeout: float = 5.0) -> None:
        if routing not in ROUTINGS:
            raise BadInput(f"routing={routing!r}: choose one of {', '.join(ROUTINGS)}")
        self.node = node
        self.nodes = list(nodes)
        self.routing = routing
        self.n = n
        self.strategy = strategy
        self.partitions = partitions
        self.refresh = refresh
        self.timeout = timeout
        self._ring: Ring | None = None
        self._ring_at = -1e18
        self._refreshing = False
        self._call = node.transport.call  # one call less per request than node.call

    @property
    def name(self) -> str:
        return self.node.node_id

    async def refresh_ring(self) -> Ring | None:
        """Fetch the membership from a random node (§6.4: clients poll every 10 seconds)."""
        for target in self.node.random.sample(self.nodes, len(self.nodes)):
            try:
                reply = await self.node.call(target, StatusQuery(), timeout=self.timeout)
            except (Unreachable, TimeoutError, RemoteError):
                continue
            self._ring = ring_from_status(reply.info, self.strategy, self.partitions)
            self._ring_at = self.node.now()
            break
        return self._ring

    def _refresh_if_old(self) -> None:
        """Past ``refresh`` seconds, fetch a new view in the background (routing goes on with the old one)."""
        if self.node.now() - self._ring_at >= self.refresh and not self._refreshing:
            self._refreshing = True

            async def refresh() -> None:
                try:
                    await self.refresh_ring()
                finally:
                    self._refreshing = False

            self.node.spawn(refresh())

    def _targets(self, key: str, context: str = "") -> list[str]:
        """Client-driven: the key's top N, the previous read's fastest replier
        first (§6.1); otherwise the load balancer's random pick."""
        ring = self._ring
        if self.routing != "client" or ring is None:
            return [self.node.random.choice(self.nodes)]
        self._refresh_if_old()
        first = list(ring.preference_list(key, self.n))
        if context:
            fastest = Context.decode(context).fastest
            if fastest in first and first[0] != fastest:
                first.remove(fastest)
                first.insert(0, fastest)
        return first

    async def _send(self, key: str, msg: Any, context: str = "") -> Any:
        if self.routing == "client" and self._ring is None:
            await self.refresh_ring()  # nothing to route with yet: wait for it
        targets = self._targets(key, context)
        last: Exception | None = None
        tried: list[str] = []
        while True:
            if not targets:  # fall back to every other node, in random order
                targets = [t for t in self.node.random.sample(self.nodes, len(self.nodes)) if t not in tried]
                if not targets:
                    break
            target = targets.pop(0)
            if target in tried:
                continue
            tried.append(target)
            try:
                return await self._call(target, msg, self.timeout)
            except Unreachable as exc:  # definitely not processed: the load balancer tries another
                last = exc
            except RemoteError as exc:
                if exc.error_type in ("DynamoUnavailable",):
                    raise DynamoUnavailableError(exc.detail) from None
                if exc.error_type == "BadInput":
                    raise BadInput(exc.detail) from None
                raise
        raise DynamoUnavailableError(f"no node reachable ({last})")

    async def get(self, key: str) -> GetResult:
        reply = await self._send(key, ClientGet(key))
        sibs = from_plain(reply.siblings)
        return GetResult([s.value for s in sibs], reply.context, reply.coordinator, sibs)

    async def put(self, key: str, value: bytes | str, context: str = "") -> PutResult:
        reply = await self._send(key, ClientPut(key, _value(value), context), context)
        return PutResult(reply.context, reply.coordinator)


class Client:
    """The HTTP client of a real cluster: ``await Client(urls).get(key)`` / ``.put(key, value, ctx)``.

    ``routing="client"`` polls ``/status`` of a random node every ``refresh``
    seconds for the ring and sends each request to the key's coordinator.
    Requests travel on pooled keep-alive connections
    (:class:`~minisys.net.httpclient.HttpClient`): the client's share of
    every operation's cost is one write and one parsed reply.
    A node that cannot be reached, or that cut a reply off, is skipped for
    the next one. If none answers, a put that reached a node may have taken
    effect, so it raises ``ConnectionError`` (indefinite) rather than
    :class:`DynamoUnavailableError` (definitely not applied); a request that
    timed out raises ``TimeoutError`` (it may have taken effect).
    """

    def __init__(self, urls: Sequence[str], *, routing: str = "server", refresh: float = 10.0,
                 timeout: float = 5.0, seed: int | None = None) -> None:
        if not urls:
            raise BadInput("Client needs at least one node URL")
        if routing not in ROUTINGS:
            raise BadInput(f"routing={routing!r}: choose one of {', '.join(ROUTINGS)}")
        self.urls = [u.rstrip("/") for u in urls]
        try:
            for url in self.urls:
                split_url(url)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        self.routing = routing
        self.refresh = refresh
        self.timeout = timeout
        self._rng = random.Random(seed)
        self._http = HttpClient(max_body=REPLY_LIMIT)
        self._ring: Ring | None = None
        self._api: dict[str, str] = {}
        self._n = 3
        self._ring_at = -1e18

    async def close(self) -> None:
        await self._http.close()
        self._http = HttpClient(max_body=REPLY_LIMIT)  # usable again, like a fresh client

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def status(self, url: str) -> dict[str, Any]:
        addr, base = split_url(url.rstrip("/"))
        resp = await self._http.request(addr, "GET", base + "/status", headers={"Accept": "application/json"},
                                        timeout=self.timeout)
        return json.loads(resp.body)

    async def _order(self, key: str) -> list[str]:
        order = self._rng.sample(self.urls, len(self.urls))
        if self.routing != "client":
            return order
        if self._ring is None or time.monotonic() - self._ring_at >= self.refresh:
            for url in order:
                try:
                    info = await self.status(url)
                except (ConnectionError, TimeoutError, ValueError):
                    continue
                cfg = info["config"]
                self._n = cfg["n"]
                self._ring = ring_from_status(info, cfg["strategy"], cfg.get("partitions") or 64)
                self._api = {n: m[3].rstrip("/") for n, m in info["members"].items() if m[3]}
                self._ring_at = time.monotonic()
                break
        if self._ring is None:
            return order
        first = [self._api[n] for n in self._ring.preference_list(key, self._n) if n in self._api]
        return first + [u for u in order if u not in first]

    async def _request(self, method: str, key: str, body: bytes = b"",
                       headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        path = "/kv/" + quote(key, safe="")
        last: Exception | None = None
        maybe_applied = False
        for url in await self._order(key):
            addr, base = split_url(url)
            try:
                resp = await self._http.request(addr, method, base + path, body, headers, self.timeout)
            except HttpConnectionError as exc:
                # The load balancer tries the next node. A put whose reply was
                # cut off may have been applied already; sent again, it is a
                # concurrent version with the same value, which §4.4's merge
                # absorbs -- but if no node answers, the put's fate is unknown.
                maybe_applied |= method != "GET" and not isinstance(exc, HttpNotSent)
                last = exc
                continue
            return resp.status, resp.body
        if maybe_applied:
            raise HttpConnectionError(f"no node answered and the put may have been applied ({last})")
        raise DynamoUnavailableError(f"no node reachable ({last})")

    @staticmethod
    def _fail(status: int, body: bytes) -> None:
        text = body.decode("utf-8", "replace")
        try:
            detail = json.loads(text).get("error", text)
        except ValueError:
            detail = text.strip()
        if status in (400, 413, 414):
            raise BadInput(detail)
        raise DynamoUnavailableError(f"HTTP {status}: {detail}")

    async def get(self, key: str) -> GetResult:
        status, text = await self._request("GET", key)
        if status == 404:
            return GetResult([], json.loads(text).get("context", ""))
        if status != 200:
            self._fail(status, text)
        body = json.loads(text)
        return GetResult([v.encode("utf-8") for v in body["siblings"]], body["context"], body.get("coordinator", ""))

    async def put(self, key: str, value: bytes | str, context: str = "") -> PutResult:
        headers = {"X-Dynamo-Context": context} if context else None
        status, text = await self._request("PUT", key, _value(value), headers)
        if status != 200:
            self._fail(status, text)
        body = json.loads(text)
        return PutResult(body["context"], body.get("coordinator", ""))
