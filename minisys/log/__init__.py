"""A Kafka-style partitioned commit log (Kreps, Narkhede, Rao, NetDB 2011).

Paper map (docs/log.md has the full table):

* §3.1 storage — :mod:`~minisys.log.record` (message format, CRC, message
  sets), :mod:`~minisys.log.segment`, :mod:`~minisys.log.index`,
  :mod:`~minisys.log.partition` (offsets, flush, visibility),
  :mod:`~minisys.log.retention`;
* §3.1 stateless broker and efficient transfer — :mod:`~minisys.log.broker`,
  :mod:`~minisys.log.server` (``sendfile``);
* §3.1 producer batching, pulling consumer — :mod:`~minisys.log.producer`,
  :mod:`~minisys.log.consumer` (over :mod:`~minisys.log.client` connections);
* §3.2 consumer groups — :mod:`~minisys.log.registry`,
  :mod:`~minisys.log.rebalance` (Algorithm 1);
* §5 experiments — :mod:`~minisys.log.harness`, ``scenarios/log_vs_kafka.py``,
  ``benchmarks/log_throughput.py``.
"""

from minisys.log.broker import Broker
from minisys.log.client import create_topic
from minisys.log.consumer import Consumer
from minisys.log.partition import LogConfig, PartitionLog
from minisys.log.producer import Producer
from minisys.log.record import Record
from minisys.log.server import StreamServer

__all__ = ["Broker", "Consumer", "LogConfig", "PartitionLog", "Producer", "Record", "StreamServer",
           "create_topic"]
