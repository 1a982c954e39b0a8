"""A local cluster of real ``minisys dynamo serve`` processes, for tests, scenarios and benchmarks.

Each node is its own OS process (own event loop, own SQLite file), started
with a shared founding configuration so all of them begin with the same ring.
The harness can SIGKILL one (a crash with only the disk left) and restart it
from the same data directory.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from minisys.errors import ServiceUnavailable


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class LocalCluster:
    """K node processes on loopback; ``with LocalCluster(root, 5) as c: c.urls ...``."""

    def __init__(self, root: Path, nodes: int = 5, *, n: int = 3, r: int = 2, w: int = 2, strategy: int = 3,
                 partitions: int = 64, mode: str = "vv", founders: bool = True) -> None:
        self.root = Path(root)
        self.args = argparse.Namespace(n=n, r=r, w=w, strategy=strategy, partitions=partitions, mode=mode)
        ports = free_ports(2 * nodes)
        self.ids = [f"n{i + 1}" for i in range(nodes)]
        self.api = dict(zip(self.ids, ports[:nodes], strict=True))
        self.rpc = dict(zip(self.ids, ports[nodes:], strict=True))
        self.use_founders = founders
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def founders(self) -> str:
        return ",".join(f"{i}=127.0.0.1:{self.api[i]}/{self.rpc[i]}" for i in self.ids)

    def url(self, node: str) -> str:
        return f"http://127.0.0.1:{self.api[node]}"

    @property
    def urls(self) -> list[str]:
        return [self.url(i) for i in self.ids]

    def start(self, node: str, wait: bool = True) -> None:
        from minisys.dynamo.cli import start_process

        seeds = [] if self.use_founders or node == self.ids[0] else [f"127.0.0.1:{self.api[self.ids[0]]}"]
        self.procs[node] = start_process(node, self.api[node], self.root / node, seeds, self.args,
                                         self.root / f"{node}.log", rpc_port=self.rpc[node],
                                         founders=self.founders if self.use_founders else "")
        if wait:
            self.wait_up(node)

    def start_all(self) -> None:
        if self.use_founders:
            for node in self.ids:
                self.start(node, wait=False)
            for node in self.ids:
                self.wait_up(node)
        else:
            for node in self.ids:
                self.start(node)

    def wait_up(self, node: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[node].poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url(node) + "/status", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise ServiceUnavailable(f"dynamo node {node} did not start; see {self.root / (node + '.log')}")

    def kill9(self, node: str) -> None:
        """SIGKILL: no shutdown code runs; only what was fsynced survives."""
        os.kill(self.procs[node].pid, signal.SIGKILL)
        self.procs[node].wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __enter__(self) -> LocalCluster:
        try:
            self.start_all()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
