"""``minisys services up|down|status``: the command group over this package.

Top-level imports are stdlib only (``minisys --help`` stays fast); the servers'
code and ``minisys.config`` are imported by the functions that need them.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minisys.services.process import ServiceInfo

SERVICES = ("postgres", "kafka")


def register(subparsers: Any) -> None:
    from minisys.services import KAFKA_PORT, KAFKA_TIMEOUT, POSTGRES_PORT, POSTGRES_TIMEOUT

    parser = subparsers.add_parser(
        "services",
        help="start/stop throwaway local Postgres and Kafka to compare against",
        description="Start, stop or inspect throwaway Postgres and Kafka servers on 127.0.0.1. "
        "With neither --postgres nor --kafka, both.",
    )
    parser.set_defaults(_group_parser=parser)
    actions = parser.add_subparsers(dest="services_action", metavar="ACTION")
    for name, help_text, handler in (
        ("up", "start the servers (idempotent) and record their URLs", _cmd_up),
        ("down", "stop the servers and forget their URLs", _cmd_down),
        ("status", "show which servers run and where", _cmd_status),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        action.add_argument("--postgres", action="store_true", help="only Postgres")
        action.add_argument("--kafka", action="store_true", help="only Kafka")
        if name == "up":
            action.add_argument("--postgres-port", type=int, default=POSTGRES_PORT, metavar="PORT",
                                help=f"Postgres port on 127.0.0.1 (default {POSTGRES_PORT})")
            action.add_argument("--kafka-port", type=int, default=KAFKA_PORT, metavar="PORT",
                                help=f"Kafka broker port; its controller uses PORT+1 (default {KAFKA_PORT})")
            action.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                                help=f"readiness deadline per server (default {POSTGRES_TIMEOUT:.0f} s "
                                f"Postgres, {KAFKA_TIMEOUT:.0f} s Kafka)")
        if name == "down":
            action.add_argument("--purge", action="store_true",
                                help="also delete their data (Kafka's downloaded jars are kept)")
        action.set_defaults(func=handler)


def _selected(args: argparse.Namespace) -> list[str]:
    chosen = [name for name in SERVICES if getattr(args, name)]
    return chosen or list(SERVICES)


def _progress(message: str) -> None:
    print(f"minisys: {message}", file=sys.stderr, flush=True)


def _describe(info: ServiceInfo) -> str:
    if not info.running:
        return f"{info.name:<9} down" + (f"  ({info.note})" if info.note else "")
    details = [f"{'PostgreSQL' if info.name == 'postgres' else 'Kafka'} {info.version or '?'}",
               f"pid {info.pid}"]
    if info.seconds is not None and not info.already_running:
        details.append(f"started in {info.seconds:.1f} s")
    if info.note:
        details.append(info.note)
    word = "already running" if info.already_running else "up"
    return f"{info.name:<9} {word:<8} {info.address}  ({', '.join(details)})"


def _env_notes(names: list[str]) -> list[str]:
    from minisys import config

    notes = []
    for name, env in (("postgres", config.POSTGRES_ENV), ("kafka", config.KAFKA_ENV)):
        if name in names and os.environ.get(env):
            notes.append(f"note: {env}={os.environ[env]} is set and wins over services.json")
    return notes


def _cmd_up(args: argparse.Namespace) -> int:
    from minisys import config
    from minisys.services import (
        KAFKA_TIMEOUT,
        POSTGRES_TIMEOUT,
        ServiceStartError,
        start_kafka,
        start_postgres,
    )

    names = _selected(args)
    for name in names:
        try:
            if name == "postgres":
                info = start_postgres(args.postgres_port, timeout=args.timeout or POSTGRES_TIMEOUT,
                                      progress=_progress)
            else:
                info = start_kafka(args.kafka_port, timeout=args.timeout or KAFKA_TIMEOUT,
                                   progress=_progress)
        except ServiceStartError as exc:
            if exc.log_tail:
                print(f"--- last lines of the {name} log ---\n{exc.log_tail}\n---", file=sys.stderr)
            raise
        print(_describe(info), flush=True)
    print(f"recorded in {config.services_file()}")
    for note in _env_notes(names):
        print(note)
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    from minisys.services import stop_kafka, stop_postgres

    for name in _selected(args):
        stop = stop_postgres if name == "postgres" else stop_kafka
        was_running = stop(purge=args.purge)
        print(f"{name:<9} {'stopped' if was_running else 'was not running'}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from minisys import config
    from minisys.services import status

    found = status()
    for name in _selected(args):
        print(_describe(found[name]))
    print(f"services file: {config.services_file()}")
    for note in _env_notes(_selected(args)):
        print(note)
    return 0
