"""Benchmark: a 5-node Dynamo on loopback next to Postgres and SQLite, same harness, same run.

    python benchmarks/dynamo_kv.py [--ops 5000] [--keys 2000] [--concurrency 16] [--routing both]

Five ``minisys dynamo serve`` processes (N=3 R=2 W=2, SQLite engine synced
before each replica acknowledges), a 50/50 get/put mix of 100-byte values
from one client process (``minisys.dynamo.kvbench``), then the same mix on
Postgres (when configured) and on SQLite (WAL, synchronous=FULL). Prints ops/s
and p50/p99 latency per system, Dynamo's ratio to each, and peak memory (the
client's and every Dynamo node's high-water RSS). Targets from the issue:
>= 2,000 ops/s and p99 <= 20 ms on loopback.

Dynamo runs twice on the same cluster (``--routing both``, the default):
server-driven (the client sends to any node, which coordinates, §4.5) and
client-driven (the client library holds the ring and coordinates itself,
§6.4 -- the paper's answer to tail latency: one network hop fewer).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
from pathlib import Path

import numpy as np


def vm_hwm_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def summary(name: str, res) -> dict[str, float]:
    lat = np.asarray(res.get_ms + res.put_ms)
    return {"system": name, "ops_s": res.ops / res.seconds, "p50": float(np.percentile(lat, 50)),
            "p99": float(np.percentile(lat, 99))}


def main() -> None:
    from minisys import config
    from minisys.dynamo.kvbench import DynamoKV, PostgresKV, SqliteKV, mixed
    from minisys.dynamo.localcluster import LocalCluster
    from minisys.net.loop import run as run_loop

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=5000)
    ap.add_argument("--keys", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--routing", default="both", choices=("server", "client", "both"))
    args = ap.parse_args()
    rows = []
    node_rss: list[float] = []
    with tempfile.TemporaryDirectory(prefix="dynamo-kv-") as tmp:
        with LocalCluster(Path(tmp) / "dynamo", 5) as cluster:
            routings = ("server", "client") if args.routing == "both" else (args.routing,)
            for routing in routings:
                async def dyn(routing: str = routing):
                    store = DynamoKV(cluster.urls, routing=routing, seed=1)
                    try:
                        await mixed(store, ops=min(500, args.ops), keys=args.keys, concurrency=args.concurrency,
                                    seed=9)
                        return await mixed(store, ops=args.ops, keys=args.keys, concurrency=args.concurrency, seed=1)
                    finally:
                        await store.close()

                rows.append(summary(f"dynamo ({routing}-driven)", run_loop(dyn())))
            node_rss = [vm_hwm_mb(p.pid) for p in cluster.procs.values()]
        if config.postgres_url():
            from minisys.baselines import postgres

            async def pg():
                store = PostgresKV(postgres.sqlalchemy_url(driver="psycopg"), f"bench_dynamo_kv_{os.getpid()}",
                                   pool=args.concurrency)
                try:
                    await store.setup()
                    return await mixed(store, ops=args.ops, keys=args.keys, concurrency=args.concurrency, seed=1)
                finally:
                    await store.drop()
                    await store.close()

            rows.append(summary("postgres", run_loop(pg())))

        async def lite():
            store = SqliteKV(Path(tmp) / "kv.sqlite")
            try:
                await store.setup()
                return await mixed(store, ops=args.ops, keys=args.keys, concurrency=args.concurrency, seed=1)
            finally:
                await store.close()

        rows.append(summary("sqlite", run_loop(lite())))
    dynamos = [r for r in rows if r["system"].startswith("dynamo")]
    others = [r for r in rows if not r["system"].startswith("dynamo")]
    print(f"dynamo_kv: 5-node Dynamo (N=3 R=2 W=2) vs Postgres vs SQLite; "
          f"{args.ops:,} ops, 50/50 get/put, {args.concurrency} clients, 100-byte values")
    print(f"  {'system':<24} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8}   "
          + "   ".join(f"vs {o['system']} (ops/s)" for o in others))
    for r in rows:
        ratios = "   ".join(f"{r['ops_s'] / o['ops_s']:>17.2f}x" for o in others) if r in dynamos else ""
        print(f"  {r['system']:<24} {r['ops_s']:>9,.0f} {r['p50']:>8.2f} {r['p99']:>8.2f}   {ratios}")
    if not config.postgres_url():
        print("  postgres                 skipped: no Postgres configured (MINISYS_POSTGRES_URL or "
              "`minisys services up`)")
    client_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for d in dynamos:
        print(f"  targets, {d['system']}: >= 2,000 ops/s ({'met' if d['ops_s'] >= 2000 else 'NOT met'}), "
              f"p99 <= 20 ms ({'met' if d['p99'] <= 20 else 'NOT met'})")
    print(f"  peak memory: client RSS {client_rss:.0f} MiB; Dynamo nodes' RSS "
          + ", ".join(f"{x:.0f}" for x in node_rss) + " MiB")


if __name__ == "__main__":
    main()
