"""Apache Kafka, the real broker a Kafka-paper log is measured against.

Talks to the broker through aiokafka (the ``[kafka]`` extra), at the bootstrap
address from ``MINISYS_KAFKA_BOOTSTRAP`` or the one ``minisys services up``
recorded. The producer path submits whole batches (``create_batch`` /
``send_batch``), the paper's "a producer can send a set of messages in a single
publish request" (Kreps et al., NetDB 2011, §3.1), and is aiokafka's fastest
path; the consumer pulls with ``getmany``, the paper's pull model (§3.1).

All I/O is ``async``; :func:`version` and :func:`bootstrap` are plain functions
so a result file can record versions without an event loop.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from minisys import config
from minisys.errors import BadInput, MinisysError, ServiceUnavailable

#: Producer batch size in bytes (aiokafka's default is 16 KiB, the Java client's too).
BATCH_SIZE = 64 * 1024
READY_TOPIC = "minisys-ready"


@dataclass(frozen=True)
class ProduceStats:
    """One :func:`produce` call: every message acknowledged by the broker."""

    messages: int
    bytes: int
    seconds: float

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else float("inf")

    @property
    def mb_per_second(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else float("inf")


@dataclass(frozen=True)
class ConsumeStats:
    """One :func:`consume` call; ``values`` only when asked to keep them."""

    messages: int
    bytes: int
    seconds: float
    values: list[bytes] = field(default_factory=list, repr=False)

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds else float("inf")

    @property
    def mb_per_second(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else float("inf")


def bootstrap(explicit: str | None = None) -> str:
    """The bootstrap address to use, or a one-line error saying how to get one."""
    found = explicit or config.kafka_bootstrap()
    if not found:
        raise ServiceUnavailable(
            f"no Kafka configured: set {config.KAFKA_ENV} or run `minisys services up --kafka`"
        )
    return found


def _check_reachable(address: str, timeout: float = 2.0) -> None:
    host, _, port = address.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return
    except (OSError, ValueError) as exc:
        raise ServiceUnavailable(f"Kafka at {address} does not answer: {exc}") from exc


def version(explicit: str | None = None) -> str:
    """The broker's version, e.g. ``"4.4.0"``; raises ServiceUnavailable when unreachable.

    The Kafka protocol does not report the release, so this is the version
    ``minisys services up`` recorded for that address, else ``"unknown"``.
    """
    address = bootstrap(explicit)
    _check_reachable(address)
    recorded = config.read_services().get("kafka") or {}
    if recorded.get("bootstrap") == address and recorded.get("version"):
        return str(recorded["version"])
    return "unknown"


def client_version() -> str:
    """The Python client doing the measuring, e.g. ``"aiokafka 0.14.0"``."""
    aiokafka = _aiokafka()
    return f"aiokafka {aiokafka.__version__}"


def _aiokafka():
    try:
        import aiokafka
    except ImportError as exc:
        raise MinisysError("the Kafka baseline needs aiokafka: pip install 'minisys[kafka]'") from exc
    return aiokafka


async def start_client(client, address: str):
    """``await client.start()``, turning "cannot connect" into ServiceUnavailable."""
    from aiokafka.errors import KafkaConnectionError

    try:
        await client.start()
    except KafkaConnectionError as exc:
        await _close(client)
        raise ServiceUnavailable(f"Kafka at {address} does not answer: {exc}") from exc
    return client


async def _close(client) -> None:
    stop = getattr(client, "stop", None) or client.close
    await stop()


async def create_topic(
    address: str,
    topic: str,
    partitions: int = 1,
    *,
    topic_config: dict[str, str] | None = None,
    exist_ok: bool = True,
) -> None:
    """Create ``topic`` with replication factor 1 (a one-broker cluster)."""
    _aiokafka()
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError, for_code

    admin = await start_client(AIOKafkaAdminClient(bootstrap_servers=address), address)
    try:
        response = await admin.create_topics(
            [NewTopic(topic, partitions, 1, topic_configs=topic_config or {})]
        )
    finally:
        await admin.close()
    for name, code, *rest in response.topic_errors:
        if code == 0 or (exist_ok and for_code(code) is TopicAlreadyExistsError):
            continue
        message = rest[0] if rest and rest[0] else for_code(code).__name__
        raise MinisysError(f"cannot create Kafka topic {name!r} at {address}: {message}")


async def delete_topic(address: str, topic: str) -> None:
    """Delete ``topic`` (benchmarks clean up after themselves)."""
    _aiokafka()
    from aiokafka.admin import AIOKafkaAdminClient

    admin = await start_client(AIOKafkaAdminClient(bootstrap_servers=address), address)
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def produce(
    address: str,
    topic: str,
    messages: Iterable[bytes],
    *,
    batch_size: int = BATCH_SIZE,
    acks: int | str = 1,
    linger_ms: int = 5,
    compression_type: str | None = None,
) -> ProduceStats:
    """Publish ``messages`` in order; returns once the broker acknowledged all of them.

    Batches go to the topic's partitions in turn, so order is kept within
    each partition (Kafka §3.3: ordering is per partition only).
    """
    _aiokafka()
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=address, acks=acks, linger_ms=linger_ms,
        max_batch_size=batch_size, compression_type=compression_type,
    )
    await start_client(producer, address)
    count = size = 0
    started = time.perf_counter()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        futures = []
        batch = producer.create_batch()

        async def submit() -> None:
            futures.append(await producer.send_batch(
                batch, topic, partition=partitions[len(futures) % len(partitions)]))

        for value in messages:
            if not isinstance(value, bytes | bytearray | memoryview):
                raise BadInput(f"Kafka message {count} is {type(value).__name__}, not bytes")
            if batch.append(key=None, value=value, timestamp=None) is None:
                await submit()  # full: an empty batch always takes one message
                batch = producer.create_batch()
                if batch.append(key=None, value=value, timestamp=None) is None:
                    raise BadInput(f"Kafka message {count} ({len(value)} bytes) cannot be batched")
            count += 1
            size += len(value)
        if batch.record_count():
            await submit()
        for future in futures:
            await future
    finally:
        await producer.stop()
    return ProduceStats(count, size, time.perf_counter() - started)


async def consume(
    address: str,
    topic: str,
    n: int,
    *,
    timeout: float = 60.0,
    keep_values: bool = False,
    group_id: str | None = None,
) -> ConsumeStats:
    """Read ``n`` messages of ``topic`` from the earliest offset.

    Without ``group_id`` the consumer takes every partition itself and commits
    nothing (no coordinator in the way of a measurement). Fewer than ``n``
    messages before ``timeout`` seconds is an error naming how many arrived.
    """
    _aiokafka()
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=address, group_id=group_id,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await start_client(consumer, address)
    values: list[bytes] = []
    count = size = 0
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    try:
        while count < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise MinisysError(
                    f"consumed {count} of {n} messages from Kafka topic {topic!r} at {address} "
                    f"within {timeout:.0f} s"
                )
            batches = await consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000),
                                             max_records=n - count)
            for records in batches.values():
                for record in records:
                    count += 1
                    size += len(record.value or b"")
                    if keep_values:
                        values.append(record.value)
    finally:
        await consumer.stop()
    return ConsumeStats(count, size, time.perf_counter() - started, values)


async def round_trip(address: str, *, topic: str = READY_TOPIC, timeout: float = 10.0) -> float:
    """Produce one message and read it back; the seconds it took.

    The readiness test ``minisys services up`` applies: a broker whose port is
    open may still be electing its controller or creating the topic.
    """
    import asyncio

    _aiokafka()
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.structs import TopicPartition

    started = time.perf_counter()
    marker = f"ready {time.time_ns()}".encode()

    async def attempt() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=address, request_timeout_ms=5000)
        await start_client(producer, address)
        try:
            sent = await producer.send_and_wait(topic, marker)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=address, enable_auto_commit=False)
        await start_client(consumer, address)
        try:
            partition = TopicPartition(topic, sent.partition)
            consumer.assign([partition])
            consumer.seek(partition, sent.offset)
            while True:
                got = await consumer.getmany(partition, timeout_ms=1000)
                if any(r.value == marker for r in got.get(partition, [])):
                    return
        finally:
            await consumer.stop()

    try:
        await asyncio.wait_for(attempt(), timeout)
    except TimeoutError as exc:
        raise ServiceUnavailable(f"Kafka at {address}: no round trip within {timeout:.0f} s") from exc
    return time.perf_counter() - started
