"""A job from start to finish: input splitting, one master per step, output commit.

Every runner (inline, local, cluster) drives the same :class:`JobDriver`,
which wraps the master state machine (master.py) of the current step of a
multi-step job and chains the steps: step *i* writes under
``DIR/_temporary/step-i`` and step *i+1* reads that as its input; the last
step writes ``DIR/part-*``. Messages belonging to an old step are ignored.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minisys.errors import MinisysError
from minisys.mapreduce.inputs import expand_inputs, make_splits
from minisys.mapreduce.job import Job, job_spec, load_job
from minisys.mapreduce.master import Master, MasterConfig
from minisys.mapreduce.messages import MapDone, ReduceDone, TaskFailed, TaskSpec
from minisys.mapreduce.output import (
    TEMPORARY,
    abort_output,
    commit_output,
    part_files,
    prepare_output,
    read_output,
)


class JobFailed(MinisysError):
    """The job aborted (a task failed too often, bad input, or the master died)."""


@dataclass
class RunResult:
    """What ``minisys.mapreduce.run`` returns."""

    output: Path
    counters: dict[str, dict[str, int]]
    timings: dict[str, float]
    attempts: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[float, str, int]] = field(default_factory=list)
    failed_workers: list[str] = field(default_factory=list)
    #: Peak RSS (MB) of every process that ran the job: "master" and each worker.
    peak_rss_mb: dict[str, float] = field(default_factory=dict)

    def pairs(self) -> Any:
        """Iterator over the output (key, value) pairs, part file by part file."""
        return read_output(self.output)

    @property
    def parts(self) -> list[Path]:
        return part_files(self.output)


class JobDriver:
    def __init__(
        self,
        job: type[Job] | str,
        inputs: list[str | os.PathLike[str]],
        output: str | os.PathLike[str],
        config: MasterConfig | None = None,
        *,
        split_mb: float = 32.0,
        input_format: str | None = None,
        args: dict[str, str] | None = None,
    ) -> None:
        self.spec = job_spec(job)
        self.job_cls = load_job(self.spec)
        self.config = config or MasterConfig()
        if self.config.reduce_tasks < 1:
            raise MinisysError("reduce tasks must be >= 1")
        self.files = expand_inputs(inputs)
        self.split_bytes = max(1, int(split_mb * 1024 * 1024))
        self.input_format = input_format or self.job_cls.INPUT_FORMAT
        self.output = prepare_output(output)
        self.started = time.time()
        try:
            self.params = self.job_cls(args=args).prepare([str(f) for f in self.files], self.config.reduce_tasks)
            self.num_steps = len(self.job_cls(self.params).steps())
            self.masters: list[Master] = []
            self.master = self._make_master(0, self.started, 1)
        except BaseException:
            abort_output(self.output)
            raise
        self.result: RunResult | None = None

    def _make_master(self, step: int, now: float, next_attempt: int) -> Master:
        final = step == self.num_steps - 1
        if step == 0:
            splits = make_splits(self.files, self.split_bytes, self.input_format)
        else:
            prev = self.output / TEMPORARY / f"step-{step - 1}"
            splits = make_splits(part_files(prev), self.split_bytes, "pairs")
        out_dir = self.output if final else self.output / TEMPORARY / f"step-{step}"
        out_dir.mkdir(parents=True, exist_ok=True)
        master = Master(self.spec, self.params, splits, self.config, str(out_dir),
                        step=step, final_step=final, now=now, next_attempt=next_attempt)
        if self.masters:
            master.workers = self.masters[-1].workers  # failed workers stay failed
            for info in master.workers.values():
                info.ran = []
        self.masters.append(master)
        return master

    # --- the protocol, delegated to the current step's master ---------------------
    @property
    def state(self) -> str:
        if self.result is not None:
            return "done"
        return "failed" if self.master.error else "running"

    def ping(self, worker: str, url: str, now: float) -> str:
        state = self.master.ping(worker, url, now)
        return state if state == "evicted" else self.state

    def request_task(self, worker: str, url: str, now: float) -> TaskSpec | None:
        if self.state != "running":
            return None
        return self.master.request_task(worker, url, now)

    def deliver(self, msg: MapDone | ReduceDone | TaskFailed, now: float) -> bool:
        if self.state != "running" or msg.step != self.master.step:
            return False
        if isinstance(msg, MapDone):
            ok = self.master.map_done(msg, now)
        elif isinstance(msg, ReduceDone):
            ok = self.master.reduce_done(msg, now)
        else:
            self.master.task_failed(msg, now)
            ok = False
        self._advance(now)
        return ok

    def check_workers(self, now: float) -> list[str]:
        failed = self.master.check_workers(now) if self.state == "running" else []
        self._advance(now)
        return failed

    def _advance(self, now: float) -> None:
        if not self.master.done or self.result is not None:
            return
        if self.master.step + 1 < self.num_steps:
            self.master = self._make_master(self.master.step + 1, now, self.master.next_attempt)
            return
        counters = self.counters()
        commit_output(self.output, counters)
        self.result = RunResult(
            output=self.output,
            counters=counters,
            timings={"total_s": now - self.started,
                     **{f"step{m.step}_s": (m.finished or now) - m.started for m in self.masters}},
            attempts=[{"step": m.step, "id": a.id, "kind": a.kind, "task": a.task, "worker": a.worker,
                       "backup": a.backup, "outcome": a.outcome, "started": a.started - self.started,
                       "finished": (a.finished or now) - self.started, "input_bytes": a.input_bytes,
                       "shuffle_bytes": a.shuffle_bytes, "output_bytes": a.output_bytes}
                      for m in self.masters for a in m.attempts],
            events=[(t - self.started, kind, n) for m in self.masters for (t, kind, n) in m.events],
            failed_workers=[w for w, i in self.master.workers.items() if i.failed],
        )

    def counters(self) -> dict[str, dict[str, int]]:
        total: dict[str, dict[str, int]] = {}
        for m in self.masters:
            for group, values in m.counters().items():
                grp = total.setdefault(group, {})
                for name, n in values.items():
                    grp[name] = grp.get(name, 0) + n
        return total

    def fail(self, reason: str) -> None:
        """Abort the job (the master is going away, §3.3 "Master Failure")."""
        if self.result is None and not self.master.error:
            self.master.error = reason

    def finish(self) -> RunResult:
        """The result, or :class:`JobFailed` after removing partial output."""
        if self.result is not None:
            return self.result
        abort_output(self.output)
        raise JobFailed(f"job {self.spec} failed: {self.master.error or 'aborted before completion'}")

    def status(self, now: float) -> dict[str, Any]:
        status = self.master.status(now)
        status.update(job=self.spec, steps=self.num_steps, job_state=self.state, output=str(self.output),
                      counters=self.counters())
        return status
