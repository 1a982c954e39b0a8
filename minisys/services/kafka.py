"""The throwaway Kafka broker: the real ``kafka_2.13`` jar in KRaft combined mode.

Resolved once from Maven Central with the pom in ``minisys/resources/kafka``;
see the ``minisys.services`` docstring for how it is run and what "ready" means.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from minisys import config
from minisys.errors import ServiceUnavailable
from minisys.services.process import (
    Progress,
    ServiceInfo,
    ServiceStartError,
    _alive,
    _apt_install,
    _forget_stale,
    _lock,
    _quiet,
    _record,
    _require_free,
    _run,
    _tail,
    _wait_dead,
    _wait_gone,
)

#: The broker listens here; its KRaft controller on the next port up.
KAFKA_PORT = 59092
#: Keep in step with ``kafka.version`` in ``minisys/resources/kafka/pom.xml``.
KAFKA_VERSION = "4.4.0"
KAFKA_HEAP = "512m"
KAFKA_TIMEOUT = 120.0
#: Seconds between SIGTERM and SIGKILL when stopping the broker.
KAFKA_STOP_GRACE = 30.0
JAVA_APT_PACKAGES = ("openjdk-17-jre-headless", "default-jre-headless")

RESOURCES = Path(__file__).parent.parent / "resources" / "kafka"


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
        _forget_stale(pidfile, pid)
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
