"""A worker process (paper §3.1): ask the master for a task, run it, report, repeat.

Each worker is an HTTP node of ``minisys.net``: it *serves* its map output to
reducers (``FetchRegion``, §3.1 "remote procedure calls to read the buffered
data from the local disks of the map workers") and *calls* the master. The
task itself runs in a thread so the event loop keeps answering reducers and
pinging the master while Map or Reduce computes; the job's parallelism comes
from running several worker *processes*.

A worker exits when the master says the job is done or failed, when the
master has declared it failed ("evicted"), or when the master has been
unreachable for ``MASTER_LOST_AFTER`` seconds (the job aborts, §3.3).

    python -m minisys.mapreduce.worker_node --master http://10.0.0.1:8400 [--host 0.0.0.0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from minisys.mapreduce.messages import FetchRegion, Ping, Region, RegionChunk, RequestTask
from minisys.mapreduce.worker import RegionLost, run_task
from minisys.net import HttpNetwork, NetError, Node, Transport, handler

PING_INTERVAL = 0.5
POLL_INTERVAL = 0.05
MASTER_LOST_AFTER = 10.0
CHUNK = 1 << 20
TOKEN_ENV = "MINISYS_MAPREDUCE_TOKEN"


class WorkerNode(Node):
    def __init__(self, transport: Transport, workdir: Path, shuffle: str = "http", slowdown: float = 1.0,
                 master_timeout: float = MASTER_LOST_AFTER, directory: dict[str, str] | None = None) -> None:
        super().__init__(transport)
        self.master_timeout = master_timeout
        #: The network's directory (node id -> URL): map workers are added as their regions are fetched.
        self.directory = directory if directory is not None else {}
        self.workdir = workdir.resolve()
        self.shuffle = shuffle
        self.slowdown = slowdown
        self.url = ""
        self.exit_state: str | None = None
        self.finished = asyncio.Event()
        self.last_contact = time.time()

    @handler
    async def on_fetch_region(self, msg: FetchRegion, sender: str) -> RegionChunk:
        path = Path(msg.path).resolve()
        if not path.is_relative_to(self.workdir):  # serve map output only, never other files
            raise PermissionError(f"{msg.path} is not map output of this worker")
        with open(path, "rb") as f:
            f.seek(msg.offset)
            data = f.read(min(msg.length, CHUNK))
        return RegionChunk(data, len(data) < min(msg.length, CHUNK))

    def _stop(self, state: str) -> None:
        if self.exit_state is None:
            self.exit_state = state
        self.finished.set()

    async def _master(self, msg: object) -> object | None:
        try:
            reply = await self.call("master", msg, timeout=30.0)
        except NetError:
            if time.time() - self.last_contact > self.master_timeout:
                self._stop("master-lost")
            return None
        self.last_contact = time.time()
        return reply

    async def ping_forever(self) -> None:
        while not self.finished.is_set():
            pong = await self._master(Ping(self.node_id, self.url))
            if pong is not None and pong.job_state != "running":  # type: ignore[attr-defined]
                self._stop(pong.job_state)  # type: ignore[attr-defined]
            await self.sleep(PING_INTERVAL)

    async def work_forever(self) -> None:
        loop = asyncio.get_running_loop()

        def fetch(region: Region, dest: Path) -> None:
            asyncio.run_coroutine_threadsafe(self._fetch(region, dest), loop).result()

        while not self.finished.is_set():
            reply = await self._master(RequestTask(self.node_id, self.url))
            if reply is None:
                await self.sleep(PING_INTERVAL)
                continue
            if reply.job_state != "running":  # type: ignore[attr-defined]
                self._stop(reply.job_state)  # type: ignore[attr-defined]
                return
            spec = reply.task  # type: ignore[attr-defined]
            if spec is None:
                await self.sleep(POLL_INTERVAL)
                continue
            started = time.monotonic()
            result = await _in_daemon_thread(
                run_task, spec, self.workdir, self.node_id, self.url, fetch if self.shuffle == "http" else None
            )
            if self.slowdown > 1.0:  # a straggler, for experiments (§3.6): "a machine with a bad disk"
                await self.sleep((self.slowdown - 1.0) * (time.monotonic() - started))
            while not self.finished.is_set() and await self._master(result) is None:
                await self.sleep(PING_INTERVAL)

    async def _fetch(self, region: Region, dest: Path) -> None:
        self.directory.setdefault(region.worker, region.url)
        offset = 0
        with open(dest, "wb") as f:
            while True:
                try:
                    chunk = await self.call(region.worker, FetchRegion(region.path, offset, CHUNK), timeout=30.0)
                except NetError as exc:
                    raise RegionLost(f"cannot fetch map task {region.map_task}'s output from {region.worker}: {exc}",
                                     region.worker) from None
                f.write(chunk.data)
                offset += len(chunk.data)
                if chunk.eof or offset >= region.size:
                    return


async def _in_daemon_thread(fn: Any, *args: Any) -> Any:
    """Run ``fn`` in a daemon thread: the event loop keeps pinging, and a worker
    told the job is over exits at once instead of finishing its task."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def deliver(setter: Any, value: Any) -> None:
        if not future.done():
            setter(value)

    def target() -> None:
        try:
            outcome: tuple[Any, Any] = (future.set_result, fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            outcome = (future.set_exception, exc)
        try:
            loop.call_soon_threadsafe(deliver, *outcome)
        except RuntimeError:  # the loop is gone: the worker is exiting
            pass

    threading.Thread(target=target, daemon=True, name="task").start()
    return await future


async def serve_worker(master_url: str, worker_id: str, *, host: str = "127.0.0.1", port: int = 0,
                       workdir: Path | None = None, shuffle: str = "http", slowdown: float = 1.0,
                       token: str | None = None, master_timeout: float = MASTER_LOST_AFTER) -> str:
    """Run one worker until the job ends; returns why it stopped."""
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix=f"minisys-mr-{worker_id}-")
        workdir = Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        async with HttpNetwork({"master": master_url}, token=token, host=host, max_body=CHUNK + 65536) as net:
            node = await net.add_node(
                worker_id, lambda t: WorkerNode(t, workdir, shuffle, slowdown, master_timeout, net.directory), port=port
            )
            assert isinstance(node, WorkerNode)
            node.url = net.directory[worker_id]
            if host in ("0.0.0.0", "::", ""):
                node.url = node.url.replace("127.0.0.1", socket.gethostname())
            node.spawn(node.ping_forever())
            node.spawn(node.work_forever())
            await node.finished.wait()
            return node.exit_state or "done"
    finally:
        if tmp is not None:
            tmp.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    from minisys.mapreduce.cli import add_worker_args

    p = argparse.ArgumentParser(prog="minisys mapreduce worker", description="Run one MapReduce worker.")
    add_worker_args(p)
    return worker_command(p.parse_args(argv))


def worker_command(args: argparse.Namespace) -> int:
    worker_id = args.id or f"{socket.gethostname()}-{os.getpid()}"
    state = asyncio.run(serve_worker(args.master, worker_id, host=args.host, port=args.port, workdir=args.workdir,
                                     shuffle=args.shuffle, slowdown=args.slowdown, token=os.environ.get(TOKEN_ENV),
                                     master_timeout=args.master_timeout))
    if state == "done":
        return 0
    print(f"minisys mapreduce worker {worker_id}: stopped: job {state}", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main())
