"""The master/worker protocol, declared in one place (paper §3.1-§3.3, §4.6, §4.9).

Every message is a frozen dataclass that travels as msgpack over
``minisys.net``; nothing is pickled. Job code never travels: a task names the
job by import path (``package.module:Class`` or ``file.py:Class``) and each
worker imports it, as Hadoop and mrjob do (DESIGN principle 3).
"""

from __future__ import annotations

from typing import Any

from minisys.net.messages import message


@message(name="mapreduce.Split")
class Split:
    """One of the M input pieces (§3.1): a byte range of a file on line
    boundaries, or a Parquet row group (``start``/``end`` are row-group numbers)."""

    path: str
    start: int
    end: int
    format: str


@message(name="mapreduce.Region")
class Region:
    """Where one map task's region for one reduce partition lives (§3.2):
    the master keeps these per completed map task and hands them to reducers."""

    map_task: int
    worker: str
    url: str
    path: str
    size: int
    records: int


@message(name="mapreduce.TaskSpec")
class TaskSpec:
    """An assignment: everything a worker needs to run one attempt of a task."""

    kind: str  # "map" | "reduce"
    task: int
    attempt: int
    step: int
    job: str
    params: Any
    reduce_tasks: int
    split: Split | None
    regions: list[Region]
    output_dir: str
    final_step: bool
    skip: list[int]
    spill_records: int
    merge_fan_in: int


@message(name="mapreduce.Ping")
class Ping:
    """Liveness (§3.3): a worker reports in every ``ping_interval`` seconds; the
    master declares it failed when it has been silent for ``ping_timeout``."""

    worker: str
    url: str


@message(name="mapreduce.Pong")
class Pong:
    job_state: str  # "running" | "done" | "failed" | "evicted"


@message(name="mapreduce.RequestTask")
class RequestTask:
    worker: str
    url: str


@message(name="mapreduce.Assignment")
class Assignment:
    task: TaskSpec | None
    job_state: str


@message(name="mapreduce.MapDone")
class MapDone:
    """A map task's completion: the names of its R region files (§3.3, atomic
    commit) and the counters of this attempt (§4.9)."""

    worker: str
    task: int
    attempt: int
    step: int
    regions: list[Region]
    counters: dict[str, dict[str, int]]
    input_bytes: int
    output_bytes: int


@message(name="mapreduce.ReduceDone")
class ReduceDone:
    worker: str
    task: int
    attempt: int
    step: int
    counters: dict[str, dict[str, int]]
    shuffle_bytes: int
    output_bytes: int


@message(name="mapreduce.TaskFailed")
class TaskFailed:
    """An attempt failed. ``record`` is the sequence number of the record being
    processed (the paper's "last gasp" packet, §4.6); ``fatal`` marks errors no
    retry can fix (unreadable input, unserialisable keys); ``lost_input`` marks
    a reducer that could not fetch a region (the map output is gone; ``where``
    then names the unreachable map worker)."""

    worker: str
    task: int
    attempt: int
    step: int
    kind: str
    error: str
    record: int | None
    where: str
    fatal: bool
    lost_input: bool


@message(name="mapreduce.Ack")
class Ack:
    accepted: bool


@message(name="mapreduce.FetchRegion")
class FetchRegion:
    """A reducer reading part of a map worker's region file (§3.1, "remote procedure calls")."""

    path: str
    offset: int
    length: int


@message(name="mapreduce.RegionChunk")
class RegionChunk:
    data: bytes
    eof: bool
