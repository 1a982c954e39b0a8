"""SQLite, the embedded default: the database most small systems actually use.

Files run in WAL mode with ``synchronous=NORMAL`` — SQLite's recommended
setting for WAL (durable across application crashes, one fsync per
checkpoint) — so its numbers are those of a normal deployment, not of a
benchmark special.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pyarrow as pa

from minisys.baselines.sql import SQLDatabase, check_identifier, create_table_sql, iter_rows


def version() -> str:
    return sqlite3.sqlite_version


class SQLiteDB(SQLDatabase):
    name = "sqlite"
    dialect = "sqlite"

    @property
    def version(self) -> str:
        return sqlite3.sqlite_version

    def ingest(self, table: str, data: pa.Table, primary_key: str | None = None) -> int:
        """Load ``data`` in one transaction with ``executemany``.

        An integer primary key becomes SQLite's rowid (``INTEGER PRIMARY KEY``,
        a clustered B-tree, the fastest key SQLite has); any other key gets a
        unique index after the load.
        """
        ddl = create_table_sql(table, data.schema, self.dialect, primary_key)
        rowid_key = primary_key is not None and pa.types.is_integer(data.schema.field(primary_key).type)
        if rowid_key:
            ddl = ddl.replace(f"{primary_key} INTEGER", f"{primary_key} INTEGER PRIMARY KEY", 1)
        marks = ", ".join("?" * len(data.schema))
        with self.conn:
            self.conn.execute(ddl)
            self.conn.executemany(f"INSERT INTO {table} VALUES ({marks})", iter_rows(data))
            if primary_key is not None and not rowid_key:
                self.add_primary_key(table, primary_key)
        return data.num_rows

    def add_primary_key(self, table: str, column: str) -> None:
        # SQLite has no ALTER TABLE ... ADD PRIMARY KEY; a unique index is its equivalent.
        check_identifier(table)
        check_identifier(column, "column")
        self.conn.execute(f"CREATE UNIQUE INDEX {table}_{column}_pk ON {table} ({column})")

    def query(self, sql: str, params=()) -> list[tuple]:
        return self.conn.execute(sql, tuple(params)).fetchall()


def connect(path: str | Path = ":memory:") -> SQLiteDB:
    """Open (or create) a SQLite database; ``:memory:`` for a throwaway one."""
    conn = sqlite3.connect(str(path))
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    return SQLiteDB(conn)
