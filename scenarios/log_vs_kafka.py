"""log-vs-kafka: the Kafka paper's producer and consumer experiment (Kreps et al., NetDB 2011, §5).

One producer publishes N messages of 200 bytes at batch size 1 and at batch
size 50, then one consumer reads them back; a third phase runs a producer and
a consumer together to measure end-to-end latency. The same Python harness
(:mod:`minisys.log.harness`) drives the minisys log (broker in a child
process, its own client), real Apache Kafka (aiokafka) and Postgres used as a
queue (``INSERT`` / ``DELETE ... FOR UPDATE SKIP LOCKED``, the usual "just
use Postgres" answer). The paper used 10^7 messages; here the large scale is
10^6 and tiny/small are far smaller so the suite stays quick.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

from minisys.scenario import Metric, Outcome, Scale, Scenario

LATENCY_MESSAGES = 2_000


class LogVsKafka(Scenario):
    name = "log-vs-kafka"
    title = "Kafka §5: produce at batch 1 and 50, consume, end-to-end latency — minisys log vs Kafka vs Postgres queue"
    description = (
        "A single producer sends N 200-byte messages to a one-partition topic at batch size 1 and "
        "at batch size 50 (waiting for every acknowledgement), then a single consumer reads the N "
        "messages back; then a producer and a consumer run together on the batch-1 topic (batch 50, 1 ms "
        f"pause between batches, {LATENCY_MESSAGES:,} messages) for send-to-receive latency. Bytes on disk per "
        "message are the topic's segment files (or the queue table) over N. Same client process, "
        "same asyncio loop, same message bytes for every system."
    )
    size_label = "messages"
    systems = ("minisys-log", "kafka", "postgres")
    scales = {
        "tiny": Scale("tiny", 1_000, {"messages": 1_000}),
        "small": Scale("small", 5_000, {"messages": 5_000}),
        "medium": Scale("medium", 100_000, {"messages": 100_000}),
        "large": Scale("large", 1_000_000, {"messages": 1_000_000}),
    }
    metrics = (
        Metric("produce_b50_msg_per_s", "msg/s", "higher", "Producer throughput, batch 50"),
        Metric("produce_b1_msg_per_s", "msg/s", "higher", "Producer throughput, batch 1"),
        Metric("produce_b50_mb_per_s", "MB/s", "higher", "Producer payload MB/s, batch 50"),
        Metric("consume_msg_per_s", "msg/s", "higher", "Consumer throughput"),
        Metric("consume_mb_per_s", "MB/s", "higher", "Consumer payload MB/s"),
        Metric("e2e_p50_ms", "ms", "lower", "End-to-end latency, median"),
        Metric("e2e_p99_ms", "ms", "lower", "End-to-end latency, 99th percentile"),
        Metric("disk_bytes_per_msg", "bytes", "lower", "Bytes on disk per 200-byte message"),
        Metric("e2e_latency", "ms", "lower", "End-to-end latency (distribution)"),
    )

    def unavailable(self, system: str) -> str | None:
        from minisys import config

        if system == "kafka":
            if not config.kafka_bootstrap():
                return f"no Kafka configured (set {config.KAFKA_ENV} or run `minisys services up --kafka`)"
            if importlib.util.find_spec("aiokafka") is None:
                return "the Kafka client is not installed (pip install 'minisys[kafka]')"
            from minisys.log.harness import require_kafka

            require_kafka()  # configured but unreachable: the user's to fix, fail now
        if system == "postgres":
            if not config.postgres_url():
                return f"no Postgres configured (set {config.POSTGRES_ENV} or run `minisys services up --postgres`)"
            from minisys.baselines import postgres

            postgres.connect(connect_timeout=3).close()
        return None

    def system_version(self, system: str) -> str:
        if system == "minisys-log":
            from minisys import __version__

            return f"minisys {__version__}"
        return super().system_version(system)

    def prepare(self, scale: Scale, seed: int, data: Path | None, workdir: Path) -> dict[str, Any]:
        # The messages are generated while sending (each carries its send time), from the
        # same function for every system; the workload is just the count.
        return {"messages": scale.params["messages"]}

    def run(self, system: str, workload: dict[str, Any], scale: Scale, workdir: Path) -> Outcome:
        n = workload["messages"]
        runner = {"minisys-log": _run_log, "kafka": _run_kafka, "postgres": _run_postgres}[system]
        metrics, latencies = runner(n, workdir)
        from minisys.log.harness import percentile

        metrics["e2e_p50_ms"] = percentile(latencies, 50)
        metrics["e2e_p99_ms"] = percentile(latencies, 99)
        return Outcome(metrics, samples={"e2e_latency": latencies})

    def notes(self) -> list[str]:
        return [
            "minisys log: broker in a child process (`minisys log serve`), flush every 10,000 messages "
            "or 10 ms with fsync, messages visible only after the flush (the paper's rule, so its "
            "latency includes the flush interval); client pipelines up to 64 requests.",
            "Kafka: aiokafka, acks=1, linger 0, exactly 1 or 50 records per record batch (create_batch/"
            "send_batch); aiokafka keeps one request in flight per partition, the minisys producer "
            "pipelines up to 64 (benchmarks/log_throughput.py also runs it with 1). The team's single "
            "broker, no fsync per message (Kafka's default).",
            "Postgres queue: one transaction per batch of INSERTs; consumer deletes 1,000 rows per "
            "transaction with FOR UPDATE SKIP LOCKED; `minisys services up` runs Postgres with fsync off.",
            "Peak RSS is the client process; broker memory is in benchmarks/log_throughput.py.",
        ]


def _run_log(n: int, workdir: Path) -> tuple[dict[str, float], list[float]]:
    from minisys.log import harness as h
    from minisys.log.client import create_topic

    with h.BrokerProcess(workdir / "log-broker", "--flush-ms", "10") as broker:
        async def go() -> tuple[dict[str, float], list[float]]:
            for topic in ("b1", "b50"):
                await create_topic(broker.address, topic, 1)
            b1 = await h.log_produce(broker.address, "b1", n, 1)
            b50 = await h.log_produce(broker.address, "b50", n, 50)
            consumed = await h.log_consume(broker.address, "b50", n)
            lat = await h.log_latency(broker.address, "b1", min(n, LATENCY_MESSAGES), 50)
            return _metrics(b1, b50, consumed, broker.topic_bytes("b50") / n), lat

        return asyncio.run(go())


def _run_kafka(n: int, workdir: Path) -> tuple[dict[str, float], list[float]]:
    from minisys.baselines import kafka
    from minisys.log import harness as h

    address = h.require_kafka()

    async def go() -> tuple[dict[str, float], list[float]]:
        topics = {k: h.unique_topic(f"minisys-{k}") for k in ("b1", "b50")}
        for topic in topics.values():
            await kafka.create_topic(address, topic, 1)
        try:
            b1 = await h.kafka_produce(address, topics["b1"], n, 1)
            b50 = await h.kafka_produce(address, topics["b50"], n, 50)
            consumed = await h.kafka_consume(address, topics["b50"], n)
            lat = await h.kafka_latency(address, topics["b1"], min(n, LATENCY_MESSAGES), 50)
            on_disk = h.kafka_topic_bytes(topics["b50"])
            per_msg = on_disk / n if on_disk else float("nan")
            return _metrics(b1, b50, consumed, per_msg), lat
        finally:
            for topic in topics.values():
                await kafka.delete_topic(address, topic)

    return asyncio.run(go())


def _run_postgres(n: int, workdir: Path) -> tuple[dict[str, float], list[float]]:
    import os
    import threading
    import time

    from minisys.log import harness as h

    table = f"minisys_queue_{os.getpid()}"
    with h.pg_queue(table + "_b1") as conn:
        b1 = h.pg_produce(conn, table + "_b1", n, 1)
    with h.pg_queue(table) as conn:
        b50 = h.pg_produce(conn, table, n, 50)
        per_msg = h.pg_table_bytes(conn, table) / n
        consumed = h.pg_consume(conn, table, n)
    # Latency: a consumer thread polling the queue while this thread produces.
    m = min(n, LATENCY_MESSAGES)
    latencies: list[float] = []
    with h.pg_queue(table + "_lat") as prod, h.pg_queue(table + "_lat_c") as cons:
        cons.execute(f"DROP TABLE IF EXISTS {table}_lat_c")
        sql = (f"DELETE FROM {table}_lat WHERE id IN (SELECT id FROM {table}_lat ORDER BY id "
               f"FOR UPDATE SKIP LOCKED LIMIT 1000) RETURNING payload")

        def consume() -> None:
            while len(latencies) < m:
                rows = cons.execute(sql).fetchall()
                latencies.extend(h.latency_ms(bytes(r[0])) for r in rows)
                if not rows:
                    time.sleep(0.001)

        reader = threading.Thread(target=consume)
        reader.start()
        for start in range(0, m, 50):
            with prod.transaction():
                prod.cursor().executemany(f"INSERT INTO {table}_lat (payload) VALUES (%s)",
                                          [(h.message(i),) for i in range(start, min(m, start + 50))])
            time.sleep(0.001)
        reader.join()
    return _metrics(b1, b50, consumed, per_msg), latencies


def _metrics(b1, b50, consumed, per_msg: float) -> dict[str, float]:
    return {
        "produce_b50_msg_per_s": b50.msg_per_s,
        "produce_b1_msg_per_s": b1.msg_per_s,
        "produce_b50_mb_per_s": b50.mb_per_s,
        "consume_msg_per_s": consumed.msg_per_s,
        "consume_mb_per_s": consumed.mb_per_s,
        "disk_bytes_per_msg": per_msg,
    }
