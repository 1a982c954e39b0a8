"""Messages of the serving tree (Dremel §6): plain frozen dataclasses, nothing pickled.

Queries travel as their SQL text and the table's directory; a partial result
carries Arrow IPC streams (one per partial aggregate) or JSON records, so a
leaf, an intermediate and the root can be separate processes or hosts.
"""

from __future__ import annotations

import json

import pyarrow as pa

from minisys.dremel.query.executor import Partial
from minisys.net import message


@message(name="dremel.ScanTablet")
class ScanTablet:
    sql: str
    table_dir: str
    tablet: int


@message(name="dremel.ScanTablets")
class ScanTablets:
    sql: str
    table_dir: str
    tablets: list[int]
    min_fraction: float


@message(name="dremel.PartialResult")
class PartialResult:
    tablets: int  # tablets answered
    records: bytes  # JSON list of nested records (queries without aggregation)
    aggregates: list[bytes]  # one Arrow IPC stream per aggregate
    flat: list[bytes]  # Arrow IPC streams of flat rows (outputs all at record level)
    tablet_seconds: list[float]
    redispatched: int


@message(name="dremel.RunQuery")
class RunQuery:
    sql: str
    table_dir: str
    min_fraction: float


@message(name="dremel.QueryReply")
class QueryReply:
    result: bytes  # Arrow IPC stream of the flat result, or JSON records
    nested: bool
    tablets_scanned: int
    tablets_total: int
    tablet_seconds: list[float]
    redispatched: int


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def encode_partial(p: Partial, seconds: list[float], redispatched: int) -> PartialResult:
    return PartialResult(p.tablets, json.dumps(p.records).encode(), [ipc(t) for t in p.aggregates],
                         [ipc(t) for t in p.flat], seconds, redispatched)


def decode_partial(r: PartialResult) -> Partial:
    return Partial(records=json.loads(r.records), aggregates=[from_ipc(b) for b in r.aggregates],
                   flat=[from_ipc(b) for b in r.flat], tablets=r.tablets)
