"""DuckDB, the embedded analytical default.

Threads are set explicitly (default 2, this project's reference machine) so
runs are comparable across machines; ingest is an Arrow scan, DuckDB's fastest
path from Python.
"""

from __future__ import annotations

from pathlib import Path

import duckdb as _duckdb
import pyarrow as pa

from minisys.baselines.sql import SQLDatabase, create_table_sql


def version() -> str:
    return _duckdb.__version__


class DuckDB(SQLDatabase):
    name = "duckdb"
    dialect = "duckdb"

    @property
    def version(self) -> str:
        return _duckdb.__version__

    def ingest(self, table: str, data: pa.Table, primary_key: str | None = None) -> int:
        """Create ``table`` and fill it from the Arrow table, then add the key."""
        self.conn.execute(create_table_sql(table, data.schema, self.dialect, primary_key))
        self.conn.register("_minisys_ingest", data)
        try:
            self.conn.execute(f"INSERT INTO {table} SELECT * FROM _minisys_ingest")
        finally:
            self.conn.unregister("_minisys_ingest")
        if primary_key is not None:
            self.add_primary_key(table, primary_key)
        return data.num_rows

    def execute(self, sql: str, params=()) -> None:
        self.conn.execute(sql, list(params))

    def query(self, sql: str, params=()) -> list[tuple]:
        return self.conn.execute(sql, list(params)).fetchall()

    def arrow(self, sql: str) -> pa.Table:
        """A query's result as an Arrow table (DuckDB 2.x: relations, not execute results)."""
        return self.conn.sql(sql).to_arrow_table()


def connect(path: str | Path = ":memory:", threads: int = 2) -> DuckDB:
    conn = _duckdb.connect(str(path))
    conn.execute(f"SET threads = {int(threads)}")
    return DuckDB(conn)
