"""mapreduce-paper: the paper's §5 experiments in miniature, on this machine.

* §5.2 grep: a rare pattern over 100-byte records, R = 1;
* §5.3 sort: TeraSort-like 100-byte records (10-byte key), a sampling range
  partitioner, identity Reduce;
* §5.4 sort with backup tasks disabled while one worker is a straggler (it
  takes ``STRAGGLER_SLOWDOWN`` times longer per task -- the paper's "machine
  with a bad disk"); the paper measured +44% against the normal run;
* §5.5 sort while a worker process is SIGKILLed part-way through (and a new
  one started, as the paper's cluster scheduler did); the paper measured +5%.

Every run does all four on the same data and reports each variant as a ratio
to the normal sort *of the same run*, next to the paper's ratio. The normal
sort has the same straggler, with backup tasks on, as the paper's normal run
had whatever stragglers its cluster had. Figure 3-style timelines (input,
shuffle and output rates over time) are drawn by ``benchmarks/mapreduce_paper.py``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np

from minisys.scenario import Metric, Outcome, Scale, Scenario

WORKERS = 3
STRAGGLER_SLOWDOWN = 4.0
PAPER_NO_BACKUP_RATIO = 1283 / 891
PAPER_KILLED_RATIO = 933 / 891
EX = "minisys.mapreduce.examples"


def generate_records(path: Path, records: int, seed: int, pattern: str = "xyz") -> None:
    """100-byte records: a 10-character key, a 89-character payload, a newline;
    about one in 100,000 payloads carries the grep pattern (the paper: 92,337 in 10^10)."""
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvw0123456789", dtype=np.uint8)
    with open(path, "wb") as f:
        for start in range(0, records, 100_000):
            n = min(100_000, records - start)
            block = alphabet[rng.integers(0, len(alphabet), size=(n, 99))]
            block = np.concatenate([block, np.full((n, 1), ord("\n"), dtype=np.uint8)], axis=1)
            hits = rng.random(n) < 1e-4
            block[hits, 40:43] = np.frombuffer(pattern.encode(), dtype=np.uint8)
            f.write(block.tobytes())


def config(**overrides: Any) -> dict[str, Any]:
    """Small tasks need small backup thresholds: a straggler is 2x the median after 0.2 s."""
    base = {"backup_min_seconds": 0.2, "backup_slowness": 2.0, "ping_timeout": 1.0}
    return {**base, **overrides}


async def run_job(job: str, inputs: list[Path], out: Path, *, reduce_tasks: int, split_mb: float,
                  args: dict[str, str] | None = None, kill_after: float | None = None,
                  **options: Any) -> tuple[float, Any]:
    """One job on the local runner with a straggler worker; optionally SIGKILL a healthy worker."""
    from minisys.mapreduce.driver import JobDriver
    from minisys.mapreduce.master import MasterConfig
    from minisys.mapreduce.runners.local import LocalRunner

    driver = JobDriver(job, inputs, out, MasterConfig(reduce_tasks=reduce_tasks, **config(**options)),
                       split_mb=split_mb, args=args)
    runner = LocalRunner(driver, workers=WORKERS, worker_args={"w1": ["--slowdown", str(STRAGGLER_SLOWDOWN)]})

    async def killer() -> None:
        if kill_after is None:
            return
        await asyncio.sleep(kill_after)
        healthy = [w for w in sorted(runner.processes) if w != "w1"]
        if healthy and driver.state == "running":
            os.kill(runner.processes[healthy[0]].pid, signal.SIGKILL)

    start = time.perf_counter()
    result, _ = await asyncio.gather(runner.run_async(), killer())
    return time.perf_counter() - start, result


class MapReducePaper(Scenario):
    name = "mapreduce-paper"
    title = "The MapReduce paper's §5 in miniature: grep, sort, sort without backups, sort with killed workers"
    description = (
        "Grep and a TeraSort-like sort over 100-byte records on the local runner with three worker processes, "
        f"one of them a straggler ({STRAGGLER_SLOWDOWN:g}x slower per task). The sort is repeated with backup "
        "tasks disabled (paper: +44%) and with a healthy worker SIGKILLed part-way (paper: +5%); each variant "
        "is reported as a ratio to the normal sort of the same run."
    )
    size_label = "MB of records"
    systems = ("minisys",)
    scales = {
        "tiny": Scale("tiny", 1, {"records": 10_000}),
        "small": Scale("small", 3, {"records": 30_000}),
        "medium": Scale("medium", 100, {"records": 1_000_000}),
        "large": Scale("large", 1000, {"records": 10_000_000}),
    }
    metrics = (
        Metric("sort_s", "s", "lower", "Sort, normal run (§5.3)"),
        Metric("grep_s", "s", "lower", "Grep (§5.2)"),
        Metric("sort_no_backups_s", "s", "lower", "Sort without backup tasks (§5.4)"),
        Metric("sort_killed_s", "s", "lower", "Sort with a worker killed (§5.5)"),
        Metric("no_backups_ratio", "x", "lower", f"No backups / normal (paper {PAPER_NO_BACKUP_RATIO:.2f})"),
        Metric("killed_ratio", "x", "lower", f"Worker killed / normal (paper {PAPER_KILLED_RATIO:.2f})"),
        Metric("backup_attempts", "tasks", "lower", "Backup tasks launched in the normal sort"),
    )

    def prepare(self, scale: Scale, seed: int, data: Path | None, workdir: Path) -> dict[str, Any]:
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "records.txt"
        generate_records(path, scale.params["records"], seed)
        mb = path.stat().st_size / 1e6
        # About 3 map tasks per worker, as in the paper's M >> workers (scaled down).
        return {"path": path, "split_mb": max(0.05, mb / (3 * WORKERS) / 1.048576)}

    def run(self, system: str, workload: dict[str, Any], scale: Scale, workdir: Path) -> Outcome:
        return asyncio.run(self._run(workload, workdir))

    async def _run(self, w: dict[str, Any], workdir: Path) -> Outcome:
        path, split = [w["path"]], w["split_mb"]
        sort = f"{EX}.sort:Sort"
        grep_s, _ = await run_job(f"{EX}.grep:Grep", path, workdir / "grep", reduce_tasks=1, split_mb=split,
                                  args={"pattern": "xyz"})
        sort_s, normal = await run_job(sort, path, workdir / "sort", reduce_tasks=WORKERS, split_mb=split)
        no_backup_s, _ = await run_job(sort, path, workdir / "nobackup", reduce_tasks=WORKERS, split_mb=split,
                                       backup_tasks=False)
        killed_s, _ = await run_job(sort, path, workdir / "killed", reduce_tasks=WORKERS, split_mb=split,
                                    kill_after=0.5 * sort_s)
        return Outcome({
            "sort_s": sort_s,
            "grep_s": grep_s,
            "sort_no_backups_s": no_backup_s,
            "sort_killed_s": killed_s,
            "no_backups_ratio": no_backup_s / sort_s,
            "killed_ratio": killed_s / sort_s,
            "backup_attempts": sum(a["backup"] for a in normal.attempts),
        })

    def notes(self) -> list[str]:
        return [
            f"Local runner, {WORKERS} worker processes on one machine; worker w1 is a straggler: it waits "
            f"{STRAGGLER_SLOWDOWN - 1:g}x its task's time before reporting. Backups launch for a task running "
            "longer than max(0.2 s, 2x the phase's median task time) once no idle task is left.",
            f"Paper (1,800 machines, 1 TB): sort 891 s; no backups 1283 s ({PAPER_NO_BACKUP_RATIO:.2f}x); "
            f"200 workers killed 933 s ({PAPER_KILLED_RATIO:.2f}x). Here a kill costs the ping timeout (1 s) plus "
            "re-running the dead worker's map tasks, which is large next to a few-second job.",
        ]
