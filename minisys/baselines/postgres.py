"""Postgres, the server most teams would pick instead of a paper's system.

Connects with psycopg 3 (one driver for the sync harness; SQLAlchemy engines
for code that wants them) to the URL from ``MINISYS_POSTGRES_URL`` or the one
``minisys services up`` recorded. Ingest is binary ``COPY`` with the key added
afterwards — the path Postgres's "Populating a Database" guide recommends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from minisys import config
from minisys.baselines.sql import SQLDatabase, create_table_sql, iter_rows, sql_type
from minisys.errors import ServiceUnavailable

_QMARK = re.compile(r"\?")


def _to_pyformat(sql: str) -> str:
    """Scenarios write ``?`` placeholders; psycopg wants ``%s`` (and ``%`` escaped)."""
    return _QMARK.sub("%s", sql.replace("%", "%%"))


def url(explicit: str | None = None) -> str:
    """The Postgres URL to use, or a one-line error saying how to get one."""
    found = explicit or config.postgres_url()
    if not found:
        raise ServiceUnavailable(
            f"no Postgres configured: set {config.POSTGRES_ENV} or run `minisys services up --postgres`"
        )
    return found


def _libpq_url(sqlalchemy_url: str) -> str:
    """Accept SQLAlchemy-style ``postgresql+driver://`` URLs as well as libpq ones."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", sqlalchemy_url)


def sqlalchemy_url(explicit: str | None = None, driver: str = "psycopg") -> str:
    """The configured URL in SQLAlchemy form, e.g. ``postgresql+psycopg://...``."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", f"postgresql+{driver}://", url(explicit))


def engine(explicit: str | None = None, **kwargs: Any):
    """A SQLAlchemy engine on the configured server (psycopg 3 driver)."""
    from sqlalchemy import create_engine

    return create_engine(sqlalchemy_url(explicit), **kwargs)


class PostgresDB(SQLDatabase):
    name = "postgres"
    dialect = "postgres"

    @property
    def version(self) -> str:
        return self.query("SHOW server_version")[0][0]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.conn.cursor() as cur:
            cur.execute(_to_pyformat(sql) if params else sql, tuple(params) or None)
        self.conn.commit()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(_to_pyformat(sql) if params else sql, tuple(params) or None, prepare=True)
            rows = cur.fetchall()
        self.conn.rollback()  # end the read transaction; nothing to keep open between calls
        return rows

    def ingest(self, table: str, data: pa.Table, primary_key: str | None = None) -> int:
        """``CREATE TABLE``, binary ``COPY``, then the primary key and ``ANALYZE``."""
        types = [sql_type(f.type, self.dialect).lower() for f in data.schema]
        with self.conn.cursor() as cur:
            cur.execute(create_table_sql(table, data.schema, self.dialect, primary_key))
            cols = ", ".join(data.schema.names)
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in iter_rows(data):
                    copy.write_row(row)
        self.conn.commit()
        if primary_key is not None:
            self.add_primary_key(table, primary_key)
        self.execute(f"ANALYZE {table}")
        return data.num_rows

    def drop_table(self, table: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {table}")


def connect(explicit_url: str | None = None, connect_timeout: float = 5.0) -> PostgresDB:
    """Connect to the configured Postgres, or fail with one line naming the URL."""
    try:
        import psycopg
    except ImportError:
        raise ServiceUnavailable("psycopg is not installed: pip install 'minisys[postgres]'") from None

    target = url(explicit_url)
    try:
        conn = psycopg.connect(_libpq_url(target), connect_timeout=max(1, int(connect_timeout)))
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ServiceUnavailable(f"cannot reach Postgres at {target}: {reason}") from None
    return PostgresDB(conn)


def version(explicit_url: str | None = None) -> str:
    """The server's version (``SHOW server_version``); needs a reachable server."""
    with connect(explicit_url) as db:
        return db.version
