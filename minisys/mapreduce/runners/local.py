"""The local and cluster runners: a master node plus worker *processes* (paper §3.1).

The master runs in this process as a ``minisys.net`` HTTP node (the same
code as ``minisys mapreduce master``); N workers are started as separate
Python processes (``python -m minisys.mapreduce.worker_node``), so map tasks
really run in parallel on the machine's cores. ``shuffle="local"`` lets
reducers read map output straight from the shared local disk;
``shuffle="http"`` makes them fetch it from the map worker over HTTP, exactly
as workers on other hosts do (the ``cluster`` runner).

Like the paper's cluster scheduler, which restarted killed workers in §5.5,
the runner starts a fresh worker (with a new identity) when one dies while
the job is running (``restart_workers=True``).
"""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from minisys.mapreduce.driver import JobDriver, RunResult
from minisys.mapreduce.master_node import MasterNode
from minisys.mapreduce.worker_node import TOKEN_ENV
from minisys.net import HttpNetwork

#: Seconds the master keeps answering after the job ends, so workers learn it.
EXIT_GRACE = 10.0


class LocalRunner:
    """Master in this process, workers as child processes. ``processes`` is
    public so a test (or a chaos experiment) can SIGKILL them."""

    def __init__(self, driver: JobDriver, workers: int = 2, *, shuffle: str = "local", restart_workers: bool = True,
                 status_port: int | None = None, worker_args: dict[str, list[str]] | None = None,
                 start_method: str = "fork") -> None:
        self.driver = driver
        #: "fork": workers are forked from this process (fast, imports already done);
        #: "spawn": fresh interpreters (``python -m minisys.mapreduce.worker_node``).
        self.start_method = start_method if hasattr(os, "fork") else "spawn"
        self.workers = max(1, workers)
        self.shuffle = shuffle
        self.restart_workers = restart_workers
        self.status_port = status_port
        self.worker_args = worker_args or {}
        self.processes: dict[str, subprocess.Popen[bytes] | ForkedWorker] = {}
        self.exited: dict[str, int] = {}
        self.peak_rss_mb: dict[str, float] = {}
        self.master_url = ""
        self.status_url: str | None = None
        self._token = secrets.token_hex(16)
        self._spawned = 0

    def _spawn(self, workdir: Path) -> None:
        self._spawned += 1
        worker_id = f"w{self._spawned}"
        argv = ["--master", self.master_url, "--id", worker_id, "--workdir", str(workdir / worker_id),
                "--shuffle", self.shuffle, *self.worker_args.get(worker_id, [])]
        if self.start_method == "fork":
            self.processes[worker_id] = _fork_worker(argv, self._token)
            return
        env = dict(os.environ)
        env[TOKEN_ENV] = self._token
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        cmd = [sys.executable, "-m", "minisys.mapreduce.worker_node", *argv]
        self.processes[worker_id] = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)

    async def run_async(self) -> RunResult:
        with tempfile.TemporaryDirectory(prefix="minisys-mr-local-") as tmp:
            workdir = Path(tmp)
            async with HttpNetwork(token=self._token) as net:
                master = await net.add_node("master", lambda t: MasterNode(t, self.driver))
                self.master_url = net.directory["master"]
                status_runner = None
                if self.status_port is not None:
                    from minisys.mapreduce.status import start_status_server

                    status_runner, self.status_url = await start_status_server(master, port=self.status_port)
                try:
                    for _ in range(self.workers):
                        self._spawn(workdir)
                    await self._supervise(workdir)
                finally:
                    await self._stop_workers()
                    if status_runner is not None:
                        await status_runner.cleanup()
        result = self.driver.finish()
        result.peak_rss_mb = {"master": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **self.peak_rss_mb}
        return result

    async def _supervise(self, workdir: Path) -> None:
        while self.driver.state == "running":
            await asyncio.sleep(0.05)
            for worker_id, proc in list(self.processes.items()):
                code = self._reap(worker_id, proc)
                if code is None:
                    continue
                if self.driver.state == "running" and self.restart_workers:
                    self._spawn(workdir)
            if not self.processes and self.driver.state == "running":
                self.driver.fail("every worker process exited: " + ", ".join(
                    f"{w} (exit {c})" for w, c in self.exited.items()))

    async def _stop_workers(self) -> None:
        """Let workers see the final state and exit; kill stragglers after a grace period."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EXIT_GRACE
        while self.processes and loop.time() < deadline:
            for worker_id, proc in list(self.processes.items()):
                self._reap(worker_id, proc)
            await asyncio.sleep(0.05)
        for worker_id, proc in list(self.processes.items()):
            proc.kill()
            while self._reap(worker_id, proc) is None:
                await asyncio.sleep(0.01)

    def _reap(self, worker_id: str, proc: subprocess.Popen[bytes] | ForkedWorker) -> int | None:
        """Collect an exited worker with wait4, which also gives its peak RSS."""
        if proc.returncode is None:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == 0:
                return None
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.peak_rss_mb[worker_id] = usage.ru_maxrss / 1024
        self.exited[worker_id] = proc.returncode
        self.processes.pop(worker_id, None)
        return proc.returncode


class ForkedWorker:
    """A worker forked from the runner's process: the slice of Popen the runner uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _fork_worker(argv: list[str], token: str) -> ForkedWorker:
    pid = os.fork()
    if pid:
        return ForkedWorker(pid)
    # The child: a new worker process. asyncio knows the parent's running loop
    # is not ours (it checks the pid); we start our own and never return.
    code = 1
    try:
        os.environ[TOKEN_ENV] = token
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        from minisys.mapreduce.worker_node import main

        code = main(argv)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def run_local(driver: JobDriver, workers: int = 2, shuffle: str = "local", **options: Any) -> RunResult:
    """Run to completion; from inside a running event loop (Jupyter), in a helper thread."""
    runner = LocalRunner(driver, workers, shuffle=shuffle, **options)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(runner.run_async())
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, runner.run_async()).result()
