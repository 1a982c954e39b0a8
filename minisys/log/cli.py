"""``minisys log``: run a broker, create topics, produce and consume from the shell.

Top-level imports are stdlib only (``minisys --help`` stays fast); the log
itself is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_BROKER = "127.0.0.1:9192"


def _config(args: argparse.Namespace):
    from minisys.log.partition import LogConfig

    return LogConfig(
        segment_bytes=args.segment_bytes, flush_messages=args.flush_messages, flush_ms=args.flush_ms,
        fsync=not args.no_fsync, retention_ms=args.retention_ms, retention_bytes=args.retention_bytes,
        max_message_bytes=args.max_message_bytes,
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from minisys.log.server import serve

    config = _config(args)
    try:
        asyncio.run(serve(Path(args.data_dir), args.port, args.host, http=args.http, config=config,
                          use_sendfile=not args.no_sendfile, broker_id=args.broker_id,
                          replica_lag_ms=args.replica_lag_ms, min_insync=args.min_insync))
    except KeyboardInterrupt:
        pass
    return 0


def _cmd_create_topic(args: argparse.Namespace) -> int:
    import asyncio

    from minisys.log.client import create_topic

    n = asyncio.run(create_topic(args.broker, args.topic, args.partitions))
    print(f"topic {args.topic}: {n} partitions")
    return 0


def _cmd_produce(args: argparse.Namespace) -> int:
    import asyncio

    from minisys.log.producer import Producer

    async def run() -> int:
        count = 0
        async with Producer(args.broker, batch_size=args.batch_size) as producer:
            for line in sys.stdin.buffer:
                await producer.send(args.topic, line.rstrip(b"\n"), partition=args.partition)
                count += 1
        return count

    n = asyncio.run(run())
    print(f"produced {n} messages to {args.topic}", file=sys.stderr)
    return 0


def _cmd_consume(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from minisys.log.consumer import Consumer

    async def run() -> int:
        count = 0
        deadline = time.monotonic() + args.timeout
        async with Consumer(args.broker, args.topic, group=args.group,
                            auto_offset_reset="latest" if args.latest else "earliest") as consumer:
            while (args.max_messages is None or count < args.max_messages) and time.monotonic() < deadline:
                left = args.max_messages - count if args.max_messages is not None else None
                records = await consumer.poll(timeout_ms=200, max_records=left)
                out = sys.stdout.buffer
                for r in records:
                    if args.show_offsets:
                        out.write(f"{r.partition}:{r.offset}\t".encode())
                    out.write(r.value + b"\n")
                out.flush()
                count += len(records)
                if records and args.group:
                    await consumer.commit()
        return count

    n = asyncio.run(run())
    print(f"consumed {n} messages from {args.topic}", file=sys.stderr)
    return 0


def _cmd_offsets(args: argparse.Namespace) -> int:
    import asyncio

    from minisys.log import messages as m
    from minisys.log.client import connect

    async def run() -> list[Any]:
        conn = await connect(args.broker)
        try:
            info = await conn.call(m.Metadata(args.topic))
            return [await conn.call(m.ListOffsets(args.topic, p)) for p in range(info.partitions)]
        finally:
            await conn.close()

    for p, r in enumerate(asyncio.run(run())):
        print(f"{args.topic}/{p}\tstart {r.start}\tend {r.end}")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "log", help="Kafka-style partitioned log (Kreps et al., NetDB 2011)",
        description="A Kafka-style log: run a broker, create topics, produce and consume.")
    parser.set_defaults(_group_parser=parser)
    actions = parser.add_subparsers(dest="log_action", metavar="ACTION")

    serve = actions.add_parser("serve", help="run a broker", description="Run a broker until interrupted.")
    serve.add_argument("--port", type=int, default=9192, help="TCP port (default 9192; 0 = any free port)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--data-dir", required=True, help="directory of topic partitions")
    serve.add_argument("--http", action="store_true", help="serve minisys.net HTTP instead of the TCP stream")
    serve.add_argument("--no-sendfile", action="store_true",
                       help="send fetched bytes with read+write instead of sendfile (to measure the difference)")
    serve.add_argument("--broker-id", default="broker", help="this broker's id among replicas (default broker)")
    serve.add_argument("--replica-lag-ms", type=float, default=30_000.0,
                       help="drop a follower from the ISR after this long without catching up")
    serve.add_argument("--min-insync", type=int, default=1, help="in-sync replicas an acks=all produce needs")
    serve.add_argument("--segment-bytes", type=int, default=64 * 1024 * 1024)
    serve.add_argument("--flush-messages", type=int, default=10_000, help="flush after N messages")
    serve.add_argument("--flush-ms", type=float, default=50.0, help="flush after T milliseconds")
    serve.add_argument("--no-fsync", action="store_true", help="a flush writes to the OS but does not fsync")
    serve.add_argument("--retention-ms", type=float, default=7 * 24 * 3600 * 1000.0)
    serve.add_argument("--retention-bytes", type=int, default=None)
    serve.add_argument("--max-message-bytes", type=int, default=1024 * 1024)
    serve.set_defaults(func=_cmd_serve)

    create = actions.add_parser("create-topic", help="create a topic")
    create.add_argument("topic")
    create.add_argument("--partitions", type=int, default=1)
    create.set_defaults(func=_cmd_create_topic)

    produce = actions.add_parser("produce", help="send each stdin line as a message")
    produce.add_argument("topic")
    produce.add_argument("--partition", type=int, default=None)
    produce.add_argument("--batch-size", type=int, default=50, help="messages per message set")
    produce.set_defaults(func=_cmd_produce)

    consume = actions.add_parser("consume", help="print messages, one per line")
    consume.add_argument("topic")
    consume.add_argument("--group", default=None, help="consumer group (commits offsets)")
    consume.add_argument("--latest", action="store_true", help="start at the end when nothing is committed")
    consume.add_argument("-n", "--max-messages", type=int, default=None)
    consume.add_argument("--timeout", type=float, default=5.0, help="stop after this many seconds")
    consume.add_argument("--show-offsets", action="store_true", help="prefix partition:offset")
    consume.set_defaults(func=_cmd_consume)

    offsets = actions.add_parser("offsets", help="start and end offset of every partition")
    offsets.add_argument("topic")
    offsets.set_defaults(func=_cmd_offsets)

    for action in (create, produce, consume, offsets):
        action.add_argument("--broker", default=DEFAULT_BROKER,
                            help=f"host:port, or http://host:port for an --http broker (default {DEFAULT_BROKER})")
