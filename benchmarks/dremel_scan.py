"""Dremel benchmark: striping, scan-filter-aggregate, 1-of-20 fields, memory on a >1 GB table.

Every figure is printed next to the real system's figure measured in the same
run, as a ratio:

1. striping throughput (records/s): the paper's algorithm (``stripe``, App. A)
   on Python dicts, next to pyarrow building the same nested table from the
   same dicts (``pa.Table.from_pylist``); plus numpy striping from Arrow;
2. a scan-filter-aggregate over >= 10 million values, minisys Dremel (on-disk
   tablets, memory-mapped) next to DuckDB (its own table) at threads=1 and 2;
3. reading 1 of 20 fields: Dremel next to the record-oriented baseline (parse
   every JSON record, then walk it) and next to full FSM assembly;
4. peak RSS of a process querying a table larger than 1 GB on disk.

    .venv/bin/python benchmarks/dremel_scan.py            # full run (~2-4 minutes)
    .venv/bin/python benchmarks/dremel_scan.py --quick    # smaller sizes, smoke test
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from minisys.dremel.assembly import assemble
from minisys.dremel.documents import DOCUMENT, generate
from minisys.dremel.schema import Schema
from minisys.dremel.striping import stripe, stripe_arrow
from minisys.dremel.tablet import Table, Tablet, TableWriter
from minisys.dremel.workload import records_counts


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def striping(n: int) -> None:
    schema = Schema.parse(DOCUMENT)
    data = generate(n, seed=1)
    records = Table.from_arrow(data, schema).records()  # canonical dicts (empty lists omitted)
    arrow_schema = schema.to_arrow()
    ours = best(lambda: stripe(schema, records), 2)
    theirs = best(lambda: pa.Table.from_pylist(records, schema=arrow_schema), 2)
    vec = best(lambda: stripe_arrow(schema, data), 3)
    print(f"1. striping {n:,} Document records (23 columns)")
    print(f"   minisys stripe() from dicts   {n / ours:12,.0f} records/s")
    print(f"   pyarrow from_pylist           {n / theirs:12,.0f} records/s   ratio pyarrow/minisys = {ours / theirs:.2f}x")
    print(f"   minisys stripe_arrow()        {n / vec:12,.0f} records/s   (numpy over Arrow offsets)")


def scan_filter_aggregate(n: int, workdir: Path) -> None:
    rng = np.random.default_rng(2)
    data = pa.table({"Year": rng.integers(1995, 2011, n), "Clicks": rng.integers(0, 1000, n),
                     "Score": rng.random(n)})
    table = Table.from_arrow(data, "message Hits { required int64 Year; required int64 Clicks; required double Score; }",
                             tablet_records=1_000_000).save(workdir / "hits")
    sql = "SELECT Year, SUM(Clicks), COUNT(*) FROM t WHERE Score > 0.5 GROUP BY Year"
    ours = best(lambda: table.query(sql), 3)
    print(f"2. scan-filter-aggregate over {n:,} records ({3 * n:,} values): {sql}")
    print(f"   minisys Dremel (mmap tablets) {ours:8.3f} s")
    for threads in (1, 2):
        con = duckdb.connect()
        con.execute(f"SET threads = {threads}")
        con.register("src", data)
        con.execute("CREATE TABLE t AS SELECT * FROM src")
        duck_sql = sql.replace("COUNT(*)", "count(*)")
        theirs = best(lambda c=con, q=duck_sql: c.execute(q).fetchall(), 3)
        print(f"   DuckDB threads={threads}             {theirs:8.3f} s   ratio minisys/DuckDB = {ours / theirs:.2f}x")
        con.close()


def one_of_twenty(n: int, workdir: Path) -> None:
    data = generate(n, seed=3)
    table = Table.from_arrow(data, DOCUMENT, tablet_records=100_000).save(workdir / "docs")
    jsonl = workdir / "docs.jsonl"
    con = duckdb.connect()
    con.register("src", data)
    con.execute(f"COPY (SELECT * FROM src) TO '{jsonl}' (FORMAT json)")
    ours = best(lambda: table.query("SELECT SUM(Clicks) FROM t"), 3)
    rec = best(lambda: records_counts(jsonl, table.schema, ["Clicks"]), 1)
    small = Table.from_arrow(data.slice(0, n // 100), DOCUMENT)
    asm = best(lambda: [sum(r.get("Clicks") or 0 for r in assemble(small.schema, {
        p: t.column(p) for p in small.schema.columns})) for t in small.tablets], 1) * 100
    print(f"3. reading 1 of 23 fields (SUM(Clicks)) over {n:,} Document records")
    print(f"   minisys Dremel                {ours:8.3f} s")
    print(f"   records (parse JSON, walk)    {rec:8.3f} s   ratio records/minisys = {rec / ours:.0f}x")
    print(f"   assemble all fields via FSM   {asm:8.3f} s   (measured on {n // 100:,}, x100)   ratio = {asm / ours:.0f}x")


def _query_child(path: str, sql: str, out: mp.Queue) -> None:
    table = Table.open(path)
    t0 = time.perf_counter()
    rows = table.query(sql).records()
    out.put((time.perf_counter() - t0, _vm_hwm_mb(), rows))


def _vm_hwm_mb() -> float:
    """This process's peak RSS (VmHWM). ru_maxrss would include the parent's peak: Linux
    carries it across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def big_table_memory(records: int, columns: int, workdir: Path) -> None:
    schema = Schema.parse("message Wide { " + " ".join(f"required int64 c{i};" for i in range(columns)) + " }")
    writer = TableWriter(workdir / "wide", schema)
    per = 1_000_000
    rng = np.random.default_rng(4)
    for start in range(0, records, per):
        k = min(per, records - start)
        batch = pa.table({f"c{i}": rng.integers(0, 1000, k) for i in range(columns)})
        writer.add(Tablet(schema, k, stripe_arrow(schema, batch)))
    table = writer.close()
    size = sum(p.stat().st_size for p in (workdir / "wide").rglob("*") if p.is_file())
    sql = "SELECT c0, SUM(c1), COUNT(*) FROM t WHERE c2 > 500 GROUP BY c0 ORDER BY c0 LIMIT 3"
    ctx = mp.get_context("spawn")  # a fresh interpreter: its peak RSS is the query's own
    q: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_query_child, args=(str(table.directory), sql, q))
    proc.start()
    seconds, rss, rows = q.get()
    proc.join()
    print(f"4. peak RSS querying a {size / 1e9:.2f} GB table ({records:,} records x {columns} columns)")
    print(f"   {sql}")
    print(f"   query {seconds:.2f} s, peak RSS of the querying process {rss:.0f} MB (target <= 300 MB); {rows[0]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dremel-bench-"))
    try:
        striping(5_000 if args.quick else 50_000)
        scan_filter_aggregate(1_000_000 if args.quick else 10_000_000, workdir)
        one_of_twenty(20_000 if args.quick else 200_000, workdir)
        big_table_memory(2_000_000 if args.quick else 9_000_000, 16, workdir)
        print(f"peak RSS of this benchmark process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
