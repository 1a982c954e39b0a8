"""dynamo-vs-postgres: a 5-node Dynamo on loopback next to Postgres and SQLite, same client harness.

The question Dynamo's paper answers with "always writeable": what do you pay
in throughput and latency for a replicated, eventually consistent store, and
what do you get back in availability? Every system gets the same mixed
workload (50% gets, 50% puts, 100-byte values, 8 concurrent clients, one
process) from :mod:`minisys.dynamo.kvbench`; then a fault: one Dynamo node is
killed with SIGKILL, or the client is cut from the Postgres server (a TCP
proxy stops forwarding), and the harness counts how many writes still succeed.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import numpy as np

from minisys.scenario import Metric, Outcome, Scale, Scenario

CONCURRENCY = 8


class DynamoVsPostgres(Scenario):
    name = "dynamo-vs-postgres"
    title = "Dynamo (5 nodes, N=3 R=2 W=2, loopback) vs Postgres vs SQLite: speed and availability"
    description = (
        "Five `minisys dynamo serve` processes on loopback (N=3, R=2, W=2, SQLite engine synced before "
        "each ack), Postgres (single server, SQLAlchemy + psycopg 3) and SQLite (WAL, "
        "synchronous=FULL) receive the same 50/50 get/put load from 8 concurrent clients. Then a "
        "fault: a Dynamo node is SIGKILLed, or a proxy cuts the client from Postgres, and the share "
        "of writes that still succeed is the availability; also while proxies cut the client from 3 of "
        "the 5 Dynamo nodes."
    )
    size_label = "operations"
    systems = ("dynamo", "postgres", "sqlite")
    scales = {
        "tiny": Scale("tiny", 200, {"ops": 200, "keys": 200, "fault_writes": 40}),
        "small": Scale("small", 800, {"ops": 800, "keys": 800, "fault_writes": 100}),
        "medium": Scale("medium", 20_000, {"ops": 20_000, "keys": 10_000, "fault_writes": 2000}),
        "large": Scale("large", 200_000, {"ops": 200_000, "keys": 100_000, "fault_writes": 10_000}),
    }
    metrics = (
        Metric("ops_per_s", "ops/s", "higher", "Mixed get/put throughput (8 clients)"),
        Metric("get_p50_ms", "ms", "lower", "Get latency, median"),
        Metric("get_p99_ms", "ms", "lower", "Get latency, 99th percentile"),
        Metric("put_p50_ms", "ms", "lower", "Put latency, median"),
        Metric("put_p99_ms", "ms", "lower", "Put latency, 99th percentile"),
        Metric("write_availability_pct", "%", "higher", "Writes that succeed while a server is killed"),
        Metric("partition_write_availability_pct", "%", "higher",
               "Writes that succeed while a partition cuts the client from part of the cluster"),
        Metric("op_latency", "ms", "lower", "Operation latency (distribution)"),
    )

    def unavailable(self, system: str) -> str | None:
        if system == "postgres":
            from minisys import config

            if not config.postgres_url():
                return f"no Postgres configured (set {config.POSTGRES_ENV} or run `minisys services up --postgres`)"
            from minisys.baselines import postgres

            postgres.connect(connect_timeout=3).close()
        return None

    def prepare(self, scale: Scale, seed: int, data: Path | None, workdir: Path) -> dict[str, Any]:
        return dict(scale.params, seed=seed)

    def run(self, system: str, workload: dict[str, Any], scale: Scale, workdir: Path) -> Outcome:
        runner = {"dynamo": self._dynamo, "postgres": self._postgres, "sqlite": self._sqlite}[system]
        result, availability, partitioned = runner(workload, workdir)
        metrics = {
            "ops_per_s": result.ops / result.seconds,
            "get_p50_ms": float(np.percentile(result.get_ms, 50)),
            "get_p99_ms": float(np.percentile(result.get_ms, 99)),
            "put_p50_ms": float(np.percentile(result.put_ms, 50)),
            "put_p99_ms": float(np.percentile(result.put_ms, 99)),
        }
        if availability is not None:
            metrics["write_availability_pct"] = availability
        if partitioned is not None:
            metrics["partition_write_availability_pct"] = partitioned
        return Outcome(metrics, samples={"op_latency": result.get_ms + result.put_ms})

    @staticmethod
    def _mix(store: Any, w: dict[str, Any]) -> Any:
        from minisys.dynamo.kvbench import mixed

        return mixed(store, ops=w["ops"], keys=w["keys"], concurrency=CONCURRENCY, seed=w["seed"])

    def _dynamo(self, w: dict[str, Any], workdir: Path) -> tuple[Any, float, float]:
        from minisys.dynamo.kvbench import DynamoKV, TcpCut, writes_during_fault
        from minisys.dynamo.localcluster import LocalCluster

        with LocalCluster(workdir / "dynamo", 5) as cluster:
            async def main() -> tuple[Any, float, float]:
                store = DynamoKV(cluster.urls, seed=w["seed"])
                proxies = [TcpCut("127.0.0.1", cluster.api[n]) for n in cluster.ids]
                for p in proxies:
                    await p.start()
                cut_store = DynamoKV([f"http://127.0.0.1:{p.port}" for p in proxies], seed=w["seed"])
                try:
                    result = await self._mix(store, w)
                    for p in proxies[2:]:  # the client can reach only n1 and n2; the nodes still see each other
                        p.partition()
                    ok, failed = await writes_during_fault(cut_store, writes=w["fault_writes"], keys=w["keys"],
                                                           concurrency=CONCURRENCY)
                    partitioned = 100.0 * ok / max(1, ok + failed)
                    cluster.kill9("n2")
                    ok, failed = await writes_during_fault(store, writes=w["fault_writes"], keys=w["keys"],
                                                           concurrency=CONCURRENCY)
                    return result, 100.0 * ok / max(1, ok + failed), partitioned
                finally:
                    await store.close()
                    await cut_store.close()
                    for p in proxies:
                        await p.close()

            return asyncio.run(main())

    def _postgres(self, w: dict[str, Any], workdir: Path) -> tuple[Any, float, float]:
        from sqlalchemy.engine import make_url

        from minisys.baselines import postgres
        from minisys.dynamo.kvbench import PostgresKV, TcpCut, writes_during_fault

        real = make_url(postgres.sqlalchemy_url(driver="psycopg"))

        async def main() -> tuple[Any, float, float]:
            proxy = TcpCut(real.host or "127.0.0.1", real.port or 5432)
            await proxy.start()
            url = real.set(host="127.0.0.1", port=proxy.port)
            store = PostgresKV(url.render_as_string(hide_password=False), f"minisys_dynamo_kv_{os.getpid()}",
                               pool=CONCURRENCY)
            try:
                await store.setup()
                result = await self._mix(store, w)
                proxy.partition()
                ok, failed = await writes_during_fault(store, writes=w["fault_writes"], keys=w["keys"],
                                                       concurrency=CONCURRENCY)
                cut = 100.0 * ok / max(1, ok + failed)
                return result, cut, cut  # one server: being cut from it and losing it look the same
            finally:
                await store.close()
                await proxy.close()
                cleanup = PostgresKV(real.render_as_string(hide_password=False), store.table, pool=1)
                await cleanup.drop()
                await cleanup.close()

        return asyncio.run(main())

    def _sqlite(self, w: dict[str, Any], workdir: Path) -> tuple[Any, None, None]:
        from minisys.dynamo.kvbench import SqliteKV

        async def main() -> Any:
            store = SqliteKV(workdir / "kv.sqlite")
            try:
                await store.setup()
                return await self._mix(store, w)
            finally:
                await store.close()

        return asyncio.run(main()), None, None

    def notes(self) -> list[str]:
        return [
            "Dynamo: 5 processes on this machine, N=3 R=2 W=2, each put fsynced by the coordinator's "
            "SQLite engine (synchronous=FULL) before it counts towards W. Postgres: the configured server "
            "(`minisys services up` runs it with fsync off, so its writes are an upper bound). SQLite: one "
            "file, WAL, synchronous=FULL, one connection shared by the 8 clients.",
            "Availability: after the mixed phase, TCP proxies cut the client from 3 of the 5 Dynamo nodes "
            "(the nodes still reach each other), then one Dynamo node is SIGKILLed (the client still lists "
            "it); for Postgres a TCP proxy cuts the client from the one server (both figures). SQLite is "
            "embedded, so it has no network to cut and no availability figure.",
            "Peak RSS is the client process; the Dynamo nodes and the Postgres server run in their own "
            "processes.",
        ]
