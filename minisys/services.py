"""Throwaway local Postgres and Kafka servers to compare against (DESIGN principle 4).

``minisys services up`` starts one of each, bound to 127.0.0.1, under
``config.state_dir()/services/{postgres,kafka}``, and records their addresses in
``services.json``, where :func:`minisys.config.postgres_url` and
:func:`minisys.config.kafka_bootstrap` find them. Running it again finds the
servers already up (idempotent); a pid file left by a crash is noticed and
removed. ``down`` stops them and removes their entries; ``status`` reports.

These servers exist to be measured against and thrown away, so they trade
durability for speed where a benchmark server may:

* **Postgres** (Debian's binaries, ``/usr/lib/postgresql/<newest>/bin``) runs
  with ``-F`` (fsync off), ``synchronous_commit=off`` and
  ``full_page_writes=off`` -- the "Non-Durable Settings" of the Postgres manual.
  A power cut may lose or corrupt its data; a benchmark notes this next to its
  numbers. ``initdb`` refuses to run as root, so as root every Postgres binary
  runs as the ``postgres`` user (``runuser -u postgres --``) on a directory that
  user owns. The default state dir lives under ``/root`` (mode 700), which
  ``postgres`` cannot traverse; rather than loosen permissions on ``/root``,
  the cluster then lives in ``$TMPDIR/minisys-postgres-<hash of state dir>``
  (the same when the state path is too long for a Unix socket name). Its path
  is recorded in ``services.json`` as ``home``.
* **Kafka** is the real broker, ``org.apache.kafka:kafka_2.13`` from Maven
  Central (no broker is packaged for Debian or PyPI), resolved once with the
  pom in ``minisys/resources/kafka`` and started in KRaft combined mode
  (``process.roles=broker,controller``, static single voter), replication
  factors 1. The JVM is detached (its own session) so it outlives the command
  that started it; "ready" means a real produce/consume round trip succeeded.

The functions are synchronous (they wait for processes); call them from async
code with ``asyncio.to_thread``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import errno
import hashlib
import logging
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minisys import config
from minisys.errors import MinisysError, ServiceUnavailable

POSTGRES_PORT = 55432
#: The broker listens here; its KRaft controller on the next port up.
KAFKA_PORT = 59092
#: Keep in step with ``kafka.version`` in ``resources/kafka/pom.xml``.
KAFKA_VERSION = "4.4.0"
KAFKA_HEAP = "512m"
POSTGRES_TIMEOUT = 60.0
KAFKA_TIMEOUT = 120.0
#: Seconds between SIGTERM and SIGKILL when stopping the broker.
KAFKA_STOP_GRACE = 30.0
#: Debian packages tried, in order, when no Postgres binaries are found
#: (15 is what Debian 12 ships; the metapackage is the release's default).
POSTGRES_APT_PACKAGES = ("postgresql-15", "postgresql")
JAVA_APT_PACKAGES = ("openjdk-17-jre-headless", "default-jre-headless")

RESOURCES = Path(__file__).parent / "resources" / "kafka"
SERVICES = ("postgres", "kafka")

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


# ---------------------------------------------------------------- processes


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


# ----------------------------------------------------------------- postgres


def _postgres_home(state: Path) -> Path:
    """Where the cluster lives (see the module docstring for why it may move to $TMPDIR)."""
    wanted = state / "services" / "postgres"
    # ".s.PGSQL.<port>" must fit a Unix socket name (107 bytes on Linux).
    if len(str(wanted)) <= 80 and (not _is_root() or _postgres_can_reach(wanted)):
        return wanted
    digest = hashlib.sha1(str(state).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"minisys-postgres-{digest}"


def _postgres_can_reach(path: Path) -> bool:
    """Can the ``postgres`` user traverse every existing ancestor of ``path``?"""
    import grp
    import pwd
    import stat

    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        return True  # no such user yet: decided again once it exists
    groups = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if "postgres" in g.gr_mem}
    for directory in reversed(path.parents):
        try:
            st = directory.stat()
        except FileNotFoundError:
            break
        if st.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def _postgres_bindir(progress: Progress) -> Path:
    """The newest ``/usr/lib/postgresql/<v>/bin``, installing Debian's package if none."""

    def find() -> Path | None:
        found = sorted(
            Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
            key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.parent.name.split(".")],
        )
        if found:
            return found[-1].parent
        on_path = shutil.which("pg_ctl")
        return Path(on_path).parent if on_path else None

    bindir = find()
    if bindir is None:
        _apt_install(POSTGRES_APT_PACKAGES, "Postgres server binaries (pg_ctl, initdb)", progress)
        bindir = find()
    if bindir is None:
        raise ServiceUnavailable("no pg_ctl under /usr/lib/postgresql/*/bin even after apt-get install")
    return bindir


def _as_postgres() -> list[str]:
    """Command prefix that runs a Postgres binary as a user ``initdb`` accepts."""
    if not _is_root():
        return []
    import pwd

    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServiceUnavailable("running as root needs `runuser` (util-linux) to run Postgres as `postgres`")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceUnavailable(
            "running as root needs a `postgres` user to own the cluster (Debian's postgresql package creates it)"
        ) from None
    return [runuser, "-u", "postgres", "--"]


def _prepare_postgres_home(home: Path) -> None:
    if home.is_symlink():
        raise MinisysError(f"refusing to use {home}: it is a symlink")
    home.mkdir(parents=True, exist_ok=True)
    if _is_root():
        import pwd

        user = pwd.getpwnam("postgres")
        st = home.stat()
        if st.st_uid not in (0, user.pw_uid):
            raise MinisysError(f"refusing to use {home}: owned by uid {st.st_uid}, not root or postgres")
        for path in [home, *home.rglob("*")]:
            if path.stat().st_uid != user.pw_uid:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    home.chmod(0o700)


def _postmaster(data: Path, clean: bool) -> tuple[int, int] | None:
    """``(pid, port)`` of the live postmaster of ``data``; a stale pid file is removed."""
    pidfile = data / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    if _alive(pid, "postgres"):
        return pid, port
    if clean:
        # Postgres itself trusts kill(pid, 0) on its lock files, which a zombie
        # passes: let a crashed postmaster be reaped before starting anew.
        _wait_gone(pid, 10)
        with contextlib.suppress(OSError):
            pidfile.unlink()
    return None


def _postgres_url(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def _postgres_query(bindir: Path, port: int, sql: str, timeout: float) -> str:
    """Run one query over TCP with psql until it answers (or the deadline passes)."""
    env = dict(os.environ, PGCONNECT_TIMEOUT="3")
    cmd = [str(bindir / "psql"), "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(port),
           "-U", "postgres", "-d", "postgres", "-c", sql]
    deadline = time.monotonic() + timeout
    while True:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=30,
                              stdin=subprocess.DEVNULL)
        if proc.returncode == 0:
            return proc.stdout.strip()
        if time.monotonic() > deadline:
            raise ServiceStartError(f"Postgres on 127.0.0.1:{port} does not answer queries: "
                                    f"{_last_line(proc.stderr)}")
        time.sleep(0.2)


def start_postgres(
    port: int = POSTGRES_PORT, *, timeout: float = POSTGRES_TIMEOUT, progress: Progress = _quiet
) -> ServiceInfo:
    """Start (or find running) the throwaway Postgres and record its URL.

    Waits until ``SHOW server_version`` answers over TCP on 127.0.0.1.
    """
    started = time.monotonic()
    state = config.state_dir()
    with _lock(state):
        home = _postgres_home(state)
        running = _postmaster(home / "data", clean=True)
        already = running is not None
        if running is None:
            _require_free(port, "Postgres", "--postgres-port")
            bindir = _postgres_bindir(progress)
            home = _postgres_home(state)  # the `postgres` user may exist only now
            running = _start_postmaster(bindir, home, port, timeout, progress)
        else:
            bindir = _postgres_bindir(progress)
        log = home / "postgres.log"
        pid, actual_port = running
        version = _postgres_query(bindir, actual_port, "SHOW server_version", timeout)
        url = _postgres_url(actual_port)
        _record("postgres", {
            "url": url, "pid": pid, "version": version, "port": actual_port,
            "home": str(home), "log": str(log),
        })
    note = f"on port {actual_port}, not {port}: `down` first to move it" if actual_port != port else ""
    return ServiceInfo("postgres", True, url, pid, version, home, log, already_running=already,
                       seconds=time.monotonic() - started, note=note)


def _start_postmaster(
    bindir: Path, home: Path, port: int, timeout: float, progress: Progress
) -> tuple[int, int]:
    """initdb (first time only), then ``pg_ctl start -w`` with the throwaway settings."""
    data, log = home / "data", home / "postgres.log"
    as_pg = _as_postgres()
    _prepare_postgres_home(home)
    if not (data / "PG_VERSION").exists():
        shutil.rmtree(data, ignore_errors=True)  # a half-finished initdb
        progress(f"initialising a Postgres cluster in {data}")
        _run([*as_pg, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
              "-A", "trust", "--no-sync", "--no-locale", "-E", "UTF8"],
             f"initdb in {data}", timeout=120)
    server_opts = (
        f"-F -p {port} -k {shlex.quote(str(home))} -c listen_addresses=127.0.0.1"
        " -c synchronous_commit=off -c full_page_writes=off -c logging_collector=off"
    )
    for attempt in range(3):
        try:
            _run([*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                  "-t", str(int(timeout)), "-o", server_opts, "start"],
                 f"Postgres start (log: {log})", timeout=timeout + 30)
            break
        except ServiceStartError as exc:
            tail = _tail(log)
            # After a crash the old server's children may hold its shared memory
            # for a moment; they exit once they notice the postmaster is gone.
            if attempt < 2 and ("still in use" in tail or "lock file" in tail):
                time.sleep(2)
                continue
            raise ServiceStartError(str(exc), tail) from exc
    running = _postmaster(data, clean=False)
    if running is None:
        raise ServiceStartError(f"Postgres exited right after starting; see {log}", _tail(log))
    return running


def stop_postgres(*, purge: bool = False, timeout: float = POSTGRES_TIMEOUT) -> bool:
    """Stop the throwaway Postgres (``pg_ctl stop -m fast``); True if one was running.

    ``purge`` also deletes its cluster, so the next ``up`` runs initdb again.
    """
    state = config.state_dir()
    home = _postgres_home(state)
    data = home / "data"
    if not (state / "services").exists() and not home.exists():
        return False
    with _lock(state):
        running = _postmaster(data, clean=True)
        if running is not None:
            pid, _ = running
            try:
                _run([*_as_postgres(), str(_postgres_bindir(_quiet) / "pg_ctl"), "-D", str(data),
                      "-m", "fast", "-w", "-t", str(int(timeout)), "stop"],
                     "pg_ctl stop", timeout=timeout + 30)
            except MinisysError:
                os.kill(pid, signal.SIGINT)  # what "-m fast" sends
                if not _wait_dead(pid, "postgres", timeout):
                    os.kill(pid, signal.SIGKILL)
            _wait_dead(pid, "postgres", 10)
        _record("postgres", None)
        if purge:
            shutil.rmtree(home, ignore_errors=True)
    return running is not None


# -------------------------------------------------------------------- kafka


def _kafka_home(state: Path) -> Path:
    return state / "services" / "kafka"


def _kafka_pid(home: Path, clean: bool) -> int | None:
    pidfile = home / "kafka.pid"
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if _alive(pid, "kafka.Kafka"):
        return pid
    if clean:
        # A JVM's main thread can show as a zombie while its other threads,
        # and its sockets, are still being torn down.
        _wait_gone(pid, 10)
        with contextlib.suppress(OSError):
            pidfile.unlink()
    return None


def _java(progress: Progress) -> str:
    """A Java 17+ runtime (``$JAVA_HOME/bin/java`` or ``java`` on PATH), installed if missing."""

    def find() -> str | None:
        java_home = os.environ.get("JAVA_HOME")
        if java_home and (Path(java_home) / "bin" / "java").exists():
            return str(Path(java_home) / "bin" / "java")
        return shutil.which("java")

    java = find()
    if java is None:
        _apt_install(JAVA_APT_PACKAGES, "java (the Kafka broker needs Java 17+)", progress)
        java = find()
    if java is None:
        raise ServiceUnavailable("java not found on PATH even after apt-get install")
    proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if match:
        major = int(match.group(1)) if match.group(1) != "1" else int(match.group(2) or 0)
        if major < 17:
            raise ServiceUnavailable(f"{java} is Java {major}; the Kafka {KAFKA_VERSION} broker needs Java 17+")
    return java


def _kafka_lib(home: Path, progress: Progress) -> Path:
    """The broker's jars, copied from Maven once; reused while the pom is unchanged."""
    lib = home / "lib"
    pom = (RESOURCES / "pom.xml").read_bytes()
    stamp = hashlib.sha256(pom).hexdigest()
    marker = lib / ".minisys-pom-sha256"
    if marker.exists() and marker.read_text().strip() == stamp:
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        _apt_install(("maven",), "mvn (resolves the Kafka broker from Maven Central)", progress)
        mvn = shutil.which("mvn")
    if mvn is None:
        raise ServiceUnavailable("mvn not found on PATH even after apt-get install maven")
    progress(f"resolving Kafka {KAFKA_VERSION} and its dependencies with Maven into {lib} (first run only)")
    work = home / "maven"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "pom.xml").write_bytes(pom)
    staging = home / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    _run([mvn, "-q", "-B", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
          f"-DoutputDirectory={staging}"], f"Maven (resolving Kafka {KAFKA_VERSION}, pom {work / 'pom.xml'})",
         timeout=1200, cwd=work)
    (staging / marker.name).write_text(stamp + "\n")
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)
    shutil.rmtree(work, ignore_errors=True)
    return lib


def _kafka_jar_version(lib: Path) -> str:
    for jar in lib.glob("kafka_2.13-*.jar"):
        return jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
    raise ServiceStartError(f"no kafka_2.13-*.jar in {lib}; delete {lib} and retry")


def _server_properties(home: Path, port: int, controller_port: int) -> str:
    """KRaft combined mode, one node, every listener on 127.0.0.1 (Kafka 4.x)."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(home / "data"),
        "num.partitions": "1",
        "num.recovery.threads.per.data.dir": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
    }
    lines = ["# Written by `minisys services up`; rewritten on every start."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def _cluster_id() -> str:
    """22-character base64url of 16 random bytes, the form `kafka-storage random-uuid` prints.

    Like Kafka's own ``Uuid.randomUuid``, never one starting with ``-``: the
    storage tool's argument parser would read it as an option (a 1-in-64 flake).
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def _jvm(java: str, home: Path, lib: Path) -> list[str]:
    return [
        java, f"-Xmx{KAFKA_HEAP}", f"-Xms{KAFKA_HEAP}", "-server", "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
        "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={home / 'logs'}", "-cp", f"{lib}/*",
    ]


def _broker_port(home: Path) -> int | None:
    try:
        text = (home / "server.properties").read_text()
    except OSError:
        return None
    match = re.search(r"^listeners=PLAINTEXT://127\.0\.0\.1:(\d+)", text, re.M)
    return int(match.group(1)) if match else None


def _wait_kafka_ready(pid: int, bootstrap: str, log: Path, out: Path, timeout: float) -> None:
    """Until a produce/consume round trip succeeds, the broker dies, or the deadline."""
    import asyncio
    import importlib.util

    from minisys.baselines.kafka import round_trip

    # Without the [kafka] extra there is no client to probe with: an open port
    # is the best evidence available (the broker opens it last).
    have_client = importlib.util.find_spec("aiokafka") is not None

    host, _, port = bootstrap.rpartition(":")

    async def wait() -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        port_open = False
        while True:
            if not _alive(pid, "kafka.Kafka"):
                raise ServiceStartError(
                    f"the Kafka broker exited during startup; see {log} and {out}",
                    _tail(log) or _tail(out),
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServiceStartError(
                    f"the Kafka broker at {bootstrap} was not ready within {timeout:.0f} s "
                    f"({last}); see {log}", _tail(log) or _tail(out),
                )
            try:
                if not port_open:  # cheap check first: aiokafka logs every refused connect
                    with socket.create_connection((host, int(port)), timeout=2):
                        port_open = True
                if not have_client:
                    return
                await round_trip(bootstrap, timeout=min(15.0, max(left, 1.0)))
                return
            except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
                last = f"{type(exc).__name__}: {exc}".strip()
            await asyncio.sleep(0.25 if not port_open else 0.5)

    # The probe's expected failures ("topic not found", "connect failed") are not news.
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        asyncio.run(wait())
    finally:
        quiet.setLevel(level)


def start_kafka(
    port: int = KAFKA_PORT,
    *,
    controller_port: int | None = None,
    timeout: float = KAFKA_TIMEOUT,
    progress: Progress = _quiet,
) -> ServiceInfo:
    """Start (or find running) the throwaway Kafka broker and record its bootstrap.

    The KRaft controller listens on ``controller_port`` (default ``port + 1``).
    Ready means a message produced through aiokafka was consumed back.
    """
    started = time.monotonic()
    state = config.state_dir()
    home = _kafka_home(state)
    log, out = home / "logs" / "server.log", home / "kafka.out"
    with _lock(state):
        pid = _kafka_pid(home, clean=True)
        if pid is not None:
            entry = config.read_services().get("kafka") or {}
            actual = _broker_port(home) or port
            bootstrap = f"127.0.0.1:{actual}"
            version = entry.get("version") or _kafka_jar_version(home / "lib")
            if entry.get("bootstrap") != bootstrap or entry.get("pid") != pid:
                _record("kafka", _kafka_entry(bootstrap, actual, pid, version, home, log))
            note = f"on port {actual}, not {port}: `down` first to move it" if actual != port else ""
            return ServiceInfo("kafka", True, bootstrap, pid, version, home, log,
                               already_running=True, seconds=time.monotonic() - started, note=note)

        controller_port = controller_port or port + 1
        _require_free(port, "Kafka", "--kafka-port")
        _require_free(controller_port, "the Kafka controller", "--kafka-port (controller uses port+1)")
        java = _java(progress)
        home.mkdir(parents=True, exist_ok=True)
        lib = _kafka_lib(home, progress)
        version = _kafka_jar_version(lib)

        properties = _server_properties(home, port, controller_port)
        config_file = home / "server.properties"
        previous = config_file.read_text() if config_file.exists() else None
        if previous != properties:
            # The quorum's address is part of the formatted metadata: a new port
            # means a fresh (throwaway) log directory.
            shutil.rmtree(home / "data", ignore_errors=True)
            config_file.write_text(properties)
        shutil.copyfile(RESOURCES / "log4j2.properties", home / "log4j2.properties")
        (home / "logs").mkdir(exist_ok=True)
        if not (home / "data" / "meta.properties").exists():
            shutil.rmtree(home / "data", ignore_errors=True)
            progress(f"formatting Kafka storage in {home / 'data'}")
            _run([*_jvm(java, home, lib), "kafka.tools.StorageTool", "format",
                  "-t", _cluster_id(), "-c", str(config_file)],
                 f"kafka-storage format (config {config_file})", timeout=120, cwd=home)

        with open(out, "ab") as sink:
            proc = subprocess.Popen(
                [*_jvm(java, home, lib), "kafka.Kafka", str(config_file)],
                cwd=home, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True,  # outlive `minisys services up`; not hit by its Ctrl-C
            )
        (home / "kafka.pid").write_text(f"{proc.pid}\n")
        bootstrap = f"127.0.0.1:{port}"
        progress(f"waiting for the Kafka broker at {bootstrap} (pid {proc.pid}, log {log})")
        try:
            _wait_kafka_ready(proc.pid, bootstrap, log, out, timeout)
        except BaseException:
            _terminate(proc.pid, grace=10)
            with contextlib.suppress(OSError):
                (home / "kafka.pid").unlink()
            raise
        _record("kafka", _kafka_entry(bootstrap, port, proc.pid, version, home, log))
    return ServiceInfo("kafka", True, bootstrap, proc.pid, version, home, log,
                       seconds=time.monotonic() - started)


def _kafka_entry(bootstrap: str, port: int, pid: int, version: str, home: Path, log: Path) -> dict:
    return {
        "bootstrap": bootstrap, "pid": pid, "version": version, "port": port,
        "home": str(home), "log": str(log),
    }


def _terminate(pid: int, grace: float) -> None:
    """SIGTERM the broker's process group (a clean shutdown), SIGKILL after ``grace``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if _wait_dead(pid, "kafka.Kafka", grace if sig == signal.SIGTERM else 10):
            _wait_gone(pid, 10)
            return


def stop_kafka(*, purge: bool = False, grace: float = KAFKA_STOP_GRACE) -> bool:
    """Stop the throwaway broker; True if one was running.

    ``purge`` also deletes its data and logs (the Maven-resolved jars stay, so
    the next ``up`` needs no Maven run).
    """
    state = config.state_dir()
    home = _kafka_home(state)
    if not home.exists():
        return False
    with _lock(state):
        pid = _kafka_pid(home, clean=True)
        if pid is not None:
            _terminate(pid, grace)
            with contextlib.suppress(OSError):
                (home / "kafka.pid").unlink()
        _record("kafka", None)
        if purge:
            for name in ("data", "logs", "kafka.out", "server.properties"):
                target = home / name
                if target.is_dir():
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        target.unlink()
    return pid is not None


# ------------------------------------------------------------------- status


def status() -> dict[str, ServiceInfo]:
    """Which throwaway servers run, read-only (creates and cleans nothing)."""
    state = config.state_dir()
    recorded = config.read_services()
    result: dict[str, ServiceInfo] = {}

    home = _postgres_home(state)
    entry = recorded.get("postgres") or {}
    running = _postmaster(home / "data", clean=False)
    if running:
        pid, port = running
        result["postgres"] = ServiceInfo("postgres", True, _postgres_url(port), pid,
                                         entry.get("version"), home, home / "postgres.log")
    else:
        result["postgres"] = ServiceInfo(
            "postgres", False, note="stale entry in services.json" if entry else "")

    home = _kafka_home(state)
    entry = recorded.get("kafka") or {}
    pid = _kafka_pid(home, clean=False)
    if pid:
        port = _broker_port(home)
        result["kafka"] = ServiceInfo("kafka", True, f"127.0.0.1:{port}", pid, entry.get("version"),
                                      home, home / "logs" / "server.log")
    else:
        result["kafka"] = ServiceInfo("kafka", False, note="stale entry in services.json" if entry else "")
    return result


# ---------------------------------------------------------------------- CLI


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "services",
        help="start/stop throwaway local Postgres and Kafka to compare against",
        description="Start, stop or inspect throwaway Postgres and Kafka servers on 127.0.0.1. "
        "With neither --postgres nor --kafka, both.",
    )
    parser.set_defaults(_group_parser=parser)
    actions = parser.add_subparsers(dest="services_action", metavar="ACTION")
    for name, help_text, handler in (
        ("up", "start the servers (idempotent) and record their URLs", _cmd_up),
        ("down", "stop the servers and forget their URLs", _cmd_down),
        ("status", "show which servers run and where", _cmd_status),
    ):
        action = actions.add_parser(name, help=help_text, description=help_text)
        action.add_argument("--postgres", action="store_true", help="only Postgres")
        action.add_argument("--kafka", action="store_true", help="only Kafka")
        if name == "up":
            action.add_argument("--postgres-port", type=int, default=POSTGRES_PORT, metavar="PORT",
                                help=f"Postgres port on 127.0.0.1 (default {POSTGRES_PORT})")
            action.add_argument("--kafka-port", type=int, default=KAFKA_PORT, metavar="PORT",
                                help=f"Kafka broker port; its controller uses PORT+1 (default {KAFKA_PORT})")
            action.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                                help=f"readiness deadline per server (default {POSTGRES_TIMEOUT:.0f} s "
                                f"Postgres, {KAFKA_TIMEOUT:.0f} s Kafka)")
        if name == "down":
            action.add_argument("--purge", action="store_true",
                                help="also delete their data (Kafka's downloaded jars are kept)")
        action.set_defaults(func=handler)


def _selected(args: argparse.Namespace) -> list[str]:
    chosen = [name for name in SERVICES if getattr(args, name)]
    return chosen or list(SERVICES)


def _progress(message: str) -> None:
    print(f"minisys: {message}", file=sys.stderr, flush=True)


def _describe(info: ServiceInfo) -> str:
    if not info.running:
        return f"{info.name:<9} down" + (f"  ({info.note})" if info.note else "")
    details = [f"{'PostgreSQL' if info.name == 'postgres' else 'Kafka'} {info.version or '?'}",
               f"pid {info.pid}"]
    if info.seconds is not None and not info.already_running:
        details.append(f"started in {info.seconds:.1f} s")
    if info.note:
        details.append(info.note)
    word = "already running" if info.already_running else "up"
    return f"{info.name:<9} {word:<8} {info.address}  ({', '.join(details)})"


def _env_notes(names: list[str]) -> list[str]:
    notes = []
    for name, env in (("postgres", config.POSTGRES_ENV), ("kafka", config.KAFKA_ENV)):
        if name in names and os.environ.get(env):
            notes.append(f"note: {env}={os.environ[env]} is set and wins over services.json")
    return notes


def _cmd_up(args: argparse.Namespace) -> int:
    names = _selected(args)
    for name in names:
        try:
            if name == "postgres":
                info = start_postgres(args.postgres_port, timeout=args.timeout or POSTGRES_TIMEOUT,
                                      progress=_progress)
            else:
                info = start_kafka(args.kafka_port, timeout=args.timeout or KAFKA_TIMEOUT,
                                   progress=_progress)
        except ServiceStartError as exc:
            if exc.log_tail:
                print(f"--- last lines of the {name} log ---\n{exc.log_tail}\n---", file=sys.stderr)
            raise
        print(_describe(info), flush=True)
    print(f"recorded in {config.services_file()}")
    for note in _env_notes(names):
        print(note)
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    for name in _selected(args):
        stop = stop_postgres if name == "postgres" else stop_kafka
        was_running = stop(purge=args.purge)
        print(f"{name:<9} {'stopped' if was_running else 'was not running'}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    found = status()
    for name in _selected(args):
        print(_describe(found[name]))
    print(f"services file: {config.services_file()}")
    for note in _env_notes(_selected(args)):
        print(note)
    return 0
