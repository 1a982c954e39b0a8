"""Postgres as a consistency target, through SQLAlchemy, SERIALIZABLE.

Each client process holds its own connection from
:func:`minisys.baselines.postgres.engine` and runs every operation as one
``SERIALIZABLE`` transaction (Postgres's Serializable Snapshot Isolation,
Ports & Grittner, VLDB 2012). A serialization failure rolls the
transaction back, so it is a definite ``fail``; a connection lost around
``COMMIT`` is ``info`` — the commit may have happened. Every run uses a
fresh table, dropped afterwards.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from minisys.consistency.adapters.base import Client, Failed, Indefinite, SyncStore


def _load(raw: str | None) -> Any:
    if raw is None:
        return None
    v = json.loads(raw)
    return tuple(v) if isinstance(v, list) else v


class PostgresClient(Client):
    def __init__(self, engine: Any, table: str) -> None:
        self.conn = engine.connect()
        self.table = table

    def _run(self, fn: Any) -> Any:
        from sqlalchemy import exc

        try:
            with self.conn.begin():
                return fn()
        except Failed:
            raise
        except exc.OperationalError as e:
            code = getattr(getattr(e, "orig", None), "sqlstate", None)
            if code in ("40001", "40P01"):  # serialization failure, deadlock: rolled back
                raise Failed(code) from None
            if self.conn.invalidated or self.conn.closed:
                raise Indefinite(str(e).splitlines()[0]) from None
            raise Failed(str(e).splitlines()[0]) from None
        except exc.DBAPIError as e:
            code = getattr(getattr(e, "orig", None), "sqlstate", None)
            if code in ("40001", "40P01"):
                raise Failed(code) from None
            raise Indefinite(str(e).splitlines()[0]) from None

    def _get(self, key: str) -> Any:
        from sqlalchemy import text

        row = self.conn.execute(text(f"SELECT value FROM {self.table} WHERE key = :k"), {"k": key}).fetchone()
        return _load(row[0]) if row else None

    def _put(self, key: str, value: Any) -> None:
        from sqlalchemy import text

        self.conn.execute(
            text(f"INSERT INTO {self.table} (key, value) VALUES (:k, :v) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
            {"k": key, "v": json.dumps(list(value) if isinstance(value, tuple) else value)},
        )

    def read(self, key: str) -> Any:
        return self._run(lambda: self._get(key))

    def write(self, key: str, value: Any) -> None:
        self._run(lambda: self._put(key, value))

    def cas(self, key: str, old: Any, new: Any) -> None:
        def swap() -> None:
            current = self._get(key)
            if current != old:
                raise Failed(f"cas {key}: expected {old!r}, found {current!r}")
            self._put(key, new)

        self._run(swap)

    def append(self, key: str, value: Any) -> None:
        self._run(lambda: self._put(key, (self._get(key) or ()) + (value,)))

    def add(self, key: str, element: Any) -> None:
        self.append(key, element)

    def close(self) -> None:
        self.conn.close()


class PostgresStore(SyncStore):
    name = "postgres"
    functions = ("read", "write", "cas", "append", "add")

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self.table = f"consistency_{uuid.uuid4().hex[:12]}"
        self.engine: Any = None

    def open(self) -> None:
        from sqlalchemy import exc, text

        from minisys.baselines import postgres
        from minisys.errors import ServiceUnavailable

        self.engine = postgres.engine(self.url, isolation_level="SERIALIZABLE", pool_size=16, max_overflow=4)
        try:
            with self.engine.begin() as conn:
                conn.execute(text(f"CREATE TABLE {self.table} (key TEXT PRIMARY KEY, value TEXT)"))
        except exc.OperationalError as e:
            self.engine.dispose()
            self.engine = None
            reason = str(e.orig).strip().splitlines()[0] if e.orig else type(e).__name__
            raise ServiceUnavailable(f"cannot reach Postgres at {postgres.url(self.url)}: {reason}") from None

    def client(self, process: int) -> Client:
        return PostgresClient(self.engine, self.table)

    def close(self) -> None:
        if self.engine is not None:
            from sqlalchemy import text

            with self.engine.begin() as conn:
                conn.execute(text(f"DROP TABLE IF EXISTS {self.table}"))
            self.engine.dispose()
            self.engine = None

    def version(self) -> str:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return str(conn.execute(text("SHOW server_version")).scalar())
