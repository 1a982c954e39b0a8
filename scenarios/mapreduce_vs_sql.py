"""mapreduce-vs-sql: "MapReduce was designed for Google's scale; on my data, is a
database better?" (MapReduce issue 3, DESIGN "comparisons are honest").

Three everyday jobs -- word count, an inverted index and a GROUP BY over an
access log -- on the same generated data (or the user's text via ``--data``),
by minisys MapReduce with 1 and 2 worker processes, one plain Python process,
SQLite, DuckDB, Postgres, Spark ``local[*]`` and mrjob's local runner. Each
system's time includes reading the input files (a database's load is part of
answering the question once). The crossover plot is time vs input size.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from minisys.errors import BadInput, MinisysError
from minisys.scenario import Metric, Outcome, Scale, Scenario

VOCAB = 200_000
PATHS = 5_000
MB = 1_000_000

#: Spark pays ~6 s to start a session in every (forked, isolated) run and mrjob's local runner
#: ~10 s per word count at tiny: together they would blow the suite's 60 s tiny+small budget,
#: so they run when this is set (Spark at every scale, mrjob at the small ones).
SLOW_ENV = "MINISYS_MAPREDUCE_SLOW_SYSTEMS"
#: mrjob's local runner moves well under 1 MB/s; it runs word count at the small scales only.
MRJOB_SCALES = ("tiny", "small")

MRJOB_WORDCOUNT = '''
from mrjob.job import MRJob

class MRWordCount(MRJob):
    def mapper(self, _, line):
        for word in line.split():
            yield word, 1

    def combiner(self, word, counts):
        yield word, sum(counts)

    def reducer(self, word, counts):
        yield word, sum(counts)

if __name__ == "__main__":
    MRWordCount.run()
'''


def generate_text(path: Path, nbytes: int, seed: int) -> None:
    """Zipf(1.1) words over a 200k vocabulary, ten to a line: natural-language-like."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i:x}" for i in range(VOCAB)], dtype=object)
    with open(path, "w") as f:
        written = 0
        while written < nbytes:
            ranks = rng.zipf(1.1, 200_000)
            words = vocab[ranks[ranks <= VOCAB] - 1]
            chunk = "\n".join(" ".join(words[i : i + 10]) for i in range(0, len(words) - 9, 10)) + "\n"
            f.write(chunk[: nbytes - written] if written + len(chunk) > nbytes else chunk)
            written += len(chunk)
    with open(path, "rb+") as f:  # end on a whole line
        data = f.read()
        f.seek(0)
        f.truncate(data.rfind(b"\n") + 1)
        f.write(data[: data.rfind(b"\n") + 1])


def generate_log(path: Path, nbytes: int, seed: int) -> None:
    """``ip method path status bytes latency_ms`` lines, Zipf-popular paths."""
    rng = np.random.default_rng(seed + 1)
    methods = np.array(["GET", "GET", "GET", "POST", "PUT"], dtype=object)
    with open(path, "w") as f:
        written = 0
        while written < nbytes:
            n = 50_000
            paths = np.minimum(rng.zipf(1.3, n), PATHS)
            ips = rng.integers(0, 1 << 16, n)
            status = rng.choice([200, 200, 200, 304, 404, 500], n)
            size = rng.integers(100, 50_000, n)
            latency = np.round(rng.lognormal(3.0, 1.0, n), 3)
            meth = methods[rng.integers(0, 5, n)]
            lines = [f"10.0.{ip >> 8}.{ip & 255} {m} /p/{p} {s} {b} {ms}\n"
                     for ip, m, p, s, b, ms in zip(ips, meth, paths, status, size, latency, strict=True)]
            chunk = "".join(lines)
            f.write(chunk)
            written += len(chunk)


class MapReduceVsSQL(Scenario):
    name = "mapreduce-vs-sql"
    title = "Word count, inverted index, log GROUP BY: MapReduce vs SQL engines vs one Python process"
    description = (
        "The same three jobs on the same files: word count and an inverted index over Zipf text, and a "
        "GROUP BY path over an access log (text half the size). minisys MapReduce runs the bundled jobs with "
        "its local runner (1 or 2 worker processes); SQLite, DuckDB and Postgres load the files and run one "
        "query each; 'python' is a single process with dicts; Spark runs DataFrame queries in local[*]; "
        "mrjob runs word count with its local runner. Times include reading the input."
    )
    size_label = "MB of text"
    systems = ("minisys-1", "minisys-2", "python", "sqlite", "duckdb", "postgres", "spark", "mrjob")
    scales = {
        "tiny": Scale("tiny", 0.25, {"text_mb": 0.25, "log_mb": 0.125}),
        "small": Scale("small", 1, {"text_mb": 1, "log_mb": 0.5}),
        "medium": Scale("medium", 64, {"text_mb": 64, "log_mb": 32}),
        "large": Scale("large", 1024, {"text_mb": 1024, "log_mb": 512}),
    }
    metrics = (
        Metric("wordcount_s", "s", "lower", "Word count"),
        Metric("inverted_index_s", "s", "lower", "Inverted index"),
        Metric("log_groupby_s", "s", "lower", "Log aggregation (GROUP BY path)"),
        Metric("wordcount_mb_per_s", "MB/s", "higher", "Word count throughput"),
    )
    data_formats = (".txt",)

    def unavailable(self, system: str) -> str | None:
        if system == "postgres":
            from minisys import config

            if not config.postgres_url():
                return f"no Postgres configured (set {config.POSTGRES_ENV} or run `minisys services up --postgres`)"
            from minisys.baselines import postgres

            postgres.connect(connect_timeout=3).close()
        if system in ("spark", "mrjob") and not os.environ.get(SLOW_ENV):
            return f"slow to start (Spark ~6 s a run, mrjob ~10 s at tiny); set {SLOW_ENV}=1 to include it"
        if system == "spark":
            try:
                import pyspark  # noqa: F401
            except ImportError:
                return "pyspark is not installed (pip install 'minisys[spark]')"
        if system == "mrjob":
            try:
                import mrjob  # noqa: F401
            except ImportError:
                return "mrjob is not installed (pip install mrjob)"
        return None

    def data_scale(self, data: Path) -> Scale:
        mb = data.stat().st_size / MB
        return Scale("data", mb, {"file": str(data), "text_mb": mb})

    def prepare(self, scale: Scale, seed: int, data: Path | None, workdir: Path) -> dict[str, Any]:
        workdir.mkdir(parents=True, exist_ok=True)
        if data is not None:
            if data.suffix.lower() != ".txt":
                raise BadInput(f"--data {data}: mapreduce-vs-sql takes a .txt file (word count, inverted index)")
            return {"text": data.resolve(), "log": None, "mb": data.stat().st_size / MB}
        text, log = workdir / "text.txt", workdir / "access.log"
        generate_text(text, int(scale.params["text_mb"] * MB), seed)
        generate_log(log, int(scale.params["log_mb"] * MB), seed)
        return {"text": text, "log": log, "mb": text.stat().st_size / MB}

    def run(self, system: str, workload: dict[str, Any], scale: Scale, workdir: Path) -> Outcome:
        workdir.mkdir(parents=True, exist_ok=True)
        if system == "mrjob" and scale.name not in MRJOB_SCALES:
            raise MinisysError(f"mrjob (well under 1 MB/s) runs at {', '.join(MRJOB_SCALES)} only")
        runner = getattr(self, "_" + system.replace("-", "_").split("_")[0])
        times: dict[str, float] = runner(system, workload, workdir)
        metrics = {f"{k}_s": v for k, v in times.items()}
        metrics["wordcount_mb_per_s"] = workload["mb"] / times["wordcount"]
        return Outcome(metrics)

    # --- the systems ------------------------------------------------------------------
    @staticmethod
    def _timed(fn: Any, *args: Any) -> float:
        start = time.perf_counter()
        fn(*args)
        return time.perf_counter() - start

    def _minisys(self, system: str, w: dict[str, Any], workdir: Path) -> dict[str, float]:
        from minisys.mapreduce import run

        workers = int(system.split("-")[1])
        ex = "minisys.mapreduce.examples"

        def job(spec: str, path: Path, out: str) -> None:
            run(spec, [path], workdir / out, runner="local", workers=workers, reduce_tasks=2 * workers,
                split_mb=max(1.0, w["mb"] / (4 * workers)))

        times = {"wordcount": self._timed(job, f"{ex}.wordcount:FastWordCount", w["text"], "wc"),
                 "inverted_index": self._timed(job, f"{ex}.inverted_index:InvertedIndex", w["text"], "ii")}
        if w["log"] is not None:
            times["log_groupby"] = self._timed(job, f"{ex}.logagg:LogAggregate", w["log"], "la")
        return times

    def _python(self, system: str, w: dict[str, Any], workdir: Path) -> dict[str, float]:
        def wordcount() -> None:
            counts: Counter[str] = Counter()
            with open(w["text"]) as f:
                for line in f:
                    counts.update(line.split())

        def inverted_index() -> None:
            index: defaultdict[str, set[int]] = defaultdict(set)
            with open(w["text"]) as f:
                for doc, line in enumerate(f):
                    for word in set(line.split()):
                        index[word].add(doc)
            {word: sorted(docs) for word, docs in index.items()}

        def log_groupby() -> None:
            agg: dict[str, list[float]] = {}
            with open(w["log"]) as f:
                for line in f:
                    _, _, path, _, nbytes, ms = line.split(" ")
                    a = agg.get(path)
                    if a is None:
                        agg[path] = [1, int(nbytes), float(ms)]
                    else:
                        a[0] += 1
                        a[1] += int(nbytes)
                        a[2] += float(ms)

        times = {"wordcount": self._timed(wordcount), "inverted_index": self._timed(inverted_index)}
        if w["log"] is not None:
            times["log_groupby"] = self._timed(log_groupby)
        return times

    def _sqlite(self, system: str, w: dict[str, Any], workdir: Path) -> dict[str, float]:
        from minisys.baselines import sqlite

        db = sqlite.connect(workdir / "db.sqlite")
        conn = db.conn
        # SQLite has no string split: the JSON-array trick turns a line into rows.
        words = "json_each('[\"' || replace(line, ' ', '\",\"') || '\"]') j"

        def load_text() -> None:
            conn.execute("CREATE TABLE IF NOT EXISTS lines (id INTEGER PRIMARY KEY, line TEXT)")
            conn.execute("DELETE FROM lines")
            with open(w["text"]) as f:
                conn.executemany("INSERT INTO lines VALUES (?, ?)", enumerate(line.rstrip("\n") for line in f))
            conn.commit()

        def wordcount() -> None:
            load_text()
            conn.execute(f"SELECT j.value, count(*) FROM lines, {words} GROUP BY j.value").fetchall()

        def inverted_index() -> None:
            load_text()
            conn.execute(f"SELECT j.value, group_concat(DISTINCT lines.id) FROM lines, {words} GROUP BY j.value").fetchall()

        def log_groupby() -> None:
            conn.execute("CREATE TABLE log (ip TEXT, method TEXT, path TEXT, status INT, bytes INT, ms REAL)")
            with open(w["log"], newline="") as f:
                conn.executemany("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?)", csv.reader(f, delimiter=" "))
            conn.commit()
            conn.execute("SELECT path, count(*), sum(bytes), avg(ms) FROM log GROUP BY path").fetchall()

        try:
            times = {"wordcount": self._timed(wordcount), "inverted_index": self._timed(inverted_index)}
            if w["log"] is not None:
                times["log_groupby"] = self._timed(log_groupby)
        finally:
            db.close()
        return times

    def _duckdb(self, system: str, w: dict[str, Any], workdir: Path) -> dict[str, float]:
        from minisys.baselines import duckdb

        db = duckdb.connect()
        lines = (f"read_csv('{w['text']}', columns={{'line': 'VARCHAR'}}, header=false, delim='\\x01', "
                 "quote='', escape='')")

        def wordcount() -> None:
            db.query(f"SELECT word, count(*) FROM (SELECT unnest(string_split(line, ' ')) AS word FROM {lines}) "
                     "WHERE word <> '' GROUP BY word")

        def inverted_index() -> None:
            db.query(f"SELECT word, list(DISTINCT id ORDER BY id) FROM (SELECT id, unnest(string_split(line, ' ')) "
                     f"AS word FROM (SELECT row_number() OVER () AS id, line FROM {lines})) WHERE word <> '' "
                     "GROUP BY word")

        def log_groupby() -> None:
            db.query(f"SELECT path, count(*), sum(bytes), avg(ms) FROM read_csv('{w['log']}', delim=' ', "
                     "header=false, columns={'ip': 'VARCHAR', 'method': 'VARCHAR', 'path': 'VARCHAR', "
                     "'status': 'INT', 'bytes': 'BIGINT', 'ms': 'DOUBLE'}) GROUP BY path")

        times = {"wordcount": self._timed(wordcount), "inverted_index": self._timed(inverted_index)}
        if w["log"] is not None:
            times["log_groupby"] = self._timed(log_groupby)
        db.close()
        return times

    def _postgres(self, system: str, w: dict[str, Any], workdir: Path) -> dict[str, float]:
        from minisys.baselines import postgres

        db = postgres.connect()
        table = f"minisys_mr_{os.getpid()}"

        def copy(sql: str, path: Path) -> None:
            with db.conn.cursor() as cur, cur.copy(sql) as cp, open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    cp.write(chunk)
            db.conn.commit()

        def load_text() -> None:
            db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute(f"CREATE UNLOGGED TABLE {table} (id bigint GENERATED ALWAYS AS IDENTITY, line text)")
            copy(f"COPY {table} (line) FROM STDIN (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')", w["text"])

        def wordcount() -> None:
            load_text()
            db.query(f"SELECT w, count(*) FROM {table}, string_to_table(line, ' ') AS w WHERE w <> '' GROUP BY w")

        def inverted_index() -> None:
            load_text()
            db.query(f"SELECT w, array_agg(DISTINCT id) FROM {table}, string_to_table(line, ' ') AS w "
                     "WHERE w <> '' GROUP BY w")

        def log_groupby() -> None:
            db.execute(f"DROP TABLE IF EXISTS {table}_log")
            db.execute(f"CREATE UNLOGGED TABLE {table}_log (ip text, method text, path text, status int, "
                       "bytes bigint, ms double precision)")
            copy(f"COPY {table}_log FROM STDIN (FORMAT csv, DELIMITER ' ')", w["log"])
            db.query(f"SELECT path, count(*), sum(bytes), avg(ms) FROM {table}_log GROUP BY path")

        try:
            times = {"wordcount": self._timed(wordcount), "inverted_index": self._timed(inverted_index)}
            if w["log"] is not None:
                times["log_groupby"] = self._timed(log_groupby)
        finally:
            db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute(f"DROP TABLE IF EXISTS {table}_log")
            db.close()
        return times

    def _spark(self, system: str, w: dict[str, Any], workdir: Path) -> dict[str, float]:
        from pyspark.sql import functions as F

        from minisys.baselines import spark as spark_baseline

        spark = spark_baseline.session("local[*]")

        def wordcount() -> None:
            df = spark.read.text(str(w["text"]))
            df.select(F.explode(F.split("value", " ")).alias("w")).where("w <> ''").groupBy("w").count().collect()

        def inverted_index() -> None:
            df = spark.read.text(str(w["text"])).withColumn("id", F.monotonically_increasing_id())
            (df.select("id", F.explode(F.split("value", " ")).alias("w")).where("w <> ''").groupBy("w")
             .agg(F.sort_array(F.collect_set("id"))).collect())

        def log_groupby() -> None:
            df = spark.read.csv(str(w["log"]), sep=" ",
                                schema="ip string, method string, path string, status int, bytes long, ms double")
            df.groupBy("path").agg(F.count("*"), F.sum("bytes"), F.avg("ms")).collect()

        times = {"wordcount": self._timed(wordcount), "inverted_index": self._timed(inverted_index)}
        if w["log"] is not None:
            times["log_groupby"] = self._timed(log_groupby)
        return times

    def _mrjob(self, system: str, w: dict[str, Any], workdir: Path) -> dict[str, float]:
        workdir = workdir.resolve()
        job = workdir / "mr_word_count.py"
        job.write_text(MRJOB_WORDCOUNT)
        cmd = [sys.executable, str(job), "-r", "local", "--no-conf", "--output-dir", str(workdir / "mrjob-out"),
               str(Path(w["text"]).resolve())]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise MinisysError(f"mrjob failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else '?'}")
        return {"wordcount": seconds}

    def notes(self) -> list[str]:
        return [
            "minisys: local runner, worker processes forked from the measuring process; FastWordCount "
            "(in-mapper combining), InvertedIndex and LogAggregate from minisys.mapreduce.examples; R = 2 x workers; "
            "output written to part files. Peak RSS is the measuring process (the master); workers' RSS is in "
            "benchmarks/mapreduce_wordcount.py.",
            "SQLite: text loaded with executemany, words split with the json_each trick (SQLite has no split "
            "function). DuckDB: read_csv + string_split/unnest, threads=2. Postgres: COPY into an UNLOGGED table, "
            "string_to_table; the throwaway server runs with fsync off.",
            f"Spark (local[*], DataFrame API) and mrjob (local runner, with combiner, word count only, at "
            f"{', '.join(MRJOB_SCALES)}) run when {SLOW_ENV}=1: their start-up (Spark ~6 s per isolated run, "
            "mrjob ~10 s) would blow the suite's time budget at tiny/small.",
        ]
