"""``minisys mapreduce``: run a job (any runner), or be one master / one worker of a cluster.

    minisys mapreduce run JOB --input PATH... --output DIR [--runner inline|local|cluster|spark]
    minisys mapreduce master JOB --input PATH... --output DIR [--host H] [--port P]
    minisys mapreduce worker --master URL [--host H]

JOB is ``package.module:Class`` or ``path/to/file.py:Class``. Top-level
imports are stdlib only (the CLI's rule); the engine is imported in handlers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _job_args(pairs: list[str]) -> dict[str, str]:
    from minisys.errors import BadInput

    args = {}
    for item in pairs:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise BadInput(f"--arg {item!r}: expected name=value")
        args[name] = value
    return args


def _add_job_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("job", metavar="JOB", help="package.module:Class or path/to/file.py:Class")
    p.add_argument("--input", "-i", nargs="+", required=True, metavar="PATH", help="input files or directories")
    p.add_argument("--output", "-o", required=True, metavar="DIR", help="output directory (must not exist or be empty)")
    p.add_argument("--reduce-tasks", "-R", type=int, default=2, metavar="R")
    p.add_argument("--split-mb", type=float, default=32.0, metavar="S", help="input split size (default 32 MB)")
    p.add_argument("--input-format", choices=("text", "textblocks", "jsonl", "csv", "parquet"), default=None)
    p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE", help="job argument (repeatable)")
    p.add_argument("--skip-bad-records", action="store_true", help="skip records that fail twice (§4.6)")
    p.add_argument("--no-backup-tasks", action="store_true", help="never launch backup tasks (§3.6)")
    p.add_argument("--ping-timeout", type=float, default=5.0, metavar="S", help="declare a silent worker failed")
    p.add_argument("--status-port", type=int, default=None, metavar="PORT", help="serve the status page (§4.8)")


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "reduce_tasks": args.reduce_tasks,
        "split_mb": args.split_mb,
        "input_format": args.input_format,
        "args": _job_args(args.arg),
        "skip_bad_records": args.skip_bad_records,
        "backup_tasks": not args.no_backup_tasks,
        "ping_timeout": args.ping_timeout,
    }


def _report(result: Any) -> None:
    print(f"output: {result.output} ({len(result.parts)} part files)")
    print(f"time: {result.timings['total_s']:.2f} s")
    print("counters: " + json.dumps(result.counters, sort_keys=True))


def _cmd_run(args: argparse.Namespace) -> int:
    from minisys.mapreduce import run

    opts = _options(args)
    if args.status_port is not None:
        opts["status_port"] = args.status_port
    result = run(args.job, args.input, args.output, runner=args.runner, workers=args.workers,
                 spark_master=args.spark_master, **opts)
    _report(result)
    return 0


def _cmd_master(args: argparse.Namespace) -> int:
    import asyncio

    from minisys.mapreduce.runners.cluster import serve_master

    opts = _options(args)
    result = asyncio.run(serve_master(args.job, args.input, args.output, host=args.host, port=args.port,
                                      status_port=args.status_port, token=args.token, **opts))
    _report(result)
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from minisys.mapreduce.worker_node import worker_command

    return worker_command(args)


def add_worker_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--master", required=True, help="the master's URL, e.g. http://10.0.0.1:8400")
    p.add_argument("--id", default=None, help="worker id (default: host-pid)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve map output on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--workdir", type=Path, default=None, help="local disk for map output (default: a temp dir)")
    p.add_argument("--shuffle", choices=("http", "local"), default="http",
                   help="read map output over HTTP (cluster) or straight from a shared local disk")
    p.add_argument("--master-timeout", type=float, default=10.0, metavar="S",
                   help="give up (the job aborted) after the master is unreachable this long")
    p.add_argument("--slowdown", type=float, default=1.0,
                   help="take this many times longer per task: a straggler, for experiments (§3.6)")


def register(sub: Any) -> None:
    group = sub.add_parser("mapreduce", help="MapReduce (OSDI 2004): run jobs; be a master or a worker")
    group.set_defaults(_group_parser=group)
    cmds = group.add_subparsers(dest="mapreduce_command", metavar="COMMAND", parser_class=type(group))

    p = cmds.add_parser("run", help="run a job with a runner (inline, local, cluster, spark)")
    _add_job_args(p)
    p.add_argument("--runner", "-r", choices=("inline", "local", "cluster", "spark"), default="local")
    p.add_argument("--workers", "-w", type=int, default=2, metavar="N", help="worker processes (local, cluster)")
    p.add_argument("--spark-master", default="local[*]", help="Spark master URL for --runner spark")
    p.set_defaults(func=_cmd_run)

    p = cmds.add_parser("master", help="be the master of a cluster job; workers join with `worker --master URL`")
    _add_job_args(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8400)
    p.add_argument("--token", default=None, help="shared secret workers must present (or MINISYS_MAPREDUCE_TOKEN)")
    p.set_defaults(func=_cmd_master)

    p = cmds.add_parser("worker", help="be a worker: run tasks for the master at URL until the job ends")
    add_worker_args(p)
    p.set_defaults(func=_cmd_worker)


