"""The real Kafka baseline, against the broker `minisys services up` started.

Needs the ``kafka_bootstrap`` fixture: skipped locally without a broker,
failed under CI=true (where `.ci/run` starts one).
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from minisys import config
from minisys.baselines import kafka
from minisys.errors import BadInput, MinisysError, ServiceUnavailable


def _topic(name: str) -> str:
    return f"test-{name}-{uuid.uuid4().hex[:8]}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_consume_returns_produced_messages_in_order(kafka_bootstrap: str) -> None:
    topic = _topic("order")
    await kafka.create_topic(kafka_bootstrap, topic, partitions=1)
    sent = [f"message {i:05d}".encode() for i in range(5000)]
    try:
        produced = await kafka.produce(kafka_bootstrap, topic, sent, batch_size=4096)
        consumed = await kafka.consume(kafka_bootstrap, topic, len(sent), keep_values=True)
    finally:
        await kafka.delete_topic(kafka_bootstrap, topic)
    assert produced.messages == consumed.messages == len(sent)
    assert produced.bytes == consumed.bytes == sum(map(len, sent))
    assert consumed.values == sent
    assert produced.messages_per_second > 0 and consumed.mb_per_second > 0


async def test_produce_spreads_batches_over_partitions_and_consume_reads_them_all(
    kafka_bootstrap: str,
) -> None:
    topic = _topic("spread")
    await kafka.create_topic(kafka_bootstrap, topic, partitions=3)
    sent = [str(i).encode() for i in range(20_000)]
    try:
        await kafka.produce(kafka_bootstrap, topic, iter(sent), batch_size=1024)
        consumed = await kafka.consume(kafka_bootstrap, topic, len(sent), keep_values=True)
    finally:
        await kafka.delete_topic(kafka_bootstrap, topic)
    assert sorted(consumed.values) == sorted(sent)
    assert consumed.values != sent  # interleaved partitions: order is per partition only


async def test_create_topic_twice_is_fine_unless_exist_ok_is_false(kafka_bootstrap: str) -> None:
    topic = _topic("twice")
    await kafka.create_topic(kafka_bootstrap, topic)
    try:
        await kafka.create_topic(kafka_bootstrap, topic)
        with pytest.raises(MinisysError, match=topic):
            await kafka.create_topic(kafka_bootstrap, topic, exist_ok=False)
    finally:
        await kafka.delete_topic(kafka_bootstrap, topic)


async def test_consume_past_the_end_times_out_saying_how_many_arrived(kafka_bootstrap: str) -> None:
    topic = _topic("short")
    await kafka.create_topic(kafka_bootstrap, topic)
    try:
        await kafka.produce(kafka_bootstrap, topic, [b"a", b"b"])
        with pytest.raises(MinisysError, match=r"consumed 2 of 3 messages"):
            await kafka.consume(kafka_bootstrap, topic, 3, timeout=2)
    finally:
        await kafka.delete_topic(kafka_bootstrap, topic)


async def test_produce_rejects_a_message_that_is_not_bytes(kafka_bootstrap: str) -> None:
    with pytest.raises(BadInput, match="message 1 is str"):
        await kafka.produce(kafka_bootstrap, _topic("typed"), [b"ok", "not bytes"])  # type: ignore[list-item]


async def test_round_trip_answers_within_the_timeout(kafka_bootstrap: str) -> None:
    assert 0 < await kafka.round_trip(kafka_bootstrap, timeout=30) < 30


def test_version_names_the_recorded_broker_release(kafka_bootstrap: str) -> None:
    recorded = config.read_services().get("kafka") or {}
    found = kafka.version(kafka_bootstrap)
    if recorded.get("bootstrap") == kafka_bootstrap:
        assert found == recorded["version"]
    else:
        assert found  # an external broker: "unknown" is an honest answer
    assert kafka.client_version().startswith("aiokafka ")


def test_bootstrap_without_configuration_raises_service_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.STATE_ENV, str(tmp_path))
    monkeypatch.delenv(config.KAFKA_ENV, raising=False)
    with pytest.raises(ServiceUnavailable, match="minisys services up --kafka"):
        kafka.bootstrap()
    monkeypatch.setenv(config.KAFKA_ENV, "127.0.0.1:1234")
    assert kafka.bootstrap() == "127.0.0.1:1234"
    assert kafka.bootstrap("127.0.0.1:5678") == "127.0.0.1:5678"


async def test_unreachable_broker_raises_service_unavailable_naming_it() -> None:
    address = f"127.0.0.1:{_closed_port()}"
    with pytest.raises(ServiceUnavailable, match=address):
        kafka.version(address)
    with pytest.raises(ServiceUnavailable, match=address):
        await kafka.produce(address, "nowhere", [b"x"])
