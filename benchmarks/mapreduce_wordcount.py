"""Word count throughput: minisys MapReduce vs DuckDB vs one Python process.

    python benchmarks/mapreduce_wordcount.py            # 200 MB of generated Zipf text
    python benchmarks/mapreduce_wordcount.py --mb 1024  # the 1 GB memory check

Every system runs in its own fresh process on the same file, in the same
run; each prints its wall time and peak RSS (for minisys: the master and
every worker process). Figures: MB/s, the ratio to DuckDB and to a
single-process ``collections.Counter``, and parallel efficiency of 2 workers
vs 1 (speedup / 2), and the CPU seconds each system used (all its processes:
comparable across runs on a loaded machine, where wall time is not). Targets from issue 3: >= 30 MB/s and >= 0.5x DuckDB with
2 workers, efficiency >= 0.8, every process under 512 MB at 1 GB.

The text is Zipf(1.1) words over a 200,000-word vocabulary, ten words a line
(the shape of natural-language word counts).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JOB = "minisys.mapreduce.examples.wordcount:FastWordCount"
TEXTBOOK_JOB = "minisys.mapreduce.examples.wordcount:WordCount"
#: Split size, in the paper's 16-64 MB range (the driver's default is 32). With
#: in-mapper combining every map task emits its split's vocabulary once, so
#: fewer, larger splits shuffle fewer pairs; 200 MB makes 4 equal map tasks of
#: 50 MB, 2 per worker (64 MB would make 3: one worker idle for a third).
SPLIT_MB = 48


def generate(path: Path, mb: int, seed: int = 42) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i:x}" for i in range(200_000)], dtype=object)
    target = mb * 1_000_000
    with open(path, "w") as f:
        written = 0
        while written < target:
            ranks = rng.zipf(1.1, 1_000_000)
            words = vocab[ranks[ranks <= 200_000] - 1]
            lines = [" ".join(words[i : i + 10]) for i in range(0, len(words) - 9, 10)]
            chunk = "\n".join(lines) + "\n"
            f.write(chunk)
            written += len(chunk)


def one(system: str, path: Path, workdir: Path, workers: int) -> dict:
    """Measure one system in this (fresh) process."""
    out = workdir / f"out-{system}-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    extra: dict = {}
    if system == "counter":
        from collections import Counter

        counts: Counter[str] = Counter()
        with open(path) as f:
            for line in f:
                counts.update(line.split())
        with open(out, "w") as f:
            for word, n in counts.items():
                f.write(f"{word}\t{n}\n")
        distinct = len(counts)
    elif system == "duckdb":
        import duckdb

        con = duckdb.connect()
        con.execute("SET threads = 2")
        con.execute(
            f"COPY (SELECT word, count(*) AS n FROM (SELECT unnest(string_split(line, ' ')) AS word FROM "
            f"read_csv('{path}', columns={{'line': 'VARCHAR'}}, header=false, delim='\\x01', quote='', "
            f"escape='')) WHERE word <> '' GROUP BY word) TO '{out}' (FORMAT csv, DELIMITER '\t', HEADER false)"
        )
        distinct = sum(1 for _ in open(out))
    else:
        from minisys.mapreduce import run

        job = JOB if system == "minisys" else TEXTBOOK_JOB
        result = run(job, [path], out, runner="local", workers=workers, reduce_tasks=2 * workers,
                     split_mb=SPLIT_MB)
        distinct = result.counters["mapreduce"]["reduce_output_records"]
        extra["rss_mb"] = result.peak_rss_mb
    seconds = time.perf_counter() - start
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of every process of the system (minisys's workers are reaped
    # children): unlike wall time, barely moved by other load on the machine.
    cpu = me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime
    return {"seconds": seconds, "cpu": cpu, "distinct": distinct,
            "rss_mb": extra.get("rss_mb", {"process": me.ru_maxrss / 1024})}


def measure(system: str, path: Path, workdir: Path, workers: int = 1) -> dict:
    cmd = [sys.executable, __file__, "--one", system, "--file", str(path), "--workdir", str(workdir),
           "--workers", str(workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{system} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mb", type=int, default=200, help="input size in MB (default 200)")
    p.add_argument("--file", type=Path, default=None, help="use this text file instead of generating one")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--skip-textbook", action="store_true", help="skip the (slower) one-pair-per-word job")
    p.add_argument("--only-minisys", action="store_true",
                   help="only minisys with 2 workers (the 1 GB memory check; no ratios)")
    p.add_argument("--one", default=None, help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.file, args.workdir, args.workers)))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="minisys-bench-wc-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = args.file or workdir / f"zipf-{args.mb}mb.txt"
    if not path.exists():
        print(f"generating {args.mb} MB of Zipf text in {path} ...", flush=True)
        generate(path, args.mb)
    size_mb = path.stat().st_size / 1e6
    print(f"input: {path} ({size_mb:,.0f} MB), {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    runs = [("counter", 1), ("duckdb", 1), ("minisys", 1), ("minisys", 2)]
    if not args.skip_textbook:
        runs.append(("minisys-textbook", 2))
    if args.only_minisys:
        r = measure("minisys", path, workdir, 2)
        rss = ", ".join(f"{k} {v:,.0f}" for k, v in r["rss_mb"].items())
        peak = max(r["rss_mb"].values())
        print(f"minisys MapReduce, 2 workers: {r['seconds']:.1f} s, {size_mb / r['seconds']:.1f} MB/s, "
              f"{r['distinct']:,} distinct words; peak RSS MB: {rss}")
        print(f"largest minisys process: {peak:,.0f} MB RSS ({'under' if peak < 512 else 'OVER'} 512 MB)")
        return
    results = {}
    for system, workers in runs:
        r = measure(system, path, workdir, workers)
        results[(system, workers)] = r
        print(f"  measured {system} x{workers}: {r['seconds']:.1f} s", flush=True)
    distinct = {r["distinct"] for r in results.values()}
    duck = size_mb / results[("duckdb", 1)]["seconds"]
    counter = size_mb / results[("counter", 1)]["seconds"]
    print()
    print(f"{'system':<34} {'s':>7} {'MB/s':>7} {'vs DuckDB':>10} {'vs Counter':>11} {'CPU s':>7}  "
          "peak RSS MB (per process)")
    names = {"counter": "Python Counter, 1 process", "duckdb": "DuckDB (2 threads)",
             "minisys": "minisys MapReduce", "minisys-textbook": "minisys MapReduce, textbook job"}
    for (system, workers), r in results.items():
        rate = size_mb / r["seconds"]
        label = names[system] + (f", {workers} worker{'s' if workers > 1 else ''}" if system.startswith("minisys") else "")
        rss = ", ".join(f"{k} {v:,.0f}" for k, v in r["rss_mb"].items())
        print(f"{label:<34} {r['seconds']:>7.1f} {rate:>7.1f} {rate / duck:>9.2f}x {rate / counter:>10.2f}x "
              f"{r['cpu']:>7.1f}  {rss}")
    t1, t2 = results[("minisys", 1)]["seconds"], results[("minisys", 2)]["seconds"]
    print()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 workers need 2 free CPUs to show their speed-up)")
    print(f"parallel efficiency, 2 workers vs 1: {t1 / t2 / 2:.2f} (speedup {t1 / t2:.2f}x)")
    peak = max(v for r in results.values() if "master" in r["rss_mb"] for v in r["rss_mb"].values())
    print(f"largest minisys process: {peak:,.0f} MB RSS ({'under' if peak < 512 else 'OVER'} 512 MB)")
    print(f"all systems agree on {distinct.pop():,} distinct words" if len(distinct) == 1
          else f"DISAGREEMENT on distinct words: {sorted(distinct)}")


if __name__ == "__main__":
    main()
