"""Real stores through their adapters: SQLite, Postgres, and the broken client."""

from __future__ import annotations

import pytest

from minisys.consistency.adapters import target
from minisys.consistency.runner import run
from minisys.consistency.workloads import workload


def _run(name: str, wl: str, seed: int = 1, **kw):
    t = target(name, **kw)
    return run(t, workload(wl, t.functions), seed=seed, processes=5, ops_per_process=40)


def test_sqlite_passes_the_linearizable_register_workload():
    r = _run("sqlite", "register")
    assert r.result("linearizable").valid is True, r.result("linearizable").explain()
    assert r.result("read-your-writes").valid is not False
    assert r.result("monotonic-reads").valid is not False


def test_sqlite_passes_the_kv_append_workload():
    r = _run("sqlite", "kv")
    assert r.result("linearizable").valid is True, r.result("linearizable").explain()


def test_sqlite_loses_no_element_of_the_set_workload():
    assert _run("sqlite", "set").result("set").valid is True


def test_a_stale_read_cache_is_caught_as_non_linearizable():
    r = _run("sqlite-stale-cache", "register")
    res = r.result("linearizable")
    assert res.valid is False
    assert any(op.is_read for op in res.offending) and len(res.offending) <= 10


@pytest.mark.postgres
def test_postgres_serializable_passes_the_linearizable_register_workload(postgres_url):
    r = _run("postgres", "register", url=postgres_url)
    assert r.result("linearizable").valid is True, r.result("linearizable").explain()
    assert sum(1 for op in r.history.operations() if op.status == "ok") > 100


@pytest.mark.postgres
def test_postgres_serializable_passes_the_kv_append_and_set_workloads(postgres_url):
    assert _run("postgres", "kv", url=postgres_url).result("linearizable").valid is True
    assert _run("postgres", "set", url=postgres_url).result("set").valid is True
