"""dremel-vs-duckdb: nested data, column by column (Dremel §7 Fig. 9) — minisys Dremel vs DuckDB vs records.

A Document-like nested dataset (the paper's Fig. 2 schema widened to 23
columns; or the user's JSON lines / Parquet via ``--data``) is stored once as
Parquet, once as a minisys Dremel table (striped columns, memory-mapped) and
once as JSON lines. Each system then answers the same questions: count the
values of 1, 2, 5, 10 and 20 fields (Fig. 9 reads random field subsets), a
within-record count (``COUNT(x) WITHIN RECORD``) and a GROUP BY. The
record-oriented baseline parses every whole record and walks it in Python —
the paper's record curves; DuckDB reads the Parquet file (``duckdb-parquet``)
or its own table (``duckdb``), two threads, the project's reference setting.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from minisys.errors import BadInput
from minisys.scenario import ExtraFigure, Metric, Outcome, Scale, Scenario

FIELDS = (1, 2, 5, 10, 20)


class DremelVsDuckDB(Scenario):
    name = "dremel-vs-duckdb"
    title = "Dremel Fig. 9: time vs fields read on nested data — minisys Dremel vs DuckDB vs whole records"
    description = __doc__.split("\n\n", 1)[1].replace("\n", " ")
    size_label = "records"
    systems = ("dremel", "duckdb-parquet", "duckdb", "records")
    scales = {
        "tiny": Scale("tiny", 2_000, {"records": 2_000}),
        "small": Scale("small", 10_000, {"records": 10_000}),
        "medium": Scale("medium", 1_000_000, {"records": 1_000_000}),
        "large": Scale("large", 10_000_000, {"records": 10_000_000}),
    }
    metrics = (
        Metric("fields_1_s", "s", "lower", "Count the values of 1 field"),
        Metric("fields_2_s", "s", "lower", "Count the values of 2 fields"),
        Metric("fields_5_s", "s", "lower", "Count the values of 5 fields"),
        Metric("fields_10_s", "s", "lower", "Count the values of 10 fields"),
        Metric("fields_20_s", "s", "lower", "Count the values of 20 fields"),
        Metric("within_record_s", "s", "lower", "COUNT(x) WITHIN RECORD for every record"),
        Metric("group_by_s", "s", "lower", "GROUP BY a top-level field with COUNT(*)"),
    )
    data_formats = (".parquet", ".jsonl", ".json")

    def system_version(self, system: str) -> str:
        if system.startswith("duckdb"):
            import duckdb

            return duckdb.__version__
        return super().system_version(system)

    def data_scale(self, data: Path) -> Scale:
        import duckdb

        n = duckdb.connect().execute(f"SELECT count(*) FROM {_reader(data)}").fetchone()[0]
        return Scale("data", n, {"records": n, "file": str(data)})

    def prepare(self, scale: Scale, seed: int, data: Path | None, workdir: Path) -> dict[str, Any]:
        import duckdb
        import pyarrow.parquet as pq

        from minisys.dremel.documents import DOCUMENT, generate
        from minisys.dremel.tablet import Table
        from minisys.dremel.workload import pick_fields

        workdir.mkdir(parents=True, exist_ok=True)
        parquet = workdir / "docs.parquet"
        con = duckdb.connect()
        if data is None:
            pq.write_table(generate(scale.params["records"], seed), parquet, row_group_size=250_000)
            schema_text: str | None = DOCUMENT
        else:
            con.execute(f"COPY (SELECT * FROM {_reader(data)}) TO '{parquet}' (FORMAT parquet)")
            schema_text = None
        table = Table.from_parquet(parquet, schema=schema_text, out=workdir / "dremel")
        jsonl = workdir / "docs.jsonl"
        con.execute(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{jsonl}' (FORMAT json)")
        return {"parquet": parquet, "table_dir": workdir / "dremel", "jsonl": jsonl,
                "fields": pick_fields(table.schema, seed), "schema": table.schema.to_text()}

    def run(self, system: str, workload: dict[str, Any], scale: Scale, workdir: Path) -> Outcome:
        from minisys.dremel.schema import Schema

        schema = Schema.parse(workload["schema"])
        runner = {"dremel": _Dremel, "duckdb-parquet": _DuckDB, "duckdb": _DuckDB, "records": _Records}[system]
        engine = runner(system, workload, schema)
        metrics: dict[str, float] = {}
        fields = workload["fields"]
        engine.counts(fields[:1])  # untimed: every system starts with its caches warm (OS pages included)
        for k in FIELDS:
            if k > len(fields):
                continue
            t0 = time.perf_counter()
            counts = engine.counts(fields[:k])
            metrics[f"fields_{k}_s"] = time.perf_counter() - t0
            if len(counts) != k:
                raise AssertionError(f"{system}: {len(counts)} counts for {k} fields")
        t0 = time.perf_counter()
        engine.within_record()
        metrics["within_record_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine.group_by()
        metrics["group_by_s"] = time.perf_counter() - t0
        return Outcome(metrics)

    def figures(self, run_dir: Path, out_dir: Path) -> list[ExtraFigure]:
        """The paper's Figure 9 shape: time against the number of fields read."""
        from minisys.dremel.figures import draw_fields_figure

        out = draw_fields_figure(run_dir, out_dir / "dremel_fig9_fields.png")
        return [ExtraFigure(out.name, "Time vs number of fields read (the paper's Figure 9)",
                            "Medians at the largest scale run: column stores pay per field touched; the record-oriented baseline pays for whole records every time.")]

    def notes(self) -> list[str]:
        return [
            "DuckDB runs with threads=2; minisys Dremel and the records baseline are single-threaded Python.",
            "Counts from every system are the same numbers (tests/dremel/test_vs_duckdb.py checks such queries).",
            "The records baseline parses JSON lines with the standard library: row storage without a codec.",
        ]


def _reader(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return f"read_parquet('{path}')"
    if suffix in (".json", ".jsonl", ".ndjson"):
        return f"read_json_auto('{path}')"
    raise BadInput(f"--data {path}: use .parquet, .jsonl or .json")


class _Dremel:
    def __init__(self, system: str, workload: dict[str, Any], schema: Any) -> None:
        from minisys.dremel.tablet import Table

        self.table = Table.open(workload["table_dir"])
        self.schema = schema
        # Initialise pyarrow's kernels (as DuckDB's connect initialises DuckDB); no data is read.
        Table.from_records("message W { required int64 x; }", [{"x": 1}]).query("SELECT x, COUNT(*) FROM t GROUP BY x")

    def counts(self, paths: list[str]) -> list[int]:
        from minisys.dremel.workload import dremel_counts_sql

        return list(self.table.query(dremel_counts_sql(paths)).records()[0].values())

    def within_record(self) -> int:
        from minisys.dremel.workload import within_record_sql

        sql = within_record_sql(self.schema)
        return len(self.table.query(sql[0]).to_arrow()) if sql else 0

    def group_by(self) -> int:
        from minisys.dremel.workload import group_key

        key = group_key(self.schema)
        return len(self.table.query(f"SELECT {key.path}, COUNT(*) FROM t GROUP BY {key.path}").records()) if key else 0


class _DuckDB:
    def __init__(self, system: str, workload: dict[str, Any], schema: Any) -> None:
        from minisys.baselines import duckdb as bd

        self.db = bd.connect(threads=2)
        self.schema = schema
        self.src = f"read_parquet('{workload['parquet']}')"
        if system == "duckdb":
            self.db.execute(f"CREATE TABLE docs AS SELECT * FROM {self.src}")
            self.src = "docs"

    def counts(self, paths: list[str]) -> list[int]:
        from minisys.dremel.workload import duckdb_counts_sql

        return list(self.db.query(duckdb_counts_sql(self.schema, paths, self.src))[0])

    def within_record(self) -> int:
        from minisys.dremel.workload import within_record_sql

        sql = within_record_sql(self.schema)
        return self.db.arrow(sql[1].format(src=self.src)).num_rows if sql else 0

    def group_by(self) -> int:
        from minisys.dremel.workload import group_key

        key = group_key(self.schema)
        return len(self.db.query(f'SELECT "{key.name}", count(*) FROM {self.src} GROUP BY 1')) if key else 0


class _Records:
    def __init__(self, system: str, workload: dict[str, Any], schema: Any) -> None:
        self.jsonl = workload["jsonl"]
        self.schema = schema

    def counts(self, paths: list[str]) -> list[int]:
        from minisys.dremel.workload import records_counts

        return records_counts(self.jsonl, self.schema, paths)

    def within_record(self) -> int:
        import json

        from minisys.dremel.workload import count_values, path_names, within_record_sql

        sql = within_record_sql(self.schema)
        if sql is None:
            return 0
        walk = path_names(self.schema, sql[2])
        first = self.schema.leaves[0].path.split(".")
        out = []
        with open(self.jsonl) as f:
            for line in f:
                rec = json.loads(line)
                key: Any = rec
                for name in first:
                    key = key.get(name) if isinstance(key, dict) else None
                out.append((key, count_values(rec, walk)))
        return len(out)

    def group_by(self) -> int:
        import json

        from minisys.dremel.workload import group_key

        key = group_key(self.schema)
        if key is None:
            return 0
        groups: dict[Any, int] = {}
        with open(self.jsonl) as f:
            for line in f:
                v = json.loads(line).get(key.name)
                groups[v] = groups.get(v, 0) + 1
        return len(groups)
