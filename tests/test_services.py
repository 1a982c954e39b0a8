"""`minisys services`: throwaway Postgres and Kafka, started for real.

Each test that starts a server does so in its own temporary state dir on free
ports, so it neither touches nor collides with the servers CI (or a developer)
started with `minisys services up`. Postgres starts in about a second; the
Kafka lifecycle test takes tens of seconds and is marked ``heavy``. The
Maven-resolved Kafka jars come from the shared ~/.m2 cache after the first run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from minisys import config, services
from minisys.errors import MinisysError
from minisys.services import process


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _free_port(pair: bool = False) -> int:
    """A free port on 127.0.0.1 (and the next one free too, for Kafka's controller)."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < 65535 and (not pair or process._port_free(port + 1)):
            return port
    raise RuntimeError("no free port pair found")


@pytest.fixture
def state(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh MINISYS_STATE_DIR; whatever a test started there is stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="minisys-test-"))
    path.chmod(0o755)  # so the `postgres` user can keep its cluster inside it
    monkeypatch.setenv(config.STATE_ENV, str(path))
    monkeypatch.delenv(config.POSTGRES_ENV, raising=False)
    monkeypatch.delenv(config.KAFKA_ENV, raising=False)
    yield path
    services.stop_kafka(purge=True, grace=10)
    services.stop_postgres(purge=True)
    shutil.rmtree(path, ignore_errors=True)


def _have_postgres() -> None:
    if in_ci():
        return  # .ci/run installs it; a missing server must fail, not skip
    if not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")) and not shutil.which("pg_ctl"):
        pytest.skip("Postgres server binaries not installed (apt-get install postgresql-15)")


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real command in a child process (servers must outlive it)."""
    return subprocess.run(
        [sys.executable, "-m", "minisys", "services", *args],
        capture_output=True, text=True, timeout=timeout, env=os.environ.copy(),
    )


def _select_1(url: str) -> int:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute("SELECT 1").fetchone()[0]


# ------------------------------------------------------------ no server needed


def test_status_reports_both_down_in_a_fresh_state_dir_without_creating_it(state: Path) -> None:
    fresh = state / "nothing-here"
    os.environ[config.STATE_ENV] = str(fresh)
    found = services.status()
    assert {name: info.running for name, info in found.items()} == {"postgres": False, "kafka": False}
    assert not fresh.exists()


def test_status_command_exits_zero_and_prints_each_service(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    services.register(parser.add_subparsers())
    args = parser.parse_args(["services", "status"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "postgres  down" in out and "kafka     down" in out
    assert str(config.services_file()) in out


def test_taken_port_gives_a_clear_error_naming_port_and_flag(state: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(MinisysError, match=rf"port {port} on 127.0.0.1 is already in use.*--postgres-port"):
            services.start_postgres(port)
        with pytest.raises(MinisysError, match=rf"port {port} on 127.0.0.1 is already in use.*--kafka-port"):
            services.start_kafka(port)
    assert config.read_services() == {}


def test_env_var_wins_over_services_json(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config.write_services({
        "postgres": {"url": "postgresql://postgres@127.0.0.1:1/postgres"},
        "kafka": {"bootstrap": "127.0.0.1:2"},
    })
    assert config.kafka_bootstrap() == "127.0.0.1:2"
    monkeypatch.setenv(config.POSTGRES_ENV, "postgresql://me@db.example:5432/x")
    monkeypatch.setenv(config.KAFKA_ENV, "127.0.0.1:3")
    assert config.postgres_url() == "postgresql://me@db.example:5432/x"
    assert config.kafka_bootstrap() == "127.0.0.1:3"


def test_stale_kafka_pid_file_after_a_crash_is_reported_down_and_cleaned(state: Path) -> None:
    home = state / "services" / "kafka"
    home.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (home / "kafka.pid").write_text(f"{dead.pid}\n")
    config.write_services({"kafka": {"bootstrap": "127.0.0.1:9", "pid": dead.pid}})
    assert services.status()["kafka"].running is False
    assert services.stop_kafka() is False
    assert not (home / "kafka.pid").exists()
    assert "kafka" not in config.read_services()


# ------------------------------------------------------------------- Postgres


def test_postgres_up_is_idempotent_and_answers_select_1_at_the_written_url(state: Path) -> None:
    _have_postgres()
    port = _free_port()
    first = services.start_postgres(port)
    again = services.start_postgres(port)
    assert first.running and not first.already_running
    assert again.already_running and again.pid == first.pid
    recorded = config.read_services()["postgres"]
    assert recorded["url"] == f"postgresql://postgres@127.0.0.1:{port}/postgres"
    assert recorded["version"].split()[0][0].isdigit()
    assert config.postgres_url() == recorded["url"]
    assert _select_1(recorded["url"]) == 1
    status = services.status()["postgres"]
    assert status.running and status.address == recorded["url"] and status.pid == first.pid


def test_postgres_up_after_a_crash_cleans_the_stale_pid_file_and_starts_again(state: Path) -> None:
    _have_postgres()
    port = _free_port()
    crashed = services.start_postgres(port)
    os.kill(crashed.pid, signal.SIGKILL)
    assert process._wait_dead(crashed.pid, "postgres", 10)
    restarted = services.start_postgres(port)
    assert not restarted.already_running and restarted.pid != crashed.pid
    assert _select_1(restarted.address) == 1


def test_cli_up_status_down_for_postgres(state: Path) -> None:
    _have_postgres()
    port = _free_port()
    up = _cli("up", "--postgres", "--postgres-port", str(port))
    assert up.returncode == 0, up.stderr
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    assert url in up.stdout
    assert _select_1(url) == 1  # outlived the command that started it
    status = _cli("status", "--postgres")
    assert status.returncode == 0 and "up" in status.stdout and url in status.stdout
    down = _cli("down", "--postgres")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert "postgres" not in json.loads(config.services_file().read_text())
    assert "down" in _cli("status", "--postgres").stdout
    with pytest.raises(Exception):  # noqa: B017 - any connection error: nothing listens
        _select_1(url)


# ---------------------------------------------------------------------- Kafka


@pytest.mark.heavy
def test_kafka_lifecycle_up_idempotent_survives_crash_and_down_removes_entry(state: Path) -> None:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        if in_ci():
            pytest.fail("CI=true but java/mvn are missing")
        pytest.skip("java and mvn are needed to run the Kafka broker")
    import asyncio

    from minisys.baselines.kafka import round_trip

    port = _free_port(pair=True)
    up = _cli("up", "--kafka", "--kafka-port", str(port))
    assert up.returncode == 0, up.stderr
    bootstrap = f"127.0.0.1:{port}"
    assert bootstrap in up.stdout
    recorded = config.read_services()["kafka"]
    assert recorded["bootstrap"] == bootstrap and recorded["version"] == services.KAFKA_VERSION
    assert asyncio.run(round_trip(bootstrap)) > 0  # outlived the `up` process

    again = services.start_kafka(port)
    assert again.already_running and again.pid == recorded["pid"]
    assert "already running" in _cli("up", "--kafka", "--kafka-port", str(port)).stdout

    os.kill(recorded["pid"], signal.SIGKILL)  # a crash leaves a stale pid file
    assert process._wait_dead(recorded["pid"], "kafka.Kafka", 10)
    started = time.monotonic()
    restarted = services.start_kafka(port)
    assert not restarted.already_running and restarted.pid != recorded["pid"]
    assert time.monotonic() - started < services.KAFKA_TIMEOUT

    down = _cli("down", "--kafka")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert "kafka" not in config.read_services()
    assert not process._alive(restarted.pid, "kafka.Kafka")
    assert services.status()["kafka"].running is False


@pytest.mark.heavy
def test_kafka_not_ready_in_time_names_the_log_and_leaves_no_broker_behind(state: Path) -> None:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        if in_ci():
            pytest.fail("CI=true but java/mvn are missing")
        pytest.skip("java and mvn are needed to run the Kafka broker")
    port = _free_port(pair=True)
    with pytest.raises(services.ServiceStartError, match=r"not ready within 1 s.*server\.log") as failed:
        services.start_kafka(port, timeout=1)
    assert "\n" not in str(failed.value)  # the CLI prints it as one line
    assert failed.value.log_tail  # and the log tail above it
    assert not (state / "services" / "kafka" / "kafka.pid").exists()
    assert "kafka" not in config.read_services()
    assert process._port_free(port) and services.status()["kafka"].running is False


def test_kafka_cluster_id_never_starts_with_a_dash_the_storage_tool_would_misread():
    from minisys.services.kafka import _cluster_id

    ids = [_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
