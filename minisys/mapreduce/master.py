"""The master's data structures and decisions (paper §3.2, §3.3, §3.6, §4.6, §4.9).

A pure state machine: no sockets, no clock of its own (every method takes
``now``), so the inline runner drives it with direct calls, the local and
cluster runners drive it from ``minisys.net`` handlers (master_node.py), and
tests drive it step by step.

* §3.2 -- per task: state (idle / in-progress / completed) and the worker;
  per completed map task: the location and size of each of its R regions.
* §3.3 -- a worker silent for ``ping_timeout`` is failed: its in-progress
  tasks and its *completed map* tasks go back to idle (their output was on its
  disk); its completed reduce tasks stay (their output is in the output
  file system). A completion for an already-completed task is ignored.
* §3.6 -- **backup tasks**: when a phase has no idle task left, an idle
  worker gets a second copy of a task that has run much longer than the
  phase's typical task; whichever copy finishes first wins.
* §4.6 -- **skipping bad records**: a record that made an attempt fail more
  than once is skipped by the next attempt, and counted.
* §4.9 -- **counters** are kept per task from the accepted attempt only, so
  backups and re-executions never count twice.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from minisys.mapreduce.messages import MapDone, ReduceDone, Region, Split, TaskFailed, TaskSpec

#: Silence (s) after which a reducer's report that a map worker is unreachable is
#: believed (workers ping every 0.5 s); otherwise the ping timeout decides.
SUSPECT_SILENCE = 1.0


class State(StrEnum):
    IDLE = "idle"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"


@dataclass
class MasterConfig:
    """Knobs of one job; the defaults suit one machine."""

    reduce_tasks: int = 2
    #: Seconds without a ping before a worker is declared failed (§3.3).
    ping_timeout: float = 5.0
    #: Launch backup tasks near the end of each phase (§3.6).
    backup_tasks: bool = True
    #: A task is a straggler once it has run this many times the phase's median task time...
    backup_slowness: float = 3.0
    #: ...and at least this many seconds (so short tasks never get spurious backups).
    backup_min_seconds: float = 1.0
    #: Skip records that failed more than once (§4.6); off by default, as in the paper.
    skip_bad_records: bool = False
    #: Failures of one task (without new progress from skipping) that abort the job.
    max_failures: int = 4
    #: Map-side buffer size in records before a spill (bounded memory, §3.1).
    spill_records: int = 500_000
    #: Runs merged at once by the reduce side's external merge.
    merge_fan_in: int = 64


@dataclass
class Attempt:
    """One execution of a task on one worker (the status page and tests read these)."""

    id: int
    kind: str
    task: int
    worker: str
    started: float
    backup: bool = False
    finished: float | None = None
    outcome: str = "running"  # running | completed | duplicate | failed | lost
    #: For the accepted attempt: bytes read / shuffled / written (the paper's Figure 3 rates).
    input_bytes: int = 0
    shuffle_bytes: int = 0
    output_bytes: int = 0


@dataclass
class Task:
    kind: str
    index: int
    state: State = State.IDLE
    worker: str | None = None
    running: dict[int, Attempt] = field(default_factory=dict)
    regions: list[Region] = field(default_factory=list)
    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    duration: float | None = None
    failures: int = 0
    bad_records: dict[int, int] = field(default_factory=dict)
    skip: set[int] = field(default_factory=set)
    input_bytes: int = 0
    output_bytes: int = 0


@dataclass
class WorkerInfo:
    url: str
    last_seen: float
    failed: bool = False
    ran: list[str] = field(default_factory=list)


class Master:
    """One step (one MapReduce) of a job: M map tasks, R reduce tasks."""

    def __init__(
        self,
        job: str,
        params: Any,
        splits: list[Split],
        config: MasterConfig,
        output_dir: str,
        *,
        step: int = 0,
        final_step: bool = True,
        now: float = 0.0,
        next_attempt: int = 1,
    ) -> None:
        self.job, self.params, self.splits, self.config = job, params, splits, config
        self.output_dir, self.step, self.final_step = output_dir, step, final_step
        self.maps = [Task("map", i) for i in range(len(splits))]
        self.reduces = [Task("reduce", r) for r in range(config.reduce_tasks)]
        self.workers: dict[str, WorkerInfo] = {}
        self.attempts: list[Attempt] = []
        self.events: list[tuple[float, str, int]] = []  # (time, input|shuffle|output, bytes)
        self.started = now
        self.finished: float | None = None
        self.error: str | None = None
        self._next_attempt = next_attempt

    # --- state queries ----------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.error is None and all(t.state is State.COMPLETED for t in self.reduces)

    @property
    def state(self) -> str:
        return "failed" if self.error else "done" if self.done else "running"

    @property
    def next_attempt(self) -> int:
        return self._next_attempt

    def phase(self) -> str:
        return "map" if any(t.state is not State.COMPLETED for t in self.maps) else "reduce"

    def counters(self) -> dict[str, dict[str, int]]:
        """The sum over tasks of each task's accepted attempt (§4.9)."""
        total: dict[str, dict[str, int]] = {}
        for task in (*self.maps, *self.reduces):
            for group, values in task.counters.items():
                grp = total.setdefault(group, {})
                for name, n in values.items():
                    grp[name] = grp.get(name, 0) + n
        return {g: dict(sorted(v.items())) for g, v in sorted(total.items())}

    # --- liveness (§3.3) --------------------------------------------------------------
    def ping(self, worker: str, url: str, now: float) -> str:
        info = self.workers.get(worker)
        if info is None:
            self.workers[worker] = WorkerInfo(url, now)
        elif info.failed:
            return "evicted"
        else:
            info.last_seen = now
        return self.state

    def check_workers(self, now: float) -> list[str]:
        """Declare failed every worker silent for longer than ``ping_timeout``."""
        failed = [
            w for w, info in self.workers.items() if not info.failed and now - info.last_seen > self.config.ping_timeout
        ]
        for w in failed:
            self.worker_failed(w, now)
        return failed

    def worker_failed(self, worker: str, now: float) -> None:
        info = self.workers.setdefault(worker, WorkerInfo("", now))
        info.failed = True
        reduces_pending = not self.done
        for task in (*self.maps, *self.reduces):
            for attempt_id, attempt in list(task.running.items()):
                if attempt.worker == worker:
                    attempt.outcome, attempt.finished = "lost", now
                    del task.running[attempt_id]
            if task.state is State.IN_PROGRESS and not task.running:
                task.state, task.worker = State.IDLE, None
            elif task.kind == "map" and task.state is State.COMPLETED and task.worker == worker and reduces_pending:
                # Its regions were on the failed machine's disk: re-execute (§3.3). The input
                # it had read is lost, which is why Figure 3(c)'s input rate goes negative.
                task.state, task.worker, task.regions = State.IDLE, None, []
                self.events.append((now, "input", -task.input_bytes))

    # --- scheduling (§3.1, §3.6) ------------------------------------------------------
    def request_task(self, worker: str, url: str, now: float) -> TaskSpec | None:
        if self.ping(worker, url, now) != "running":
            return None
        if any(a.worker == worker for t in (*self.maps, *self.reduces) for a in t.running.values()):
            # A worker runs one task at a time; asking again means it lost the old one.
            for task in (*self.maps, *self.reduces):
                for attempt_id, attempt in list(task.running.items()):
                    if attempt.worker == worker:
                        attempt.outcome, attempt.finished = "lost", now
                        del task.running[attempt_id]
                if task.state is State.IN_PROGRESS and not task.running:
                    task.state = State.IDLE
        tasks = self.maps if self.phase() == "map" else self.reduces
        for task in tasks:
            if task.state is State.IDLE:
                return self._assign(task, worker, now, backup=False)
        backup = self._backup_candidate(tasks, worker, now)
        if backup is not None:
            return self._assign(backup, worker, now, backup=True)
        return None

    def _backup_candidate(self, tasks: list[Task], worker: str, now: float) -> Task | None:
        """§3.6: the longest-running straggler of this phase, if the phase is nearly done."""
        if not self.config.backup_tasks:
            return None
        durations = [t.duration for t in tasks if t.duration is not None]
        if not durations:
            return None
        threshold = max(self.config.backup_min_seconds, self.config.backup_slowness * statistics.median(durations))
        best: tuple[float, Task] | None = None
        for task in tasks:
            if task.state is not State.IN_PROGRESS or len(task.running) != 1:
                continue
            (attempt,) = task.running.values()
            elapsed = now - attempt.started
            if attempt.worker != worker and elapsed > threshold and (best is None or elapsed > best[0]):
                best = (elapsed, task)
        return best[1] if best else None

    def _assign(self, task: Task, worker: str, now: float, backup: bool) -> TaskSpec:
        attempt = Attempt(self._next_attempt, task.kind, task.index, worker, now, backup=backup)
        self._next_attempt += 1
        self.attempts.append(attempt)
        task.running[attempt.id] = attempt
        task.state, task.worker = State.IN_PROGRESS, worker
        self.workers[worker].ran.append(f"{task.kind} {task.index}")
        regions = [] if task.kind == "map" else [m.regions[task.index] for m in self.maps]
        return TaskSpec(
            kind=task.kind,
            task=task.index,
            attempt=attempt.id,
            step=self.step,
            job=self.job,
            params=self.params,
            reduce_tasks=self.config.reduce_tasks,
            split=self.splits[task.index] if task.kind == "map" else None,
            regions=regions,
            output_dir=self.output_dir,
            final_step=self.final_step,
            skip=sorted(task.skip),
            spill_records=self.config.spill_records,
            merge_fan_in=self.config.merge_fan_in,
        )

    # --- completions (§3.3 atomic commits) --------------------------------------------
    def _finish_attempt(self, task: Task, msg: Any, now: float, outcome: str) -> Attempt | None:
        attempt = task.running.pop(msg.attempt, None)
        if attempt is None:
            attempt = next((a for a in self.attempts if a.id == msg.attempt), None)
        if attempt is not None and attempt.outcome == "running":
            attempt.outcome, attempt.finished = outcome, now
        return attempt

    def _accept(self, msg: MapDone | ReduceDone, task: Task, now: float) -> bool:
        info = self.workers.get(msg.worker)
        if task.state is State.COMPLETED or info is None or info.failed or msg.step != self.step or self.error:
            self._finish_attempt(task, msg, now, "duplicate")
            return False  # the paper: "the master ignores the message"
        attempt = self._finish_attempt(task, msg, now, "completed")
        task.state, task.worker = State.COMPLETED, msg.worker
        task.counters = msg.counters
        task.duration = now - attempt.started if attempt else 0.0
        return True

    def map_done(self, msg: MapDone, now: float) -> bool:
        task = self.maps[msg.task]
        if not self._accept(msg, task, now):
            return False
        task.regions = sorted(msg.regions, key=lambda r: r.path)
        task.input_bytes, task.output_bytes = msg.input_bytes, msg.output_bytes
        self._attempt_bytes(msg.attempt, input_bytes=msg.input_bytes)
        self.events.append((now, "input", msg.input_bytes))
        return True

    def reduce_done(self, msg: ReduceDone, now: float) -> bool:
        task = self.reduces[msg.task]
        if not self._accept(msg, task, now):
            return False
        task.input_bytes, task.output_bytes = msg.shuffle_bytes, msg.output_bytes
        self._attempt_bytes(msg.attempt, shuffle_bytes=msg.shuffle_bytes, output_bytes=msg.output_bytes)
        self.events.append((now, "shuffle", msg.shuffle_bytes))
        self.events.append((now, "output", msg.output_bytes))
        if self.done:
            self.finished = now
        return True

    def _attempt_bytes(self, attempt_id: int, **sizes: int) -> None:
        for attempt in reversed(self.attempts):
            if attempt.id == attempt_id:
                for name, n in sizes.items():
                    setattr(attempt, name, n)
                return

    def task_failed(self, msg: TaskFailed, now: float) -> None:
        task = (self.maps if msg.kind == "map" else self.reduces)[msg.task]
        self._finish_attempt(task, msg, now, "failed")
        if task.state is State.COMPLETED or msg.step != self.step or self.error:
            return
        if not task.running:
            task.state, task.worker = State.IDLE, None
        if msg.lost_input:
            # Not the task's fault. A reducer that cannot reach a map worker is evidence;
            # with silence since the last ping interval it is enough to declare it failed.
            suspect = self.workers.get(msg.where)
            if suspect is not None and not suspect.failed and now - suspect.last_seen > SUSPECT_SILENCE:
                self.worker_failed(msg.where, now)
            return
        name = f"{msg.kind} task {msg.task} (step {msg.step}, attempt {msg.attempt})"
        if msg.fatal:
            self.error = f"{name}: {msg.error}"
            return
        task.failures += 1
        if msg.record is not None:
            count = task.bad_records[msg.record] = task.bad_records.get(msg.record, 0) + 1
            if self.config.skip_bad_records and count > 1 and msg.record not in task.skip:
                task.skip.add(msg.record)  # §4.6: the next re-execution skips it
                task.failures = 0
                return
        if task.failures >= self.config.max_failures:
            record = f" at record {msg.record} ({msg.where})" if msg.record is not None else ""
            self.error = f"{name} failed {task.failures} times{record}: {msg.error}"

    # --- the status page (§4.8) -------------------------------------------------------
    def status(self, now: float) -> dict[str, Any]:
        def count(tasks: list[Task]) -> dict[str, int]:
            return {s.value: sum(t.state is s for t in tasks) for s in State}

        input_bytes = sum(t.input_bytes for t in self.maps if t.state is State.COMPLETED)
        elapsed = max(1e-9, (self.finished or now) - self.started)
        return {
            "step": self.step,
            "state": self.state,
            "error": self.error,
            "phase": self.phase(),
            "elapsed_s": elapsed,
            "maps": count(self.maps),
            "reduces": count(self.reduces),
            "input_bytes": input_bytes,
            "intermediate_bytes": sum(t.output_bytes for t in self.maps if t.state is State.COMPLETED),
            "output_bytes": sum(t.output_bytes for t in self.reduces if t.state is State.COMPLETED),
            "input_rate": input_bytes / elapsed,
            "workers": {
                w: {"url": i.url, "failed": i.failed, "ran": list(i.ran), "last_seen_s": now - i.last_seen}
                for w, i in self.workers.items()
            },
            "running": [
                {"kind": a.kind, "task": a.task, "worker": a.worker, "attempt": a.id, "backup": a.backup,
                 "elapsed_s": now - a.started}
                for t in (*self.maps, *self.reduces) for a in t.running.values()
            ],
            "backups": sum(a.backup for a in self.attempts),
            "skipped_records": sum(len(t.skip) for t in (*self.maps, *self.reduces)),
            "counters": self.counters(),
        }
