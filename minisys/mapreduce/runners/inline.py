"""The inline runner: the whole job, sequentially, in this process (paper §4.7).

"To help facilitate debugging, profiling, and small-scale testing, we have
developed an alternative implementation of the MapReduce library that
sequentially executes all of the work for a MapReduce operation on the local
machine." It drives the same master state machine and runs the same task
code as the other runners, so a breakpoint in ``map`` works and the output is
the reference the other runners must match byte for byte.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from minisys.mapreduce.driver import JobDriver, RunResult
from minisys.mapreduce.worker import run_task

WORKER = "inline"


def run_inline(driver: JobDriver, workdir: str | Path | None = None) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="minisys-mr-inline-", dir=workdir) as tmp:
        while driver.state == "running":
            spec = driver.request_task(WORKER, "", time.time())
            if spec is None:  # only a running backup could cause this, and inline has none
                driver.fail("no task to run although the job is not done (a bug)")
                break
            driver.deliver(run_task(spec, Path(tmp), WORKER, "", None), time.time())
    return driver.finish()
