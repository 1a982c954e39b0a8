"""kv-ingest: bulk-load N key/value rows, then look keys up one at a time.

The question every scenario in minisys asks in its own domain, at its
simplest: for this data size, which store would you pick? SQLite (an
embedded B-tree), DuckDB (an embedded column store) and Postgres (a server)
get the same shuffled rows and the same random lookups. Bulk load favours the
column store; point lookups favour the row store and punish a client/server
round trip; where they cross depends on N — which is what the plots show.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from minisys.errors import BadInput
from minisys.scenario import Metric, Outcome, Scale, Scenario

VALUE_BYTES = 32
LOOKUPS = 2_000


def generate(rows: int, seed: int) -> pa.Table:
    """Keys 0..N-1 in a seeded random order, each with 32 random bytes."""
    rng = np.random.default_rng(seed)
    keys = rng.permutation(rows).astype(np.int64)
    raw = pa.py_buffer(rng.bytes(VALUE_BYTES * rows))
    values = pa.FixedSizeBinaryArray.from_buffers(pa.binary(VALUE_BYTES), rows, [None, raw]).cast(pa.binary())
    return pa.table({"key": keys, "value": values})


def read_user_data(path: Path) -> pa.Table:
    """A user's Parquet, CSV or JSON-lines file; the key is column ``key`` or the first."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        elif suffix == ".csv":
            import pyarrow.csv as pacsv

            table = pacsv.read_csv(path)
        elif suffix in (".json", ".jsonl", ".ndjson"):
            import pyarrow.json as pajson

            table = pajson.read_json(path)
        else:
            raise BadInput(f"--data {path}: unsupported format {suffix or '(none)'}; use .parquet, .csv or .jsonl")
    except pa.ArrowInvalid as exc:
        raise BadInput(f"--data {path}: cannot parse: {str(exc).splitlines()[0]}") from None
    if table.num_rows == 0:
        raise BadInput(f"--data {path}: the file has no rows")
    key = "key" if "key" in table.column_names else table.column_names[0]
    import pyarrow.compute as pc

    if table.column(key).null_count or pc.count_distinct(table.column(key)).as_py() != table.num_rows:
        raise BadInput(f"--data {path}: key column {key!r} must be unique and non-null to be a primary key")
    return table


class KVIngest(Scenario):
    name = "kv-ingest"
    title = "Bulk ingest and point lookups: SQLite vs DuckDB vs Postgres"
    description = (
        "Loads N rows (int64 key, 32-byte value, shuffled) into each store with its fastest "
        "documented bulk path and the key built as its guide advises, then looks up "
        f"{LOOKUPS:,} random keys one query at a time. SQLite and DuckDB run embedded on a file "
        "in the run directory; Postgres runs as a server when one is configured."
    )
    size_label = "rows"
    systems = ("sqlite", "duckdb", "postgres")
    scales = {
        "tiny": Scale("tiny", 10_000, {"rows": 10_000}),
        "small": Scale("small", 200_000, {"rows": 200_000}),
        "medium": Scale("medium", 2_000_000, {"rows": 2_000_000}),
        "large": Scale("large", 20_000_000, {"rows": 20_000_000}),
    }
    metrics = (
        Metric("ingest_rows_per_s", "rows/s", "higher", "Bulk ingest throughput"),
        Metric("ingest_s", "s", "lower", "Bulk ingest time (load + key + stats)"),
        Metric("lookups_per_s", "lookups/s", "higher", "Point lookups per second (one query each)"),
        Metric("lookup_p50_ms", "ms", "lower", "Point lookup latency, median"),
        Metric("lookup_p99_ms", "ms", "lower", "Point lookup latency, 99th percentile"),
        Metric("stored_mb", "MB", "lower", "Size on disk after load"),
        Metric("lookup_latency", "ms", "lower", "Point lookup latency (distribution)"),
    )
    data_formats = (".parquet", ".csv", ".jsonl")

    def unavailable(self, system: str) -> str | None:
        if system == "postgres":
            from minisys import config

            if not config.postgres_url():
                return f"no Postgres configured (set {config.POSTGRES_ENV} or run `minisys services up --postgres`)"
            # Configured but broken is the user's to fix: fail now, before any work.
            from minisys.baselines import postgres

            postgres.connect(connect_timeout=3).close()
        return None

    def data_scale(self, data: Path) -> Scale:
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(data).metadata.num_rows if data.suffix.lower() == ".parquet" else read_user_data(data).num_rows
        return Scale("data", rows, {"rows": rows, "file": str(data)})

    def prepare(self, scale: Scale, seed: int, data: Path | None, workdir: Path) -> dict[str, Any]:
        table = read_user_data(data) if data is not None else generate(scale.params["rows"], seed)
        key = "key" if "key" in table.column_names else table.column_names[0]
        rng = np.random.default_rng(seed + 1)
        picks = rng.integers(0, table.num_rows, size=min(LOOKUPS, max(1, table.num_rows)))
        lookup_keys = table.column(key).take(pa.array(picks)).to_pylist()
        return {"table": table, "key": key, "lookup_keys": lookup_keys}

    def run(self, system: str, workload: dict[str, Any], scale: Scale, workdir: Path) -> Outcome:
        from minisys import baselines

        table, key = workload["table"], workload["key"]
        name = f"minisys_kv_{os.getpid()}"
        mod = baselines.module(system)
        db = mod.connect() if system == "postgres" else mod.connect(workdir / f"kv.{system}")
        try:
            start = time.perf_counter()
            db.ingest(name, table, primary_key=key)
            ingest_s = time.perf_counter() - start
            sql = f"SELECT * FROM {name} WHERE {key} = ?"
            latencies = []
            for k in workload["lookup_keys"]:
                t0 = time.perf_counter()
                rows = db.query(sql, (k,))
                latencies.append((time.perf_counter() - t0) * 1000.0)
                if len(rows) != 1:
                    raise AssertionError(f"{system}: lookup of key {k!r} returned {len(rows)} rows")
            stored = self._stored_mb(system, db, name, workdir)
        finally:
            if system == "postgres":
                db.drop_table(name)
            db.close()
        lat = np.asarray(latencies)
        return Outcome(
            metrics={
                "ingest_rows_per_s": table.num_rows / ingest_s,
                "ingest_s": ingest_s,
                "lookups_per_s": len(lat) / (lat.sum() / 1000.0),
                "lookup_p50_ms": float(np.percentile(lat, 50)),
                "lookup_p99_ms": float(np.percentile(lat, 99)),
                "stored_mb": stored,
            },
            samples={"lookup_latency": latencies},
        )

    @staticmethod
    def _stored_mb(system: str, db: Any, table: str, workdir: Path) -> float:
        if system == "postgres":
            return db.query(f"SELECT pg_total_relation_size('{table}')")[0][0] / 1e6
        if system == "duckdb":
            db.execute("CHECKPOINT")
        else:
            db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return sum(p.stat().st_size for p in workdir.glob(f"kv.{system}*")) / 1e6

    def notes(self) -> list[str]:
        return [
            "SQLite: WAL, synchronous=NORMAL, INTEGER PRIMARY KEY (rowid). DuckDB: threads=2, "
            "PRIMARY KEY (ART index) added after the load. Postgres: binary COPY, PRIMARY KEY and "
            "ANALYZE after the load; `minisys services up` runs it with fsync off (a throwaway "
            "server), so its ingest is an upper bound.",
            "Peak RSS is the measuring client process; Postgres's own memory is in its server processes.",
        ]
