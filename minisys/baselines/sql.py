"""The one shape every SQL baseline has: ingest an Arrow table, run a query.

Scenarios hand every system the same ``pyarrow.Table`` and the same SQL (with
``?`` placeholders), so differences in the numbers come from the systems, not
from the harness. Each adapter overrides :meth:`SQLDatabase.ingest` with that
system's fastest documented bulk path (SQLite: one transaction of
``executemany``; DuckDB: an Arrow scan; Postgres: binary ``COPY``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from minisys.errors import BadInput

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_identifier(name: str, what: str = "table") -> str:
    """Table and column names go into SQL text, so accept plain identifiers only."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise BadInput(f"{what} name {name!r} is not a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*)")
    return name


def sql_type(arrow_type: pa.DataType, dialect: str) -> str:
    """Map an Arrow column type to the closest native type of ``dialect``."""
    t = arrow_type
    if pa.types.is_boolean(t):
        return {"sqlite": "INTEGER", "duckdb": "BOOLEAN", "postgres": "BOOLEAN"}[dialect]
    if pa.types.is_integer(t):
        return {"sqlite": "INTEGER", "duckdb": "BIGINT", "postgres": "BIGINT"}[dialect]
    if pa.types.is_floating(t):
        return {"sqlite": "REAL", "duckdb": "DOUBLE", "postgres": "DOUBLE PRECISION"}[dialect]
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return {"sqlite": "TEXT", "duckdb": "VARCHAR", "postgres": "TEXT"}[dialect]
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return {"sqlite": "BLOB", "duckdb": "BLOB", "postgres": "BYTEA"}[dialect]
    if pa.types.is_timestamp(t):
        return {"sqlite": "TEXT", "duckdb": "TIMESTAMP", "postgres": "TIMESTAMP"}[dialect]
    if pa.types.is_date(t):
        return {"sqlite": "TEXT", "duckdb": "DATE", "postgres": "DATE"}[dialect]
    raise BadInput(f"column type {t} has no {dialect} equivalent in minisys.baselines")


def create_table_sql(table: str, schema: pa.Schema, dialect: str, primary_key: str | None) -> str:
    check_identifier(table)
    cols = []
    for field in schema:
        check_identifier(field.name, "column")
        cols.append(f"{field.name} {sql_type(field.type, dialect)}")
    if primary_key is not None:
        if primary_key not in schema.names:
            raise BadInput(f"primary key {primary_key!r} is not a column of {table} ({', '.join(schema.names)})")
    return f"CREATE TABLE {table} ({', '.join(cols)})"


def iter_rows(data: pa.Table, batch_rows: int = 65_536) -> Iterator[tuple]:
    """Rows of ``data`` as tuples, converted one batch at a time (bounded memory)."""
    for batch in data.to_batches(max_chunksize=batch_rows):
        columns = [col.to_pylist() for col in batch.columns]
        yield from zip(*columns, strict=True)


class SQLDatabase:
    """A connection to one real SQL system, with the scenario-facing operations."""

    name: str = "sql"
    dialect: str = "sqlite"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    @property
    def version(self) -> str:  # pragma: no cover - every adapter overrides
        raise NotImplementedError

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        cur = self.conn.cursor()
        cur.execute(sql, tuple(params))
        cur.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run ``sql`` (``?`` placeholders) and return every row as a tuple."""
        cur = self.conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    def ingest(self, table: str, data: pa.Table, primary_key: str | None = None) -> int:
        raise NotImplementedError  # pragma: no cover - every adapter overrides

    def add_primary_key(self, table: str, column: str) -> None:
        """Built after the load, as each system's bulk-load guide advises."""
        check_identifier(table)
        check_identifier(column, "column")
        self.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({column})")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SQLDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
