"""The serving tree (Dremel §6): root, intermediate and leaf servers, and the query dispatcher.

* The **root** receives a query, reads the table's metadata (its tablets) and
  routes the query down the tree.
* **Intermediate servers** split their tablets among their children and merge
  the children's answers. The query is rewritten on the way: a leaf computes
  *partial* aggregates per tablet (``COUNT`` → count, ``AVG`` → sum and count,
  ``COUNT(DISTINCT)`` → distinct values) and every level above merges
  partials (``SUM`` of counts ...), which is why many-group aggregations gain
  from more levels: the merging is spread over more servers (Fig. 11).
* **Leaf servers** scan tablets; each has a number of *slots* (threads in the
  paper). The lowest intermediate level runs the **dispatcher**
  (:mod:`minisys.dremel.dispatcher`). Messages are in :mod:`minisys.dremel.messages`.

Nodes are written against :mod:`minisys.net`, so the same classes run in the
deterministic simulator (:func:`run_simulated`; leaf and merge times come
from a cost model, see ``LeafServer.seconds_per_entry``) or as HTTP servers
with every leaf in its own process (:class:`LocalCluster`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minisys.dremel.dispatcher import CALL_TIMEOUT, Dispatcher
from minisys.dremel.messages import (
    PartialResult,
    QueryReply,
    RunQuery,
    ScanTablet,
    ScanTablets,
    decode_partial,
    encode_partial,
    from_ipc,
    ipc,
)
from minisys.dremel.query.executor import Partial, finish, merge_partials
from minisys.dremel.query.grammar import parse
from minisys.dremel.query.planner import Plan, plan_query
from minisys.dremel.query.result import Result
from minisys.dremel.tablet import Table
from minisys.errors import BadInput, ServiceUnavailable
from minisys.net import Constant, Node, RemoteError, SimNetwork, Transport, handler


class _Server(Node):
    """What every server shares: opened tables and plans, cached by path and text."""

    def __init__(self, transport: Transport) -> None:
        super().__init__(transport)
        self._tables: dict[str, Table] = {}
        self._plans: dict[tuple[str, str], Plan] = {}

    def table(self, path: str) -> Table:
        if path not in self._tables:
            self._tables[path] = Table.open(path)
        return self._tables[path]

    def plan(self, sql: str, path: str) -> Plan:
        key = (path, sql)
        if key not in self._plans:
            query = parse(sql)
            if not isinstance(query.source, str):
                raise BadInput("subqueries in FROM run in-process only (Table.query), not on the serving tree")
            self._plans[key] = plan_query(query, self.table(path).schema)
        return self._plans[key]


class LeafServer(_Server):
    """Scans one tablet per request (§6 leaf server)."""

    #: Simulated seconds per column entry read (None: real time only).
    seconds_per_entry: float | None = None

    def __init__(self, transport: Transport, delay: float = 0.0, seconds_per_entry: float | None = None) -> None:
        super().__init__(transport)
        self.delay = delay  # extra seconds per tablet: a slow or overloaded machine
        self.seconds_per_entry = seconds_per_entry
        self.scanned = 0

    @handler
    async def on_scan_tablet(self, msg: ScanTablet, sender: str) -> PartialResult:
        from minisys.dremel.query.executor import scan_tablet

        plan = self.plan(msg.sql, msg.table_dir)
        tablet = self.table(msg.table_dir).tablets[msg.tablet]
        partial = scan_tablet(plan, tablet)
        cost = self.delay
        if self.seconds_per_entry is not None:
            cost += self.seconds_per_entry * sum(tablet.stats(c).get("entries", 0) for c in plan.columns)
        if cost > 0:
            await self.sleep(cost)
        self.scanned += 1
        return encode_partial(partial, [], 0)


class IntermediateServer(_Server):
    """Routes tablets to children and merges their partial results (§6)."""

    def __init__(self, transport: Transport, children: Sequence[str], leaf_parent: bool, slots_per_leaf: int = 2,
                 straggler_factor: float = 3.0, seconds_per_row: float | None = None) -> None:
        super().__init__(transport)
        self.children = list(children)
        self.leaf_parent = leaf_parent
        self.slots_per_leaf = slots_per_leaf
        self.straggler_factor = straggler_factor
        self.seconds_per_row = seconds_per_row  # simulated merge cost per partial row

    @handler
    async def on_scan_tablets(self, msg: ScanTablets, sender: str) -> PartialResult:
        plan = self.plan(msg.sql, msg.table_dir)
        merged, seconds, redispatched = await self.gather(plan, msg)
        return encode_partial(merged, seconds, redispatched)

    async def gather(self, plan: Plan, msg: ScanTablets) -> tuple[Partial, list[float], int]:
        if self.leaf_parent:
            dispatcher = Dispatcher(self, self.children, self.slots_per_leaf, self.straggler_factor)
            parts = await dispatcher.run(msg)
            seconds, redispatched = dispatcher.tablet_seconds, dispatcher.redispatched
        else:
            groups = [msg.tablets[i::len(self.children)] for i in range(len(self.children))]
            calls = [self.call(child, ScanTablets(msg.sql, msg.table_dir, g, msg.min_fraction), timeout=CALL_TIMEOUT)
                     for child, g in zip(self.children, groups, strict=True) if g]
            replies = await asyncio.gather(*calls)
            parts = [decode_partial(r) for r in replies]
            seconds = [s for r in replies for s in r.tablet_seconds]
            redispatched = sum(r.redispatched for r in replies)
        merged = merge_partials(plan, parts)
        if self.seconds_per_row is not None:
            rows = sum(t.num_rows for p in parts for t in p.aggregates) + sum(len(p.records) for p in parts) \
                + sum(t.num_rows for p in parts for t in p.flat)
            await self.sleep(self.seconds_per_row * rows)
        return merged, seconds, redispatched


class RootServer(IntermediateServer):
    """Receives the query, reads the table's metadata, routes it, finishes the result."""

    @handler
    async def on_run_query(self, msg: RunQuery, sender: str) -> QueryReply:
        table = self.table(msg.table_dir)
        plan = self.plan(msg.sql, msg.table_dir)  # errors surface here, before any tablet is read
        total = len(table.tablets)
        scan = ScanTablets(msg.sql, msg.table_dir, list(range(total)), msg.min_fraction)
        merged, seconds, redispatched = await self.gather(plan, scan)
        result = finish(plan, merged, tablets_total=total)
        nested = not plan.aggregated
        body = json.dumps(result.records()).encode() if nested else ipc(result.to_arrow())
        return QueryReply(body, nested, merged.tablets, total, seconds, redispatched)


# -- building trees -------------------------------------------------------------------
@dataclass
class TreeOutcome:
    """A query's result plus what the serving tree saw while computing it."""

    result: Result
    seconds: float  # virtual seconds in the simulator, wall seconds over HTTP
    tablet_seconds: list[float] = field(default_factory=list)
    redispatched: int = 0


def topology(leaves: int, fanouts: Sequence[int]) -> dict[str, tuple[str, list[str]]]:
    """Node id → (role, children): ``fanouts`` are the intermediate levels below the root.

    ``()`` is a 2-level tree (root → leaves), ``(10,)`` 3 levels, ``(10, 10)`` 4.
    """
    nodes: dict[str, tuple[str, list[str]]] = {}
    levels = [["root"]]
    for depth, f in enumerate(fanouts, 1):
        levels.append([f"mid{depth}-{i}" for i in range(len(levels[-1]) * f)])
    leaf_ids = [f"leaf{i}" for i in range(leaves)]
    for depth, ids in enumerate(levels):
        below = levels[depth + 1] if depth + 1 < len(levels) else leaf_ids
        per = max(1, math.ceil(len(below) / len(ids)))
        for i, node in enumerate(ids):
            kids = below[i * per:(i + 1) * per] if depth + 1 < len(levels) else below[i::len(ids)]
            nodes[node] = ("root" if node == "root" else "intermediate", kids)
    for leaf in leaf_ids:
        nodes[leaf] = ("leaf", [])
    return nodes


def _reply_to_outcome(reply: QueryReply, seconds: float) -> TreeOutcome:
    if reply.nested:
        result = Result(records=json.loads(reply.result), partial=reply.tablets_scanned < reply.tablets_total,
                        tablets_scanned=reply.tablets_scanned, tablets_total=reply.tablets_total)
    else:
        result = Result(table=from_ipc(reply.result), partial=reply.tablets_scanned < reply.tablets_total,
                        tablets_scanned=reply.tablets_scanned, tablets_total=reply.tablets_total)
    return TreeOutcome(result, seconds, list(reply.tablet_seconds), reply.redispatched)


def _raise_remote(exc: RemoteError) -> None:
    raise BadInput(str(exc)) from None


def run_simulated(table_dir: str | Path, sql: str, *, leaves: int = 4, fanouts: Sequence[int] = (),
                  slots_per_leaf: int = 2, min_fraction: float = 1.0, slow_leaves: dict[str, float] | None = None,
                  straggler_factor: float = 3.0, seconds_per_entry: float = 1e-7, seconds_per_row: float = 2e-6,
                  latency: float = 1e-4, seed: int = 0) -> TreeOutcome:
    """Run one query on a simulated serving tree; times are virtual, from the cost model.

    ``slow_leaves`` maps a leaf id to extra seconds per tablet (a straggler).
    The cost model: a leaf takes ``seconds_per_entry`` per column entry it
    reads, a server ``seconds_per_row`` per partial row it merges, a message
    ``latency``; leaves and servers work in parallel, as on a cluster.
    """
    slow = slow_leaves or {}
    with SimNetwork(seed=seed, latency=Constant(latency), default_timeout=CALL_TIMEOUT) as net:
        for node_id, (role, kids) in topology(leaves, fanouts).items():
            if role == "leaf":
                delay = slow.get(node_id, 0.0)
                net.add_node(node_id, lambda t, d=delay: LeafServer(t, d, seconds_per_entry))
            else:
                cls = RootServer if role == "root" else IntermediateServer
                leaf_parent = bool(kids) and kids[0].startswith("leaf")
                net.add_node(node_id, lambda t, c=cls, k=kids, lp=leaf_parent: c(
                    t, k, lp, slots_per_leaf, straggler_factor, seconds_per_row))
        client = net.add_client("client")
        start = net.now
        try:
            reply = net.run(client.call("root", RunQuery(sql, str(table_dir), min_fraction), timeout=CALL_TIMEOUT))
        except RemoteError as exc:
            _raise_remote(exc)
        return _reply_to_outcome(reply, net.now - start)


class LocalCluster:
    """A serving tree over HTTP: each leaf its own process, root and intermediates here.

    Use as ``async with LocalCluster(leaves=2) as cluster: await cluster.query(dir, sql)``.
    """

    def __init__(self, leaves: int = 2, fanouts: Sequence[int] = (), slots_per_leaf: int = 2,
                 straggler_factor: float = 3.0, leaf_delays: dict[str, float] | None = None, token: str = "dremel") -> None:
        self.shape = topology(leaves, fanouts)
        self.slots_per_leaf = slots_per_leaf
        self.straggler_factor = straggler_factor
        self.leaf_delays = leaf_delays or {}
        self.token = token
        self.procs: list[subprocess.Popen] = []
        self.net: Any = None
        self.client: Any = None

    async def __aenter__(self) -> LocalCluster:
        from minisys.net import HttpNetwork

        directory = {}
        for node_id, (role, _) in self.shape.items():
            if role == "leaf":
                proc = subprocess.Popen(
                    [sys.executable, "-m", "minisys.dremel.serving", "leaf", "--id", node_id, "--token", self.token,
                     "--delay", str(self.leaf_delays.get(node_id, 0.0))],
                    stdout=subprocess.PIPE, text=True)
                self.procs.append(proc)
                line = await asyncio.get_running_loop().run_in_executor(None, proc.stdout.readline)  # type: ignore[union-attr]
                if not line.startswith("serving"):
                    await self.__aexit__()
                    raise ServiceUnavailable(f"leaf {node_id} did not start")
                directory[node_id] = line.split()[-1]
        self.net = HttpNetwork(directory, token=self.token, default_timeout=CALL_TIMEOUT)
        for node_id, (role, kids) in self.shape.items():
            if role != "leaf":
                cls = RootServer if role == "root" else IntermediateServer
                leaf_parent = bool(kids) and kids[0].startswith("leaf")
                await self.net.add_node(node_id, lambda t, c=cls, k=kids, lp=leaf_parent: c(
                    t, k, lp, self.slots_per_leaf, self.straggler_factor))
        self.client = await self.net.add_client("client")
        return self

    async def query(self, table_dir: str | Path, sql: str, min_fraction: float = 1.0) -> TreeOutcome:
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            reply = await self.client.call("root", RunQuery(sql, str(Path(table_dir).resolve()), min_fraction),
                                           timeout=CALL_TIMEOUT)
        except RemoteError as exc:
            _raise_remote(exc)
        return _reply_to_outcome(reply, loop.time() - start)

    async def __aexit__(self, *exc: Any) -> None:
        if self.net is not None:
            await self.net.close()
            self.net = None
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = []


async def _serve_leaf(args: argparse.Namespace) -> None:
    from minisys.net import HttpNetwork

    async with HttpNetwork(token=args.token, default_timeout=CALL_TIMEOUT) as net:
        await net.add_node(args.id, lambda t: LeafServer(t, args.delay), port=args.port)
        print(f"serving {args.id} at {net.directory[args.id]}", flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m minisys.dremel.serving leaf --id leaf0``: one leaf server process."""
    parser = argparse.ArgumentParser(prog="python -m minisys.dremel.serving")
    sub = parser.add_subparsers(dest="role", required=True)
    leaf = sub.add_parser("leaf")
    leaf.add_argument("--id", required=True)
    leaf.add_argument("--port", type=int, default=0)
    leaf.add_argument("--token", default=None)
    leaf.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve_leaf(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
