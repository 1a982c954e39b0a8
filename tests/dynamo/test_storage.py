"""Storage engines: in-memory, the node's durable storage, and a SQLite file synced before ack."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from minisys.dynamo.reconcile import update
from minisys.dynamo.storage import MemoryEngine, NodeStorageEngine, SqliteEngine
from minisys.dynamo.vclock import VClock
from minisys.net import Storage


def _sibs(value: bytes):
    return update([], VClock(), value, "n0", 1.0)[0]


@pytest.fixture(params=["memory", "node-storage", "sqlite"])
def engine(request, tmp_path):
    if request.param == "memory":
        return MemoryEngine()
    if request.param == "node-storage":
        return NodeStorageEngine(Storage())
    return SqliteEngine(tmp_path / "n0.sqlite")


async def test_sqlite_group_commit_makes_buffered_writes_durable_and_visible_before(tmp_path):
    engine = SqliteEngine(tmp_path / "n0.sqlite")
    engine.put("a", _sibs(b"1"))
    engine.put_hint("n2", "b", _sibs(b"2"))
    assert engine.keys() == ["a"] and engine.hint_count() == 1  # reads see the write buffer
    assert SqliteEngine(tmp_path / "n0.sqlite").keys() == []  # not on disk yet
    await engine.sync()
    again = SqliteEngine(tmp_path / "n0.sqlite")
    assert again.keys() == ["a"] and list(again.hinted("b")) == ["n2"]


def test_engine_keeps_siblings_and_a_separate_hint_store(engine):
    engine.put("k", _sibs(b"v"))
    assert [s.value for s in engine.get("k")] == [b"v"]
    engine.put_hint("n3", "h", _sibs(b"hinted"))
    assert engine.keys() == ["k"]  # hints are not mixed into the main store (§4.6)
    assert [(t, k) for t, k, _ in engine.hints()] == [("n3", "h")]
    assert list(engine.hinted("h")) == ["n3"] and engine.hint_count() == 1
    engine.delete_hint("n3", "h")
    engine.delete("k")
    assert engine.hints() == [] and engine.get("k") == [] and engine.hint_count() == 0


def test_node_storage_engine_survives_a_restart_from_the_same_disk():
    disk = Storage()
    NodeStorageEngine(disk).put_hint("n1", "k", _sibs(b"x"))
    NodeStorageEngine(disk).put("k", _sibs(b"y"))
    again = NodeStorageEngine(disk)
    assert [s.value for s in again.get("k")] == [b"y"] and again.hint_count() == 1


def test_sqlite_engine_write_survives_kill_9(tmp_path):
    path = tmp_path / "n0.sqlite"
    code = (
        "import os, sys; from minisys.dynamo.storage import SqliteEngine;"
        "from minisys.dynamo.reconcile import update; from minisys.dynamo.vclock import VClock;"
        "import asyncio;"
        f"e = SqliteEngine({str(path)!r}); e.put('k', update([], VClock(), b'acked', 'n0', 1.0)[0]);"
        "asyncio.run(e.sync()); print('acked', flush=True); os.kill(os.getpid(), 9)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
    assert proc.returncode == -9 and "acked" in proc.stdout
    assert [s.value for s in SqliteEngine(path).get("k")] == [b"acked"]


async def test_sqlite_engine_cache_and_hint_index_agree_with_the_file_after_reopening(tmp_path):
    engine = SqliteEngine(tmp_path / "n0.sqlite")
    engine.put("k", _sibs(b"1"))
    assert [s.value for s in engine.get("k")] == [b"1"]
    engine.put("k", _sibs(b"2"))  # a write replaces the cached copy, never leaves it stale
    engine.put_hint("n3", "h", _sibs(b"hinted"))
    assert [s.value for s in engine.get("k")] == [b"2"] and list(engine.hinted("h")) == ["n3"]
    assert engine.hinted("k") == {}
    await engine.sync()
    engine.close()
    again = SqliteEngine(tmp_path / "n0.sqlite")
    assert [s.value for s in again.get("k")] == [b"2"]
    assert list(again.hinted("h")) == ["n3"] and again.hint_count() == 1
    again.delete_hint("n3", "h")
    assert again.hinted("h") == {} and again.hint_count() == 0
    again.close()
