"""One client harness for Dynamo, Postgres and SQLite: the same mixed get/put load on each.

Used by the ``dynamo-vs-postgres`` scenario and ``benchmarks/dynamo_kv.py``.
``concurrency`` workers share one asyncio loop and issue ``ops`` operations,
half gets and half puts, on ``keys`` keys; every operation's latency is kept.
Each adapter is the store's natural client: the Dynamo HTTP client (puts
carry the context of the worker's last read of that key, as Dynamo clients
do), a pooled SQLAlchemy engine (psycopg 3) in worker threads for Postgres, and sqlite3 in a
worker thread for SQLite (WAL, ``synchronous=FULL`` -- durable like the
Dynamo engine).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class MixResult:
    get_ms: list[float] = field(default_factory=list)
    put_ms: list[float] = field(default_factory=list)
    failed_puts: int = 0
    ok_puts: int = 0
    seconds: float = 0.0

    @property
    def ops(self) -> int:
        return len(self.get_ms) + len(self.put_ms)


class DynamoKV:
    name = "dynamo"

    def __init__(self, urls: list[str], routing: str = "server", seed: int = 0) -> None:
        from minisys.dynamo.client import Client

        self.client = Client(urls, routing=routing, timeout=5.0, seed=seed)
        self.contexts: dict[str, str] = {}

    async def setup(self) -> None:
        pass

    async def get(self, key: str) -> None:
        got = await self.client.get(key)
        self.contexts[key] = got.context

    async def put(self, key: str, value: str) -> None:
        res = await self.client.put(key, value, self.contexts.get(key, ""))
        self.contexts[key] = res.context

    async def close(self) -> None:
        await self.client.close()


class PostgresKV:
    """Postgres through a SQLAlchemy engine (psycopg 3), one pooled connection per worker thread."""

    name = "postgres"

    def __init__(self, url: str, table: str, pool: int = 8) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(url, pool_size=pool, max_overflow=0, pool_timeout=5,
                                    connect_args={"connect_timeout": 3})
        self.table = table

    def _run(self, sql: str, params: dict[str, Any] | None = None) -> None:
        from sqlalchemy import text

        with self.engine.begin() as conn:
            conn.execute(text(sql), params or {})

    async def setup(self) -> None:
        await asyncio.to_thread(self._run, f"DROP TABLE IF EXISTS {self.table}")
        await asyncio.to_thread(self._run, f"CREATE TABLE {self.table} (k TEXT PRIMARY KEY, v TEXT NOT NULL)")

    async def get(self, key: str) -> None:
        await asyncio.to_thread(self._run, f"SELECT v FROM {self.table} WHERE k = :k", {"k": key})

    async def put(self, key: str, value: str) -> None:
        await asyncio.to_thread(self._run, f"INSERT INTO {self.table} (k, v) VALUES (:k, :v) "
                                "ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v", {"k": key, "v": value})

    async def drop(self) -> None:
        await asyncio.to_thread(self._run, f"DROP TABLE IF EXISTS {self.table}")

    async def close(self) -> None:
        await asyncio.to_thread(self.engine.dispose)


class SqliteKV:
    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.lock = asyncio.Lock()

    async def setup(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")

    async def get(self, key: str) -> None:
        async with self.lock:  # one connection: serialise, as an embedded store would be used
            await asyncio.to_thread(lambda: self.db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchall())

    async def put(self, key: str, value: str) -> None:
        async with self.lock:
            await asyncio.to_thread(self.db.execute, "INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value))

    async def close(self) -> None:
        self.db.close()


async def mixed(store: Any, *, ops: int, keys: int, concurrency: int = 8, seed: int = 0,
                value_bytes: int = 100) -> MixResult:
    """``ops`` operations, 50/50 get/put, over ``keys`` keys, from ``concurrency`` workers."""
    rng = random.Random(seed)
    result = MixResult()
    plan = [(rng.random() < 0.5, f"key{rng.randrange(keys)}") for _ in range(ops)]
    value = "x" * value_bytes
    queue = iter(plan)

    async def worker() -> None:
        for is_get, key in queue:
            t0 = time.perf_counter()
            if is_get:
                await store.get(key)
                result.get_ms.append((time.perf_counter() - t0) * 1000)
            else:
                await store.put(key, value)
                result.put_ms.append((time.perf_counter() - t0) * 1000)
                result.ok_puts += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - start
    return result


async def writes_during_fault(store: Any, *, writes: int, keys: int, concurrency: int = 8) -> tuple[int, int]:
    """Try ``writes`` puts (while the harness holds a fault in place): (succeeded, failed)."""
    ok = failed = 0
    queue = iter(range(writes))

    async def worker() -> None:
        nonlocal ok, failed
        for i in queue:
            try:
                await asyncio.wait_for(store.put(f"key{i % keys}", "during-fault"), 5.0)
                ok += 1
            except Exception:  # noqa: BLE001 -- any failure of a write counts against availability
                failed += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, failed


class TcpCut:
    """A loopback TCP proxy the harness can cut: the partition between a client and a server."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server: asyncio.AbstractServer | None = None
        self.port = 0
        self.cut = False
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers += [writer, up_w]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if self.cut:
                        break
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        try:
            await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
        except asyncio.CancelledError:
            # Shutting the proxy down cancels its connection tasks; on 3.11 a
            # cancelled start_server callback is logged as an error unless it
            # ends normally, which would spray tracebacks over a scenario run.
            return

    def partition(self) -> None:
        self.cut = True
        for w in self._writers:
            w.close()
        self._writers.clear()

    async def close(self) -> None:
        self.partition()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
