"""SQLite as a consistency target: one file, one connection per client process.

SQLite serialises writers with a database lock and, in WAL mode, gives
every read the latest committed snapshot, so a single file should be
linearizable — which the register workload checks rather than assumes.
Writes and compare-and-set run in ``BEGIN IMMEDIATE`` transactions (the
write lock is taken up front); "database is locked" after the busy timeout
means the transaction never started, a definite failure.

``stale_cache=True`` is a deliberately broken client, the negative control
for real stores: it remembers the last value it read or wrote per key and
answers later reads from that memory — the read-through cache bug — so
other clients' writes become invisible to it and the history is not
linearizable.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from minisys.consistency.adapters.base import Client, Failed, SyncStore

BUSY_TIMEOUT_MS = 10_000


def _load(raw: str | None) -> Any:
    if raw is None:
        return None
    v = json.loads(raw)
    return tuple(v) if isinstance(v, list) else v


class SQLiteClient(Client):
    def __init__(self, path: Path, stale_cache: bool) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.cache: dict[str, Any] | None = {} if stale_cache else None

    def read(self, key: str) -> Any:
        if self.cache is not None and key in self.cache:
            return self.cache[key]  # BUG on purpose: never invalidated
        row = self.conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        value = _load(row[0]) if row else None
        if self.cache is not None:
            self.cache[key] = value
        return value

    def _txn(self, key: str, update: Any) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise Failed(str(exc)) from None
        try:
            row = self.conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            new = update(_load(row[0]) if row else None)
            self.conn.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                              (key, json.dumps(list(new) if isinstance(new, tuple) else new)))
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        if self.cache is not None:
            self.cache[key] = new

    def write(self, key: str, value: Any) -> None:
        self._txn(key, lambda _old: value)

    def cas(self, key: str, old: Any, new: Any) -> None:
        def swap(current: Any) -> Any:
            if current != old:
                raise Failed(f"cas {key}: expected {old!r}, found {current!r}")
            return new

        self._txn(key, swap)

    def append(self, key: str, value: Any) -> None:
        self._txn(key, lambda cur: (cur or ()) + (value,))

    def add(self, key: str, element: Any) -> None:
        self.append(key, element)

    def close(self) -> None:
        self.conn.close()


class SQLiteStore(SyncStore):
    functions = ("read", "write", "cas", "append", "add")

    def __init__(self, path: str | Path | None = None, stale_cache: bool = False) -> None:
        self.name = "sqlite-stale-cache" if stale_cache else "sqlite"
        self.stale_cache = stale_cache
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.path = Path(path) if path else None

    def open(self) -> None:
        if self.path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="minisys-consistency-")
            self.path = Path(self._tmp.name) / "kv.sqlite"
        with sqlite3.connect(self.path) as conn:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT)")

    def client(self, process: int) -> Client:
        assert self.path is not None, "open() first"
        return SQLiteClient(self.path, self.stale_cache)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp, self.path = None, None

    def version(self) -> str:
        return sqlite3.sqlite_version
