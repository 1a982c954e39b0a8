"""The §5 harness against the real systems: real Kafka (aiokafka) and Postgres as a queue."""

from __future__ import annotations

import pytest

from minisys.log import harness as h
from minisys.log.client import create_topic


@pytest.mark.kafka
async def test_the_same_harness_drives_real_kafka_and_the_minisys_log(kafka_bootstrap: str) -> None:
    from minisys.baselines import kafka

    topic = h.unique_topic("minisys-test")
    await kafka.create_topic(kafka_bootstrap, topic, 1)
    try:
        produced = await h.kafka_produce(kafka_bootstrap, topic, 500, 50)
        consumed = await h.kafka_consume(kafka_bootstrap, topic, 500)
        latencies = await h.kafka_latency(kafka_bootstrap, topic, 100, 50)
    finally:
        await kafka.delete_topic(kafka_bootstrap, topic)
    assert produced.messages == consumed.messages == 500 and consumed.bytes == 500 * h.PAYLOAD_BYTES
    assert len(latencies) == 100 and min(latencies) > 0

    with h.BrokerProcess() as broker:
        await create_topic(broker.address, "t", 1)
        produced = await h.log_produce(broker.address, "t", 500, 50)
        consumed = await h.log_consume(broker.address, "t", 500)
        latencies = await h.log_latency(broker.address, "t", 100, 50)
        assert broker.topic_bytes("t") == 600 * (h.PAYLOAD_BYTES + 9)  # the paper's 9 bytes per message
    assert produced.messages == consumed.messages == 500 and len(latencies) == 100


@pytest.mark.postgres
def test_postgres_as_a_queue_hands_out_each_message_once_with_skip_locked(postgres_url: str) -> None:
    table = h.unique_topic("minisys_q").replace("-", "_")
    with h.pg_queue(table) as conn:
        assert h.pg_produce(conn, table, 300, 50).messages == 300
        assert h.pg_table_bytes(conn, table) > 300 * h.PAYLOAD_BYTES
        consumed = h.pg_consume(conn, table, 300, batch=70)
        assert consumed.messages == 300
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


def test_the_log_vs_kafka_scenario_measures_the_minisys_log(tmp_path) -> None:
    from scenarios.log_vs_kafka import LogVsKafka

    scenario = LogVsKafka()
    scale = scenario.scales["tiny"]
    outcome = scenario.run("minisys-log", scenario.prepare(scale, 0, None, tmp_path), scale, tmp_path)
    assert outcome.metrics["disk_bytes_per_msg"] == 209.0
    assert outcome.metrics["produce_b50_msg_per_s"] > 0 and outcome.metrics["consume_msg_per_s"] > 0
    assert len(outcome.samples["e2e_latency"]) == 1000
