"""A Dynamo node as a real process: the HTTP API in front, minisys.net RPC between nodes.

``minisys dynamo serve`` runs one :class:`~minisys.dynamo.node.DynamoNode` --
the very class the simulator runs -- on :class:`~minisys.net.HttpNetwork`
(RPC on ``--rpc-port``, default ``--port`` + 1000) with a durable SQLite engine
(synced before a replica acknowledges) and serves the client API on ``--port``:

* ``PUT /kv/{key}`` -- body: the UTF-8 value; optional header
  ``X-Dynamo-Context``. Answers ``{"context": ..., "coordinator": ...}``.
* ``GET /kv/{key}`` -- ``{"siblings": [...], "context": ..., "coordinator": ...}``,
  or 404 with ``{"siblings": [], "context": ""}`` when no version exists.
* ``GET /status`` -- ring ownership, membership, hint counts; JSON, or an
  HTML page for browsers.
* ``POST /admin/leave`` -- the explicit removal of §4.9: the node hands its
  ranges to their new replicas, then announces that it left (stop it after).

Seeds are other nodes' API addresses (``HOST:PORT``); a joining node asks each
seed's ``/status`` for its id and RPC address, then gossips (§4.8.2).
Errors: 400 bad key/context/UTF-8, 413 value too large, 503 quorum not met.
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from minisys.dynamo.messages import ClientGet, ClientPut
from minisys.dynamo.node import DynamoConfig, DynamoNode, DynamoUnavailable
from minisys.dynamo.reconcile import from_plain
from minisys.dynamo.storage import SqliteEngine
from minisys.errors import BadInput, MinisysError, ServiceUnavailable
from minisys.net import HttpNetwork, NetError
from minisys.net.httpclient import HttpClient, split_url
from minisys.net.httpserver import HttpServer, Request, Response
from minisys.net.loop import run as run_loop

log = logging.getLogger("minisys.dynamo.server")


@dataclass
class ServeOptions:
    node_id: str
    port: int
    data_dir: Path
    rpc_port: int | None = None
    seeds: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    token: str | None = None
    seed_wait: float = 30.0
    #: A founding configuration, id -> (API URL, RPC URL): every founder starts with the same ring.
    founders: dict[str, tuple[str, str]] | None = None


def parse_founders(spec: str) -> dict[str, tuple[str, str]]:
    """``n1=127.0.0.1:8001,n2=...`` (RPC on port + 1000) or ``n1=127.0.0.1:8001/9001``."""
    out: dict[str, tuple[str, str]] = {}
    for item in (x for x in spec.split(",") if x):
        try:
            node_id, addr = item.split("=", 1)
            hostport, _, rpc = addr.partition("/")
            host, port = hostport.rsplit(":", 1)
            rpc_port = int(rpc) if rpc else int(port) + 1000
            out[node_id] = (f"http://{host}:{int(port)}", f"http://{host}:{rpc_port}")
        except ValueError:
            raise BadInput(f"--founders {item!r}: expected ID=HOST:PORT or ID=HOST:PORT/RPCPORT") from None
    return out


def _json(body: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(body).encode("utf-8"), "application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


class ApiServer:
    """The client-facing HTTP API of one node (paper §4.1's get/put over HTTP).

    Served by :class:`~minisys.net.httpserver.HttpServer` (keep-alive, one
    task per request) because every client operation crosses it: its cost
    is part of every get and put.
    """

    def __init__(self, node: DynamoNode) -> None:
        self.node = node

    def error_page(self, status: int, reason: str) -> Response:
        """Refusals the HTTP server makes itself (bad HTTP, body too large), in the API's JSON."""
        if status == 413:
            reason = f"value larger than {self.node.config.max_value_bytes} bytes"
        return _error(status, reason)

    async def __call__(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path.startswith("/kv/"):
            raw = path[4:]
            if not raw or "/" in raw:
                return _error(404, f"no such resource: {path}")
            key = unquote(raw)
            if method == "GET":
                return await self.get(key)
            if method == "PUT":
                return await self.put(key, request)
            return _error(405, "/kv/{key} takes GET or PUT")
        if path == "/status" and method == "GET":
            return await self.status(request)
        if path == "/admin/leave" and method == "POST":
            return await self.leave()
        return _error(404, f"no such resource: {method} {path}")

    async def get(self, key: str) -> Response:
        try:
            reply = await self.node.on_client_get(ClientGet(key), "http")
        except BadInput as exc:
            return _error(400, str(exc))
        except (DynamoUnavailable, NetError) as exc:
            return _error(503, str(exc))
        sibs = from_plain(reply.siblings)
        body = {"siblings": [s.value.decode("utf-8", "replace") for s in sibs], "context": reply.context,
                "coordinator": reply.coordinator}
        return _json(body, 200 if sibs else 404)

    async def put(self, key: str, request: Request) -> Response:
        value = request.body
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, "value is not UTF-8 text")
        context = request.headers.get("x-dynamo-context", "")
        try:
            reply = await self.node.on_client_put(ClientPut(key, value, context), "http")
        except BadInput as exc:
            status = 413 if "value is" in str(exc) else 400
            return _error(status, str(exc))
        except (DynamoUnavailable, NetError) as exc:
            return _error(503, str(exc))
        return _json({"context": reply.context, "coordinator": reply.coordinator})

    async def leave(self) -> Response:
        """The administrator removes this node (§4.9): hand ranges over, announce, stop owning tokens."""
        from minisys.dynamo.transfer import leave

        if self.node.node_id not in self.node.membership.live_members():
            return _error(409, f"node {self.node.node_id} is not a member")
        if len(self.node.membership.live_members()) <= 1:
            return _error(409, "the last member cannot leave")
        await leave(self.node)
        return _json({"left": self.node.node_id})

    async def status(self, request: Request) -> Response:
        info = self.node.status()
        if "text/html" in request.headers.get("accept", ""):
            return Response(200, status_html(info).encode("utf-8"), "text/html; charset=utf-8")
        return _json(info)


def status_html(info: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{html.escape(m[0])}</td><td>{html.escape(m[3] or m[2])}</td>"
        f"<td>{sum(1 for o in info['tokens'].values() if o[0] == n)}</td>"
        f"<td>{info['hints'].get(n, 0)}</td></tr>"
        for n, m in info["members"].items()
    )
    cfg = info["config"]
    return (
        "<!doctype html><meta charset=utf-8><title>Dynamo node {node}</title>"
        "<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 10px;text-align:left}}</style>"
        "<h1>Dynamo node {node}</h1><p>N={n} R={r} W={w}, partitioning strategy {s}, mode {mode}; "
        "{keys} keys; {ranges} ranges replicated; suspected: {sus}</p>"
        "<table><tr><th>member</th><th>status</th><th>address</th><th>tokens</th><th>hints held for it</th></tr>"
        "{rows}</table><h2>Counters</h2><pre>{stats}</pre>"
    ).format(node=html.escape(info["node"]), n=cfg["n"], r=cfg["r"], w=cfg["w"], s=cfg["strategy"],
             mode=cfg["mode"], keys=info["keys"], ranges=info["ranges_replicated"],
             sus=html.escape(", ".join(info["suspected"]) or "none"), rows=rows,
             stats=html.escape(json.dumps(info["stats"] | info["anti_entropy"], indent=1)))


async def discover_seeds(seeds: tuple[str, ...], wait: float) -> dict[str, str]:
    """Seed API address -> (seed id, RPC URL), via each seed's ``/status``."""
    found: dict[str, str] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    client = HttpClient(limit=1)
    try:
        while True:
            for seed in seeds:
                url = seed if seed.startswith("http") else f"http://{seed}"
                try:
                    addr, base = split_url(url)
                    resp = await client.request(addr, "GET", base + "/status", timeout=2.0,
                                                headers={"Accept": "application/json"})
                    info = json.loads(resp.body)
                    found[info["node"]] = info["address"]
                except (TimeoutError, OSError, ValueError, KeyError, TypeError):
                    continue
            if found or not seeds:
                return found
            if loop.time() >= deadline:
                raise ServiceUnavailable(f"no seed answered within {wait:.0f}s: {', '.join(seeds)}")
            await asyncio.sleep(0.2)
    finally:
        await client.close()


async def serve(opts: ServeOptions, config: DynamoConfig, stop: asyncio.Event | None = None) -> None:
    """Run one node until ``stop`` is set (or SIGTERM/SIGINT)."""
    opts.data_dir.mkdir(parents=True, exist_ok=True)
    rpc_port = opts.rpc_port or opts.port + 1000
    api_url = f"http://{opts.host}:{opts.port}"
    rpc_url = f"http://{opts.host}:{rpc_port}"
    seeds = await discover_seeds(opts.seeds, opts.seed_wait)
    bootstrap = None
    if opts.founders:
        if opts.node_id not in opts.founders:
            raise BadInput(f"--founders does not list this node ({opts.node_id})")
        from minisys.dynamo.gossip import initial_state

        bootstrap = initial_state(sorted(opts.founders), config.strategy, q=config.partitions,
                                  tokens_per_node=config.tokens_per_node, seed="founders",
                                  addresses={n: (rpc, api) for n, (api, rpc) in opts.founders.items()})
        seeds |= {n: rpc for n, (_, rpc) in opts.founders.items() if n != opts.node_id}
        api_url, rpc_url = opts.founders[opts.node_id]
        rpc_port = int(rpc_url.rsplit(":", 1)[1])
    net = HttpNetwork(seeds, token=opts.token, host=opts.host, storage_dir=opts.data_dir,
                      default_timeout=config.request_timeout)
    engine_path = opts.data_dir / f"{opts.node_id}.sqlite"
    factory = functools.partial(
        DynamoNode, config=config, engine=lambda node: SqliteEngine(engine_path),
        seeds=tuple(sid for sid in seeds if sid != opts.node_id), address=rpc_url, api=api_url,
        join=bootstrap is None, bootstrap=bootstrap,
    )
    # Peers we knew before a restart are reachable again at once.
    from minisys.net import Storage

    saved = Storage(opts.data_dir / f"{opts.node_id}.msgpack").get("membership") or {}
    for peer, member in saved.get("members", {}).items():
        if member[2] and peer != opts.node_id:
            net.directory[peer] = member[2]
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    node: DynamoNode = await net.add_node(opts.node_id, factory, port=rpc_port)  # type: ignore[assignment]
    node.address_book = net.directory
    api = ApiServer(node)
    server = HttpServer(api, opts.host, opts.port, max_body=config.max_value_bytes, error_page=api.error_page)
    try:
        await server.start()
        log.info("dynamo node %s: API %s, RPC %s", opts.node_id, api_url, rpc_url)
        await stop.wait()
    finally:
        await server.close()
        await net.close()
        node.engine.close()


def run(opts: ServeOptions, config: DynamoConfig) -> None:
    try:
        run_loop(serve(opts, config))  # uvloop when installed: the event loop is much of a node's CPU
    except OSError as exc:
        rpc = opts.rpc_port or opts.port + 1000
        raise MinisysError(f"dynamo node {opts.node_id}: cannot listen on port {opts.port} (API) or {rpc} "
                           f"(RPC): {exc.strerror or exc}") from None
