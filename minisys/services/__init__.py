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

from minisys import config
from minisys.services.cli import SERVICES, register
from minisys.services.kafka import (
    JAVA_APT_PACKAGES,
    KAFKA_HEAP,
    KAFKA_PORT,
    KAFKA_STOP_GRACE,
    KAFKA_TIMEOUT,
    KAFKA_VERSION,
    RESOURCES,
    _broker_port,
    _kafka_home,
    _kafka_pid,
    start_kafka,
    stop_kafka,
)
from minisys.services.postgres import (
    POSTGRES_APT_PACKAGES,
    POSTGRES_PORT,
    POSTGRES_TIMEOUT,
    _postgres_home,
    _postgres_url,
    _postmaster,
    start_postgres,
    stop_postgres,
)
from minisys.services.process import Progress, ServiceInfo, ServiceStartError

__all__ = [
    "JAVA_APT_PACKAGES",
    "KAFKA_HEAP",
    "KAFKA_PORT",
    "KAFKA_STOP_GRACE",
    "KAFKA_TIMEOUT",
    "KAFKA_VERSION",
    "POSTGRES_APT_PACKAGES",
    "POSTGRES_PORT",
    "POSTGRES_TIMEOUT",
    "RESOURCES",
    "SERVICES",
    "Progress",
    "ServiceInfo",
    "ServiceStartError",
    "register",
    "start_kafka",
    "start_postgres",
    "status",
    "stop_kafka",
    "stop_postgres",
]


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
