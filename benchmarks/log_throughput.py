"""Kafka §5 through one Python harness: minisys log vs real Kafka, batch 1 and 50.

Prints producer and consumer msg/s for the minisys log (broker in a child
process) and for the team's real Kafka broker (aiokafka), measured in the
same run, with the ratio minisys / Kafka, and peak memory (client process,
minisys broker, Kafka JVM). Also answers two design questions the issue
asks: TCP stream vs minisys.net HTTP transport, and sendfile vs read+write;
and the cost of replication (three broker processes, acks=all; Kafka is
measured with one broker, so that row has no Kafka counterpart).

    .venv/bin/python benchmarks/log_throughput.py [--messages 200000] [--no-kafka]

Kafka needs `minisys services up --kafka` (or MINISYS_KAFKA_BOOTSTRAP).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
from collections.abc import Callable

from minisys.errors import MinisysError
from minisys.log import Producer, create_topic
from minisys.log import harness as h


async def log_produce(address: str, topic: str, n: int, batch: int, in_flight: int,
                      acks: int | str = 1) -> h.Throughput:
    import time

    started = time.perf_counter()
    async with Producer(address, batch_size=batch, linger_ms=5, max_in_flight=in_flight, acks=acks) as producer:
        for i in range(n):
            await producer.send(topic, h.message(i), 0)
    return h.Throughput(n, n * h.PAYLOAD_BYTES, time.perf_counter() - started)


def minisys_figures(n: int, *serve_args: str, in_flight: int = 64) -> dict[str, float]:
    with h.BrokerProcess(None, *serve_args) as broker:
        async def go() -> dict[str, float]:
            out = {}
            for batch in (1, 50):
                count = n if batch == 50 else max(1, n // 10)
                topic = f"b{batch}"
                await create_topic(broker.address, topic, 1)
                out[f"produce_b{batch}"] = (await log_produce(broker.address, topic, count, batch, in_flight)).msg_per_s
            out["consume"] = (await h.log_consume(broker.address, "b50", n)).msg_per_s
            return out

        figures = asyncio.run(go())
        figures["broker_peak_mb"] = broker.peak_rss_mb
    return figures


def replicated_figures(n: int) -> dict[str, float]:
    """Three broker processes, one partition replicated on all, acks=all (Kafka 0.8 replication)."""
    from minisys.log import messages as m
    from minisys.log.client import connect

    ids = ("b0", "b1", "b2")
    with h.BrokerProcess(None, "--broker-id", "b0", "--min-insync", "2") as b0, \
            h.BrokerProcess(None, "--broker-id", "b1") as b1, h.BrokerProcess(None, "--broker-id", "b2") as b2:
        brokers = (b0, b1, b2)

        async def go() -> dict[str, float]:
            for topic in ("b1", "b50"):
                for broker in brokers:
                    await create_topic(broker.address, topic, 1)
                    conn = await connect(broker.address)
                    await conn.call(m.LeaderAndIsr(topic, 0, 1, "b0", b0.address, ids, ids))
                    await conn.close()
            out = {}
            for batch in (1, 50):
                count = n if batch == 50 else max(1, n // 10)
                out[f"produce_b{batch}"] = (await log_produce(b0.address, f"b{batch}", count, batch, 64,
                                                              acks="all")).msg_per_s
            out["consume"] = (await h.log_consume(b0.address, "b50", n)).msg_per_s
            return out

        figures = asyncio.run(go())
        figures["broker_peak_mb"] = b0.peak_rss_mb
    return figures


def kafka_figures(n: int) -> dict[str, float]:
    from minisys.baselines import kafka

    address = h.require_kafka()

    async def go() -> dict[str, float]:
        out = {}
        topics = {b: h.unique_topic(f"minisys-bench-b{b}") for b in (1, 50)}
        for topic in topics.values():
            await kafka.create_topic(address, topic, 1)
        try:
            for batch in (1, 50):
                count = n if batch == 50 else max(1, n // 10)
                out[f"produce_b{batch}"] = (await h.kafka_produce(address, topics[batch], count, batch)).msg_per_s
            out["consume"] = (await h.kafka_consume(address, topics[50], n)).msg_per_s
        finally:
            for topic in topics.values():
                await kafka.delete_topic(address, topic)
        return out

    figures = asyncio.run(go())
    figures["broker_peak_mb"] = h.kafka_peak_rss_mb()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000,
                        help="messages at batch 50 and for the consumer (batch 1 sends a tenth)")
    parser.add_argument("--no-kafka", action="store_true", help="minisys only")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs per system (median reported)")
    args = parser.parse_args(argv)
    n = args.messages
    print(f"{n:,} messages of {h.PAYLOAD_BYTES} bytes at batch 50 ({max(1, n // 10):,} at batch 1), "
          f"one partition, one producer then one consumer; median of {args.repeat} after a warm-up")
    configs: dict[str, Callable[[], dict[str, float]]] = {
        "minisys log (TCP stream, sendfile)": lambda: minisys_figures(n),
        "minisys log, 1 request in flight": lambda: minisys_figures(n, in_flight=1),
        "minisys log, read+write (no sendfile)": lambda: minisys_figures(n, "--no-sendfile"),
        "minisys log over minisys.net HTTP": lambda: minisys_figures(n // 4, "--http"),
        "minisys log, 3 replicas, acks=all": lambda: replicated_figures(n),
    }
    if not args.no_kafka:
        configs["Apache Kafka (aiokafka)"] = lambda: kafka_figures(n)
    rows: dict[str, dict[str, float]] = {}
    for name, measure in configs.items():
        try:
            measure()  # warm-up: the same run, discarded
            runs = [measure() for _ in range(args.repeat)]
        except MinisysError as exc:
            print(f"{name} skipped: {exc}")
            continue
        rows[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    kafka = rows.get("Apache Kafka (aiokafka)")
    cols = ("produce_b1", "produce_b50", "consume", "broker_peak_mb")
    print(f"\n{'system':40s} {'produce b1 msg/s':>17s} {'produce b50 msg/s':>18s} {'consume msg/s':>14s} "
          f"{'broker peak MB':>15s}")
    for name, fig in rows.items():
        print(f"{name:40s} " + " ".join(f"{fig[c]:>{w},.0f}" for c, w in zip(cols, (17, 18, 14, 15), strict=True)))
    if kafka:
        base = rows["minisys log (TCP stream, sendfile)"]
        print("\nratio minisys / Kafka (same harness, same run):")
        for c in cols[:3]:
            print(f"  {c:12s} {base[c] / kafka[c]:6.2f}x")
        print(f"  producer batch 50 target (within 2x of Kafka): "
              f"{'met' if base['produce_b50'] >= kafka['produce_b50'] / 2 else 'NOT met'}")
    client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this client process: {client_peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
