"""What a worker does with one task (paper §3.1 steps 3-5, §3.3, §4.6).

A **map task** reads its split, calls Map on each record, and hands the pairs
to a :class:`~minisys.mapreduce.spill.MapOutputBuffer`, which combines,
partitions and spills them into R sorted region files in a directory private
to this attempt. Their names go back to the master in ``MapDone``.

A **reduce task** gets the locations of its region in every map output,
reads them (from local disk, or over HTTP from the map worker, in cluster
mode), k-way merges them, calls Reduce once per key in increasing key order,
and writes a temporary file that it atomically renames to its final name
``part-NNNNN`` (§3.3): with several attempts of one task, the file is exactly
one attempt's output.

Both catch what the user's code raises and report it as ``TaskFailed`` with
the sequence number of the record being processed -- the paper's "last
gasp" (§4.6) -- so the master can decide to skip that record next time.
"""

from __future__ import annotations

import json
import os
import shutil
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minisys.errors import BadInput
from minisys.mapreduce.inputs import describe_record, read_split
from minisys.mapreduce.job import Job, load_job
from minisys.mapreduce.merge import group_by_key, merge_runs
from minisys.mapreduce.messages import MapDone, ReduceDone, Region, TaskFailed, TaskSpec
from minisys.mapreduce.partition import hash_partition
from minisys.mapreduce.spill import MapOutputBuffer

#: Counter group of the built-in counters (§4.9: "input key/value pairs processed").
BUILTIN = "mapreduce"

#: Output lines a reducer joins into one write.
WRITE_BATCH = 4096

#: ``fetch(region, dest_path)`` copies a remote region to a local file.
Fetcher = Callable[[Region, Path], None]

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_encode_str = json.encoder.encode_basestring  # the C implementation when available


def dumps(value: Any) -> str:
    """JSON for one output key or value; str and int take a fast path."""
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is int:
        return int.__repr__(value)
    return _encoder.encode(value)


def part_name(task: int) -> str:
    return f"part-{task:05d}"


def attempt_dir(workdir: Path, spec: TaskSpec) -> Path:
    return workdir / f"s{spec.step}-{spec.kind}{spec.task:05d}-a{spec.attempt}"


def _failure(spec: TaskSpec, worker: str, exc: BaseException, record: int | None, where: str) -> TaskFailed:
    fatal = isinstance(exc, BadInput)
    lost = isinstance(exc, RegionLost)
    if lost:
        where = exc.worker  # type: ignore[attr-defined]  # the suspect, for the master (§3.3)
    if fatal or lost:
        error = str(exc)
    else:
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        at = f" ({Path(frame.filename).name}:{frame.lineno} in {frame.name})" if frame else ""
        error = f"{type(exc).__name__}: {exc}{at}"
    return TaskFailed(worker, spec.task, spec.attempt, spec.step, spec.kind, error, record, where, fatal, lost)


class RegionLost(Exception):
    """A map output a reducer needs cannot be read (its worker is gone, §3.3)."""

    def __init__(self, message: str, worker: str) -> None:
        super().__init__(message)
        self.worker = worker


def run_map_task(spec: TaskSpec, workdir: Path, worker: str, url: str) -> MapDone | TaskFailed:
    assert spec.split is not None
    job = load_job(spec.job)(spec.params)
    job.input_path = spec.split.path
    step = job.steps()[spec.step]
    mapper = step.map or Job.map.__get__(job)
    # The default partitioner is passed as the plain function, so the buffer can apply it in bulk.
    partition = step.partition or (hash_partition if type(job).partition is Job.partition else job.partition)
    out_dir = attempt_dir(workdir, spec)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    buffer = MapOutputBuffer(spec.reduce_tasks, partition, step.combine, spec.spill_records, out_dir)
    add = buffer.add
    skip = set(spec.skip)
    seq, key, skipped, records = -1, None, 0, 0
    try:
        job.setup()
        if step.combine is None:
            for seq, (key, value) in enumerate(read_split(spec.split)):
                if skip and seq in skip:
                    skipped += 1
                    continue
                for out_key, out_value in mapper(key, value):
                    add(out_key, out_value)
        else:
            seq, skipped = _map_grouped(buffer, mapper, read_split(spec.split), skip)
            key = None
        records = seq + 1
        seq = None
        buffer.extend(job.teardown() or ())
        regions = buffer.finish(spec.merge_fan_in)
    except Exception as exc:
        shutil.rmtree(out_dir, ignore_errors=True)
        if isinstance(exc, _AtRecord):
            exc, seq = exc.exc, exc.seq
            key = _key_at(spec, seq)
        where = describe_record(spec.split, key) if seq is not None and seq >= 0 else spec.split.path
        return _failure(spec, worker, exc, seq if seq is not None and seq >= 0 else None, where)
    counters = job.take_counters()
    builtin = counters.setdefault(BUILTIN, {})
    builtin["map_input_records"] = records - skipped
    builtin["map_output_records"] = buffer.output_records
    if skipped:
        builtin["skipped_records"] = skipped
    size = os.path.getsize(spec.split.path) if spec.split.format != "parquet" else 0
    input_bytes = min(spec.split.end, size) - spec.split.start if spec.split.format != "parquet" else 0
    return MapDone(
        worker,
        spec.task,
        spec.attempt,
        spec.step,
        [Region(spec.task, worker, url, str(path), nbytes, n) for path, nbytes, n in regions],
        counters,
        max(0, input_bytes),
        sum(nbytes for _, nbytes, _ in regions),
    )


def _map_grouped(buffer: MapOutputBuffer, mapper: Any, records: Any, skip: set[int]) -> tuple[int, int]:
    """The map loop for jobs with a combiner, with the buffer's grouping inlined
    (one dict lookup and append per pair: this loop is the map task's hot path)."""
    groups, limit, pending = buffer.groups, buffer.limit, 0
    seq, skipped = -1, 0
    try:
        for seq, (key, value) in enumerate(records):
            if skip and seq in skip:
                skipped += 1
                continue
            for out_key, out_value in mapper(key, value):
                values = groups.get(out_key)
                if values is None:
                    groups[out_key] = [out_value]
                else:
                    values.append(out_value)
                pending += 1
            if pending >= limit:
                buffer.output_records += pending
                buffer.buffered, pending = pending, 0
                buffer.spill()
                groups = buffer.groups
    except TypeError as exc:
        if "unhashable" in str(exc):
            raise BadInput(f"with a combiner, map keys must be hashable (str, int, float, bool, None): {exc}") from None
        raise _AtRecord(exc, seq) from None
    except Exception as exc:
        raise _AtRecord(exc, seq) from None
    buffer.output_records += pending
    buffer.buffered = pending
    return seq, skipped


def _key_at(spec: TaskSpec, seq: int) -> Any:
    """The key of record ``seq`` of the split (read again, only to name it in an error)."""
    assert spec.split is not None
    try:
        for i, (key, _) in enumerate(read_split(spec.split)):
            if i == seq:
                return key
    except Exception:  # noqa: BLE001 - best effort, for a message
        return None
    return None


class _AtRecord(Exception):
    """An exception from the user's map function, with the record it happened at."""

    def __init__(self, exc: Exception, seq: int) -> None:
        super().__init__(str(exc))
        self.exc, self.seq = exc, seq


def run_reduce_task(spec: TaskSpec, workdir: Path, worker: str, fetch: Fetcher | None) -> ReduceDone | TaskFailed:
    job = load_job(spec.job)(spec.params)
    step = job.steps()[spec.step]
    reducer = step.reduce or Job.reduce.__get__(job)
    tmp_dir = attempt_dir(workdir, spec)
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    out_dir = Path(spec.output_dir)
    temporary = out_dir / "_temporary"
    seq, key, skipped, groups, out_records = -1, None, 0, 0, 0
    tmp_out = temporary / f"{part_name(spec.task)}.s{spec.step}.a{spec.attempt}"
    try:
        runs = []
        shuffle_bytes = in_records = 0
        for i, region in enumerate(sorted(spec.regions, key=lambda r: r.map_task)):
            shuffle_bytes += region.size
            in_records += region.records
            if region.size == 0:
                continue
            if fetch is None:
                if not os.path.exists(region.path):
                    raise RegionLost(f"map task {region.map_task}'s region {region.path} is gone", region.worker)
                runs.append(Path(region.path))
            else:
                local = tmp_dir / f"fetch-{i:05d}.mp"
                fetch(region, local)
                runs.append(local)
        temporary.mkdir(parents=True, exist_ok=True)
        skip = set(spec.skip)
        job.setup()
        with open(tmp_out, "w", encoding="utf-8") as out:
            lines: list[str] = []  # written a batch at a time: one write call per WRITE_BATCH lines
            append = lines.append
            # The reduce side's sort buffer is as large as the map side's (spill_records).
            merged = merge_runs(runs, tmp_dir, spec.merge_fan_in, records=in_records, memory_records=spec.spill_records)
            for seq, (key, values) in enumerate(group_by_key(merged)):
                if skip and seq in skip:
                    skipped += 1
                    continue
                groups += 1
                for out_key, out_value in reducer(key, values):
                    append(f"{dumps(out_key)}\t{dumps(out_value)}\n")
                    if len(lines) >= WRITE_BATCH:
                        out_records += len(lines)
                        out.write("".join(lines))
                        lines.clear()
            seq = None
            for out_key, out_value in job.teardown() or ():
                append(f"{dumps(out_key)}\t{dumps(out_value)}\n")
            out_records += len(lines)
            out.write("".join(lines))
        final = out_dir / part_name(spec.task)
        os.replace(tmp_out, final)  # §3.3 atomic commit: exactly one attempt's file survives
        output_bytes = final.stat().st_size
    except Exception as exc:
        tmp_out.unlink(missing_ok=True)
        shutil.rmtree(tmp_dir, ignore_errors=True)
        if isinstance(exc, TypeError) and "JSON serializable" in str(exc):
            exc = BadInput(f"reduce output must be JSON-serialisable: {exc}")
        where = f"reduce task {spec.task}, key {key!r:.80}" if seq is not None and seq >= 0 else f"reduce task {spec.task}"
        return _failure(spec, worker, exc, seq if seq is not None and seq >= 0 else None, where)
    shutil.rmtree(tmp_dir, ignore_errors=True)
    counters = job.take_counters()
    builtin = counters.setdefault(BUILTIN, {})
    builtin["reduce_input_groups"] = groups
    builtin["reduce_input_records"] = in_records
    builtin["reduce_output_records"] = out_records
    if skipped:
        builtin["skipped_records"] = skipped
    return ReduceDone(worker, spec.task, spec.attempt, spec.step, counters, shuffle_bytes, output_bytes)


def run_task(spec: TaskSpec, workdir: Path, worker: str, url: str, fetch: Fetcher | None) -> Any:
    """Run one attempt; never raises for the job's own errors (they become TaskFailed)."""
    try:
        if spec.kind == "map":
            return run_map_task(spec, workdir, worker, url)
        return run_reduce_task(spec, workdir, worker, fetch)
    except BadInput as exc:  # the job itself cannot be loaded on this worker
        return TaskFailed(worker, spec.task, spec.attempt, spec.step, spec.kind, str(exc), None, spec.job, True, False)
