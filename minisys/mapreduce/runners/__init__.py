"""Runners: the same Job, unchanged, inline / on local processes / on a cluster / on Spark."""

from __future__ import annotations

import os
from typing import Any

from minisys.errors import BadInput
from minisys.mapreduce.driver import JobDriver, RunResult
from minisys.mapreduce.job import Job
from minisys.mapreduce.master import MasterConfig

RUNNERS = ("inline", "local", "cluster", "spark")


def run(
    job: type[Job] | str,
    inputs: list[str | os.PathLike[str]] | str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    runner: str = "inline",
    workers: int = 2,
    reduce_tasks: int = 2,
    split_mb: float = 32.0,
    input_format: str | None = None,
    spark_master: str = "local[*]",
    args: dict[str, str] | None = None,
    **options: Any,
) -> RunResult:
    """Run ``job`` over ``inputs`` into the directory ``output``.

    ``args`` are the job's own options (``Job.prepare`` sees them). ``options`` are :class:`MasterConfig` fields (``skip_bad_records``,
    ``backup_tasks``, ``ping_timeout``, ``spill_records``...) and, for the
    local runner, ``status_port`` and ``restart_workers``.
    """
    if runner not in RUNNERS:
        raise BadInput(f"unknown runner {runner!r}; use one of {', '.join(RUNNERS)}")
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    runner_opts = {k: options.pop(k) for k in ("status_port", "restart_workers", "worker_args") if k in options}
    fields = set(MasterConfig.__dataclass_fields__)
    unknown = set(options) - fields
    if unknown:
        raise BadInput(f"unknown option(s) {', '.join(sorted(unknown))}")
    config = MasterConfig(reduce_tasks=reduce_tasks, **options)
    if runner == "spark":
        from minisys.mapreduce.runners.spark import run_spark

        return run_spark(job, list(inputs), output, config, split_mb=split_mb, input_format=input_format,
                         master=spark_master, args=args)
    driver = JobDriver(job, list(inputs), output, config, split_mb=split_mb, input_format=input_format,
                       args=args)
    if runner == "inline":
        from minisys.mapreduce.runners.inline import run_inline

        return run_inline(driver)
    from minisys.mapreduce.runners.local import run_local

    return run_local(driver, workers=workers, shuffle="local" if runner == "local" else "http", **runner_opts)
