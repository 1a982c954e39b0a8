"""The Spark runner: the same Job on PySpark, for users who outgrow one machine.

Each step becomes one Spark job built from this package's own task code, so
the semantics (readers, combiner, partitioner, key order, counters, atomic
output) are the ones every other runner has:

* the M splits are an RDD of M elements; each Spark task runs
  :func:`~minisys.mapreduce.worker.run_map_task` on its split (map, combine,
  partition, sort, spill) and emits its region records tagged
  ``(partition, key, map task, position)``;
* ``repartitionAndSortWithinPartitions`` is the shuffle and the sort (Spark's
  external sorter); sorting ties by map task and position gives each key's
  values in exactly the order the inline runner's k-way merge gives them;
* each of the R Spark tasks writes its sorted records to one run file and
  runs :func:`~minisys.mapreduce.worker.run_reduce_task` on it, which calls
  Reduce per key and commits ``part-NNNNN`` by atomic rename.

What Spark does differently is documented in docs/mapreduce.md: it retries
failed tasks itself (no bad-record skipping), its closures are cloudpickled
to its Python workers, and map-side counters travel in an accumulator, which
Spark may count twice if it re-runs a map task.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from minisys.mapreduce.driver import JobFailed, RunResult
from minisys.mapreduce.inputs import expand_inputs, make_splits
from minisys.mapreduce.job import job_spec, load_job
from minisys.mapreduce.master import MasterConfig
from minisys.mapreduce.messages import MapDone, ReduceDone, Region, Split, TaskSpec
from minisys.mapreduce.output import (
    TEMPORARY,
    abort_output,
    commit_output,
    part_files,
    prepare_output,
)
from minisys.mapreduce.spill import read_run, write_run
from minisys.mapreduce.worker import run_map_task, run_reduce_task

WORKER = "spark"


def _spec(kind: str, task: int, plan: dict[str, Any], split: Split | None, regions: list[Region]) -> TaskSpec:
    return TaskSpec(kind=kind, task=task, attempt=task, step=plan["step"], job=plan["job"], params=plan["params"],
                    reduce_tasks=plan["R"], split=split, regions=regions, output_dir=plan["output_dir"],
                    final_step=plan["final"], skip=[], spill_records=plan["spill_records"],
                    merge_fan_in=plan["merge_fan_in"])


def _importable(plan: dict[str, Any]) -> None:
    """Let Spark's Python workers import the job the way the driver did."""
    for entry in plan["sys_path"]:
        if entry not in sys.path:
            sys.path.append(entry)


def _map_partition(plan: dict[str, Any], counters: Any, index: int, items: Iterator[Any]) -> Iterator[Any]:
    _importable(plan)
    for task, (path, start, end, fmt) in items:
        with tempfile.TemporaryDirectory(prefix="minisys-mr-spark-map-") as tmp:
            done = run_map_task(_spec("map", task, plan, Split(path, start, end, fmt), []), Path(tmp), WORKER, "")
            if not isinstance(done, MapDone):
                raise RuntimeError(f"map task {task}: {done.error} ({done.where})")
            counters.add(done.counters)
            for region in done.regions:
                for pos, (key, value) in enumerate(read_run(region.path)):
                    p = int(Path(region.path).stem[1:])  # r00003.mp -> partition 3
                    yield (p, key, task, pos), value


def _reduce_partition(plan: dict[str, Any], index: int, records: Iterator[Any]) -> Iterator[Any]:
    _importable(plan)
    with tempfile.TemporaryDirectory(prefix="minisys-mr-spark-reduce-") as tmp:
        run = Path(tmp) / "input.mp"
        size, n = write_run(run, ([k[1], v] for k, v in records))
        region = Region(0, WORKER, "", str(run), size, n)
        done = run_reduce_task(_spec("reduce", index, plan, None, [region]), Path(tmp) / "work", WORKER, None)
    if not isinstance(done, ReduceDone):
        raise RuntimeError(f"reduce task {index}: {done.error} ({done.where})")
    yield done.counters


def _add_counters(total: dict[str, dict[str, int]], more: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    for group, values in more.items():
        grp = total.setdefault(group, {})
        for name, n in values.items():
            grp[name] = grp.get(name, 0) + n
    return total


def run_spark(job: Any, inputs: list[Any], output: Any, config: MasterConfig, *, split_mb: float = 32.0,
              input_format: str | None = None, master: str = "local[*]", args: dict[str, str] | None = None
              ) -> RunResult:
    from pyspark.accumulators import AccumulatorParam

    from minisys.baselines import spark as spark_baseline

    class CounterParam(AccumulatorParam):  # type: ignore[misc]
        def zero(self, value: dict) -> dict:
            return {}

        def addInPlace(self, a: dict, b: dict) -> dict:  # noqa: N802 - Spark's name
            return _add_counters(a, b)

    spec = job_spec(job)
    cls = load_job(spec)
    files = expand_inputs(inputs)
    out = prepare_output(output)
    started = time.time()
    try:
        params = cls(args=args).prepare([str(f) for f in files], config.reduce_tasks)
        steps = len(cls(params).steps())
        # Spark's Python workers must run this interpreter (it has minisys and the job's imports).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        sc = spark_baseline.session(master).sparkContext
        counters: dict[str, dict[str, int]] = {}
        timings: dict[str, float] = {}
        R = config.reduce_tasks
        for step in range(steps):
            t0 = time.time()
            final = step == steps - 1
            step_out = out if final else out / TEMPORARY / f"step-{step}"
            step_out.mkdir(parents=True, exist_ok=True)
            if step == 0:
                splits = make_splits(files, int(split_mb * 1024 * 1024), input_format or cls.INPUT_FORMAT)
            else:
                splits = make_splits(part_files(out / TEMPORARY / f"step-{step - 1}"), int(split_mb * 1024 * 1024),
                                     "pairs")
            plan = {"step": step, "job": spec, "params": params, "R": R, "output_dir": str(step_out), "final": final,
                    "spill_records": config.spill_records, "merge_fan_in": config.merge_fan_in,
                    "sys_path": [p for p in sys.path if p and os.path.isdir(p)]}
            acc = sc.accumulator({}, CounterParam())
            items = [(i, (s.path, s.start, s.end, s.format)) for i, s in enumerate(splits)]
            rdd = sc.parallelize(items, max(1, len(items)))
            shuffled = rdd.mapPartitionsWithIndex(lambda i, it, plan=plan, acc=acc: _map_partition(plan, acc, i, it))
            ordered = shuffled.repartitionAndSortWithinPartitions(R, partitionFunc=lambda k: k[0])
            reduce_counters = ordered.mapPartitionsWithIndex(lambda i, it, plan=plan: _reduce_partition(plan, i, it))
            for c in reduce_counters.collect():
                _add_counters(counters, c)
            _add_counters(counters, acc.value)
            timings[f"step{step}_s"] = time.time() - t0
        counters = {g: dict(sorted(v.items())) for g, v in sorted(counters.items())}
        commit_output(out, counters)
    except Exception as exc:
        abort_output(out)
        if isinstance(exc, JobFailed):
            raise
        detail = str(exc).strip().splitlines()
        reason = next((line for line in detail if "map task" in line or "reduce task" in line), detail[0] if detail
                      else type(exc).__name__)
        raise JobFailed(f"job {spec} failed on Spark: {reason.strip()[:400]}") from None
    finally:
        shutil.rmtree(out / TEMPORARY, ignore_errors=True) if (out / "_SUCCESS").exists() else None
    return RunResult(output=out, counters=counters, timings={"total_s": time.time() - started, **timings},
                     peak_rss_mb={"driver": _rss_mb()})


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


