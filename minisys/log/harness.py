"""The paper's experiment harness (Kafka §5), one shape for every system measured.

§5: "a single producer to publish a total of 10 million messages, each of
200 bytes... batch size of 1 and 50", then "a single consumer to retrieve a
total of 10 million messages". The same Python process, the same asyncio
loop and the same message bytes drive the minisys log (its own client over
TCP to a broker in another process), real Kafka (aiokafka, the team's
broker) and, for contrast, Postgres used as a queue (``SKIP LOCKED``).

Each function returns a :class:`Throughput` (or latencies in ms); the
scenario ``log-vs-kafka`` and ``benchmarks/log_throughput.py`` call them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from minisys.errors import MinisysError

#: The paper's message size (§5).
PAYLOAD_BYTES = 200
_STAMP = struct.Struct(">Qq")  # sequence number, send time (perf_counter_ns)


@dataclass(frozen=True)
class Throughput:
    messages: int
    bytes: int
    seconds: float

    @property
    def msg_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else float("inf")

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else float("inf")


def message(i: int, filler: bytes = b"m" * PAYLOAD_BYTES) -> bytes:
    """Message ``i``: 200 bytes, the first 16 a sequence number and a send timestamp."""
    return _STAMP.pack(i, time.perf_counter_ns()) + filler[_STAMP.size:]


def latency_ms(value: bytes) -> float:
    return (time.perf_counter_ns() - _STAMP.unpack_from(value)[1]) / 1e6


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100.0 * len(ordered)))] if ordered else float("nan")


def peak_rss_mb(pid: int) -> float:
    """The process's high-water RSS (``VmHWM``), MB; NaN if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


# ====================================================================== minisys log


class BrokerProcess:
    """``minisys log serve`` in a child process (so the client and broker do not share a GIL)."""

    def __init__(self, data_dir: Path | None = None, *extra: str) -> None:
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="minisys-log-")
        self.data_dir = Path(data_dir) if data_dir else Path(self._tmp.name)
        self.extra = extra
        self.proc: subprocess.Popen | None = None
        self.address = ""

    def __enter__(self) -> BrokerProcess:
        cmd = [sys.executable, "-m", "minisys", "log", "serve", "--port", "0",
               "--data-dir", str(self.data_dir), *self.extra]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        found = re.search(r" on (\S+:\d+),", line)
        if not found:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.__exit__()
            raise MinisysError(f"minisys log broker did not start: {line.strip()} {err.strip()[-300:]}")
        self.address = found.group(1)
        return self

    @property
    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.proc.pid) if self.proc else float("nan")

    def topic_bytes(self, topic: str) -> int:
        return sum(p.stat().st_size for p in self.data_dir.glob(f"{topic}-*/*.log"))

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()
        if self._tmp is not None:
            self._tmp.cleanup()


async def log_produce(address: str, topic: str, n: int, batch: int) -> Throughput:
    from minisys.log.producer import Producer

    started = time.perf_counter()
    async with Producer(address, batch_size=batch, linger_ms=5) as producer:
        send = producer.send
        for i in range(n):
            await send(topic, message(i), 0)
    return Throughput(n, n * PAYLOAD_BYTES, time.perf_counter() - started)


async def wait_visible(address: str, topic: str, n: int, timeout: float = 60.0) -> None:
    """Wait until the broker's flush has made ``n`` messages of partition 0 visible.

    §5 measures a consumer reading messages already stored; the tail of a
    just-finished producer run is visible only after the next flush (§3.1),
    and that wait belongs to latency, not to consumer throughput.
    """
    from minisys.log import messages as m
    from minisys.log.client import connect

    conn = await connect(address)
    deadline = time.monotonic() + timeout
    try:
        while (await conn.call(m.ListOffsets(topic, 0))).end < n:
            if time.monotonic() > deadline:
                raise MinisysError(f"fewer than {n} messages of {topic!r} visible after {timeout:.0f} s")
            await asyncio.sleep(0.002)
    finally:
        await conn.close()


async def log_consume(address: str, topic: str, n: int, timeout: float = 120.0) -> Throughput:
    """Read ``n`` stored messages (partition 0 holds them all in the §5 runs)."""
    from minisys.log.consumer import Consumer

    await wait_visible(address, topic, n)
    started = time.perf_counter()
    count = size = 0
    async with Consumer(address, topic) as consumer:
        while count < n:
            records = await consumer.poll(timeout_ms=1000)
            if not records and time.perf_counter() - started > timeout:
                raise MinisysError(f"consumed {count} of {n} messages from the minisys log in {timeout:.0f} s")
            count += len(records)
            size += sum(len(r.value) for r in records)
    return Throughput(count, size, time.perf_counter() - started)


async def log_latency(address: str, topic: str, n: int, batch: int) -> list[float]:
    """End-to-end ms from ``send`` to ``poll`` with a consumer running alongside."""
    from minisys.log.consumer import Consumer
    from minisys.log.producer import Producer

    async with Consumer(address, topic, auto_offset_reset="latest", max_wait_ms=20) as consumer:
        out: list[float] = []

        async def consume() -> None:
            while len(out) < n:
                out.extend(latency_ms(r.value) for r in await consumer.poll(timeout_ms=1000))

        reader = asyncio.create_task(consume())
        async with Producer(address, batch_size=batch, linger_ms=1) as producer:
            await _paced(n, batch, lambda i: producer.send(topic, message(i), 0))
        await reader
    return out


async def _paced(n: int, batch: int, send) -> None:
    """Send in groups of ``batch`` with a 1 ms pause: latency, not queueing behind a backlog."""
    for start in range(0, n, batch):
        for i in range(start, min(n, start + batch)):
            await send(i)
        await asyncio.sleep(0.001)


# ====================================================================== real Kafka


async def kafka_produce(address: str, topic: str, n: int, batch: int) -> Throughput:
    """aiokafka with exactly ``batch`` records per record batch (``create_batch``/``send_batch``).

    ``linger_ms=0``: a batch built by hand is complete, waiting would only add
    delay (with aiokafka's default one-request-in-flight per partition, a
    5 ms linger caps batch 1 at ~170 msg/s).
    """
    from aiokafka import AIOKafkaProducer

    from minisys.baselines.kafka import start_client

    producer = AIOKafkaProducer(bootstrap_servers=address, acks=1, linger_ms=0, max_batch_size=1 << 20)
    await start_client(producer, address)
    started = time.perf_counter()
    futures = []
    try:
        current = producer.create_batch()
        for i in range(n):
            current.append(key=None, value=message(i), timestamp=None)
            if current.record_count() >= batch:
                futures.append(await producer.send_batch(current, topic, partition=0))
                current = producer.create_batch()
        if current.record_count():
            futures.append(await producer.send_batch(current, topic, partition=0))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return Throughput(n, n * PAYLOAD_BYTES, time.perf_counter() - started)


async def kafka_consume(address: str, topic: str, n: int) -> Throughput:
    from minisys.baselines import kafka

    stats = await kafka.consume(address, topic, n, timeout=120.0)
    return Throughput(stats.messages, stats.bytes, stats.seconds)


async def kafka_latency(address: str, topic: str, n: int, batch: int) -> list[float]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.structs import TopicPartition

    from minisys.baselines.kafka import start_client

    consumer = AIOKafkaConsumer(bootstrap_servers=address, enable_auto_commit=False, fetch_max_wait_ms=20)
    await start_client(consumer, address)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    await consumer.seek_to_end(tp)
    await consumer.position(tp)
    out: list[float] = []
    try:
        async def consume() -> None:
            while len(out) < n:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    out.extend(latency_ms(r.value) for r in records)

        reader = asyncio.create_task(consume())
        producer = AIOKafkaProducer(bootstrap_servers=address, acks=1, linger_ms=1,
                                    max_batch_size=batch * (PAYLOAD_BYTES + 80) + 100)
        await start_client(producer, address)
        try:
            futures = []

            async def send(i: int) -> None:
                futures.append(await producer.send(topic, message(i), partition=0))

            await _paced(n, batch, send)
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        await reader
    finally:
        await consumer.stop()
    return out


def kafka_topic_bytes(topic: str) -> int | None:
    """Bytes of the topic's segment files, if the broker is the one ``minisys services`` runs."""
    from minisys import config

    home = (config.read_services().get("kafka") or {}).get("home")
    if not home:
        return None
    return sum(p.stat().st_size for p in Path(home, "data").glob(f"{topic}-*/*.log"))


def kafka_peak_rss_mb() -> float:
    from minisys import config

    pid = (config.read_services().get("kafka") or {}).get("pid")
    return peak_rss_mb(int(pid)) if pid else float("nan")


# ====================================================================== Postgres as a queue


@contextlib.contextmanager
def pg_queue(table: str) -> Iterator[object]:
    """A fresh queue table ``(id bigserial primary key, payload bytea)``, dropped afterwards."""
    from minisys.baselines import postgres

    db = postgres.connect()
    db.conn.autocommit = True
    db.conn.execute(f"DROP TABLE IF EXISTS {table}")
    db.conn.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, payload bytea NOT NULL)")
    try:
        yield db.conn
    finally:
        db.conn.execute(f"DROP TABLE IF EXISTS {table}")
        db.close()


def pg_produce(conn, table: str, n: int, batch: int) -> Throughput:
    """One transaction per ``batch`` messages (batch 1: one INSERT, one commit each)."""
    started = time.perf_counter()
    sql = f"INSERT INTO {table} (payload) VALUES (%s)"
    with conn.cursor() as cur:
        for start in range(0, n, batch):
            rows = [(message(i),) for i in range(start, min(n, start + batch))]
            with conn.transaction():
                cur.executemany(sql, rows)
    return Throughput(n, n * PAYLOAD_BYTES, time.perf_counter() - started)


def pg_consume(conn, table: str, n: int, batch: int = 1000) -> Throughput:
    """The queue idiom: claim rows with ``FOR UPDATE SKIP LOCKED``, delete them, commit."""
    started = time.perf_counter()
    count = size = 0
    sql = (f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} ORDER BY id "
           f"FOR UPDATE SKIP LOCKED LIMIT %s) RETURNING payload")
    with conn.cursor() as cur:
        while count < n:
            with conn.transaction():
                rows = cur.execute(sql, (batch,)).fetchall()
            if not rows:
                raise MinisysError(f"Postgres queue {table} ran dry after {count} of {n} messages")
            count += len(rows)
            size += sum(len(r[0]) for r in rows)
    return Throughput(count, size, time.perf_counter() - started)


def pg_table_bytes(conn, table: str) -> int:
    return int(conn.execute(f"SELECT pg_total_relation_size('{table}')").fetchone()[0])


def require_kafka() -> str:
    from minisys.baselines import kafka

    address = kafka.bootstrap()
    kafka._check_reachable(address)
    return address


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{time.time_ns() % 10**9}"

