"""Shared fixtures: the real services, and the CI rule that they must be there.

A test that needs Postgres or Kafka asks for the ``postgres_url`` or
``kafka_bootstrap`` fixture. On a developer machine without the service it is
skipped with the command that starts one; under ``CI=true`` it FAILS, because
`.ci/run` starts both and a silent skip would hide a broken setup.

Tests marked ``heavy`` (fault injection at scale) run under ``CI=true`` or
``MINISYS_HEAVY=1`` and are skipped otherwise, so the default run stays short.
"""

from __future__ import annotations

import os
import socket

import pytest

from minisys import config


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _missing(service: str, why: str) -> None:
    msg = f"{service} unavailable: {why} (start one with `minisys services up --{service.lower()}`)"
    if in_ci():
        pytest.fail(f"CI=true and {msg}", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    from sqlalchemy.engine import make_url

    url = config.postgres_url()
    if not url:
        _missing("Postgres", f"{config.POSTGRES_ENV} unset and no services.json")
    parsed = make_url(url)
    host, port = parsed.host or "127.0.0.1", parsed.port or 5432
    if not _reachable(host, port):
        _missing("Postgres", f"nothing answers at {host}:{port}")
    return url


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    bootstrap = config.kafka_bootstrap()
    if not bootstrap:
        _missing("Kafka", f"{config.KAFKA_ENV} unset and no services.json")
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not _reachable(host or "127.0.0.1", int(port)):
        _missing("Kafka", f"nothing answers at {bootstrap}")
    return bootstrap


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Marked service tests get the fixture even if they forgot to ask for it,
    # so a marker alone is enough to fail (not skip) in CI.
    for item in items:
        if item.get_closest_marker("postgres") and "postgres_url" not in item.fixturenames:
            item.fixturenames.append("postgres_url")
        if item.get_closest_marker("kafka") and "kafka_bootstrap" not in item.fixturenames:
            item.fixturenames.append("kafka_bootstrap")
    if in_ci() or os.environ.get("MINISYS_HEAVY") == "1":
        return
    skip_heavy = pytest.mark.skip(reason="heavy test: runs with CI=true or MINISYS_HEAVY=1")
    for item in items:
        if item.get_closest_marker("heavy"):
            item.add_marker(skip_heavy)
