"""Processes, ports, setup commands and ``services.json``: what both servers share.

A pid file alone is not trusted (pids are reused after a crash), setup
commands fail with one line quoting their last output, and ``up``/``down``
are serialised across processes by a lock in the state dir.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minisys import config
from minisys.errors import MinisysError, ServiceUnavailable

Progress = Callable[[str], None]


class ServiceStartError(ServiceUnavailable):
    """A server would not start; ``log_tail`` holds the last lines of its log."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


@dataclass(frozen=True)
class ServiceInfo:
    """What ``up`` or ``status`` found out about one server."""

    name: str
    running: bool
    #: ``postgresql://...`` for Postgres, ``host:port`` for Kafka.
    address: str | None = None
    pid: int | None = None
    version: str | None = None
    home: Path | None = None
    log: Path | None = None
    #: True when ``up`` found it already running (nothing was started).
    already_running: bool = False
    seconds: float | None = None
    note: str = ""


def _quiet(_: str) -> None:
    pass


def _alive(pid: int, marker: str) -> bool:
    """Is ``pid`` a live process whose command line contains ``marker``?

    The marker guards against pid reuse after a crash: a pid file naming a pid
    that now belongs to some other program is stale.
    """
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    if stat.rpartition(")")[2].split()[0] in ("Z", "X"):
        return False
    return marker.encode() in cmdline


def _forget_stale(pidfile: Path, pid: int) -> None:
    """Remove the pid file of a dead server, once its process is fully gone.

    A crashed server can linger as a zombie (a JVM's main thread while its
    other threads and sockets are torn down; Postgres trusts kill(pid, 0) on
    its lock files, which a zombie passes), so wait for it to be reaped first.
    """
    _wait_gone(pid, 10)
    with contextlib.suppress(OSError):
        pidfile.unlink()


def _wait_gone(pid: int, seconds: float) -> None:
    """Until every thread of ``pid`` has exited (and with them its sockets and locks).

    A multi-threaded process whose main thread exited shows as a zombie while
    its other threads are still being torn down. Waiting for the zombie itself
    to be reaped is up to its parent (which may be a test run), so an entry
    with only the main thread left counts as gone.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        try:
            threads = len(os.listdir(f"/proc/{pid}/task"))
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            return
        if state in ("Z", "X") and threads <= 1:
            return
        time.sleep(0.1)


def _wait_dead(pid: int, marker: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid, marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _require_free(port: int, what: str, flag: str) -> None:
    if not _port_free(port):
        raise MinisysError(
            f"cannot start {what}: port {port} on 127.0.0.1 is already in use by another "
            f"program; choose another with {flag}"
        )


def _tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log, without the tab-indented config dumps Kafka writes."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.rstrip().splitlines() if not line.startswith("\t")]
    return "\n".join(kept[-lines:])


def _last_line(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    found = [line.strip() for line in text.splitlines() if line.strip()]
    return found[-1] if found else "(no output)"


def _tail_text(text: str, lines: int = 20) -> str:
    return "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", text).rstrip().splitlines()[-lines:])


def _run(cmd: list[str], what: str, *, timeout: float, cwd: Path | None = None, env=None) -> str:
    """Run a setup command; a failure is a one-line error quoting its last output line."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise ServiceStartError(f"{what} failed: {exc.filename} not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise ServiceStartError(f"{what} did not finish within {timeout:.0f} s: {shlex.join(cmd)}") from exc
    if proc.returncode != 0:
        output = proc.stderr + proc.stdout
        raise ServiceStartError(
            f"{what} failed (exit {proc.returncode}): {_last_line(output)}", _tail_text(output)
        )
    return proc.stdout


def _is_root() -> bool:
    return os.geteuid() == 0


def _apt_install(packages: tuple[str, ...], what: str, progress: Progress) -> None:
    """Install the first of ``packages`` Debian has, only as root with apt-get."""
    if not _is_root() or shutil.which("apt-get") is None:
        raise ServiceUnavailable(
            f"{what} not found; install it (Debian: `apt-get install -y {packages[0]}`) and retry"
        )
    progress(f"{what} not found: installing {packages[0]} with apt-get (one time)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update"], "apt-get update", timeout=600, env=env)
    for i, package in enumerate(packages):
        try:
            _run(["apt-get", "install", "-y", "--no-install-recommends", package],
                 f"apt-get install {package}", timeout=1200, env=env)
            return
        except ServiceStartError:
            if i == len(packages) - 1:
                raise


@contextlib.contextmanager
def _lock(state: Path) -> Iterator[None]:
    """Serialise up/down across processes (two `up`s must not start two servers)."""
    import fcntl

    directory = state / "services"
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _record(name: str, entry: dict[str, Any] | None) -> None:
    data = config.read_services()
    if entry is None:
        data.pop(name, None)
    else:
        data[name] = entry
    config.write_services(data)
