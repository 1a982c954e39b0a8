"""Local persistence engines: where a replica keeps its siblings and its hints (§4.1, §4.6).

Dynamo's storage engine is pluggable (BDB, MySQL, an in-memory buffer, §4.1,
§6.1). Every engine here stores, per key, the list of siblings, and in a
*separate* table the hinted replicas held for other nodes (§4.6: "a separate
local database that is scanned periodically").

* :class:`MemoryEngine` -- a dict; lost on a crash (Dynamo's in-memory buffer
  without the writer thread). Useful to show what durability buys.
* :class:`NodeStorageEngine` -- the node's ``minisys.net`` storage mapping:
  in the simulator, the simulated disk that survives ``crash``/``restart``.
* :class:`SqliteEngine` -- one SQLite file per node, WAL with
  ``synchronous=FULL``: ``put`` returns only after the commit is fsynced, so a
  write acknowledged by this replica survives ``kill -9``.
"""

from __future__ import annotations

import os
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, MutableMapping
from typing import Any

import msgpack

from minisys.dynamo.reconcile import Sibling, from_plain, to_plain


class Engine(ABC):
    """Per-key sibling lists plus a separate hint store."""

    name = "engine"

    @abstractmethod
    def get(self, key: str) -> list[Sibling]: ...

    @abstractmethod
    def put(self, key: str, siblings: list[Sibling]) -> None:
        """Replace ``key``'s siblings; durable (for durable engines) when it returns."""

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def keys(self) -> list[str]: ...

    @abstractmethod
    def put_hint(self, target: str, key: str, siblings: list[Sibling]) -> None: ...

    @abstractmethod
    def hints(self) -> list[tuple[str, str, list[Sibling]]]:
        """Every (intended node, key, siblings) held for another node."""

    @abstractmethod
    def delete_hint(self, target: str, key: str) -> None: ...

    @abstractmethod
    def hinted(self, key: str) -> dict[str, list[Sibling]]:
        """intended node -> siblings, for the hints held for ``key``."""

    @abstractmethod
    def hint_count(self) -> int: ...

    async def sync(self) -> None:  # noqa: B027 -- durable-on-return engines have nothing to wait for
        """Return once every write made so far is durable (group commit for file engines)."""

    def close(self) -> None:  # noqa: B027 -- only file-backed engines have something to close
        """Release files or connections (nothing to do for in-memory engines)."""


class MemoryEngine(Engine):
    """Volatile: everything is gone when the process (or simulated node) dies."""

    name = "memory"

    def __init__(self) -> None:
        self._data: dict[str, list[Sibling]] = {}
        self._hints: dict[str, dict[str, list[Sibling]]] = {}  # key -> intended node -> siblings

    def get(self, key: str) -> list[Sibling]:
        return list(self._data.get(key, ()))

    def put(self, key: str, siblings: list[Sibling]) -> None:
        self._data[key] = list(siblings)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def keys(self) -> list[str]:
        return sorted(self._data)

    def put_hint(self, target: str, key: str, siblings: list[Sibling]) -> None:
        self._hints.setdefault(key, {})[target] = list(siblings)

    def hints(self) -> list[tuple[str, str, list[Sibling]]]:
        return sorted((t, k, list(s)) for k, held in self._hints.items() for t, s in held.items())

    def delete_hint(self, target: str, key: str) -> None:
        held = self._hints.get(key)
        if held is not None:
            held.pop(target, None)
            if not held:
                del self._hints[key]

    def hinted(self, key: str) -> dict[str, list[Sibling]]:
        held = self._hints.get(key)
        return {t: list(held[t]) for t in sorted(held)} if held else {}

    def hint_count(self) -> int:
        return sum(len(held) for held in self._hints.values())


class NodeStorageEngine(Engine):
    """Siblings kept in the node's durable ``storage`` mapping (the simulated disk).

    Decoded sibling lists are cached in memory; the mapping holds plain data
    (``kv/<key>`` and ``hint/<target>/<key>``), which is all that survives a
    simulated crash.
    """

    name = "node-storage"

    def __init__(self, storage: MutableMapping[str, Any]) -> None:
        self._s = storage
        self._cache: dict[str, list[Sibling]] = {}
        self._hint_keys: dict[str, set[str]] = {}  # key -> intended nodes, rebuilt from disk
        for k in storage:
            if k.startswith("hint/"):
                _, target, key = k.split("/", 2)
                self._hint_keys.setdefault(key, set()).add(target)

    def get(self, key: str) -> list[Sibling]:
        hit = self._cache.get(key)
        if hit is None:
            plain = self._s.get("kv/" + key)
            hit = from_plain(plain) if plain else []
            self._cache[key] = hit
        return list(hit)

    def put(self, key: str, siblings: list[Sibling]) -> None:
        self._s["kv/" + key] = to_plain(siblings)
        self._cache[key] = list(siblings)

    def delete(self, key: str) -> None:
        self._s.pop("kv/" + key, None)
        self._cache.pop(key, None)

    def keys(self) -> list[str]:
        return sorted(k[3:] for k in self._s if k.startswith("kv/"))

    def put_hint(self, target: str, key: str, siblings: list[Sibling]) -> None:
        self._s[f"hint/{target}/{key}"] = to_plain(siblings)
        self._hint_keys.setdefault(key, set()).add(target)

    def hints(self) -> list[tuple[str, str, list[Sibling]]]:
        return [(t, k, from_plain(self._s[f"hint/{t}/{k}"]))
                for k in sorted(self._hint_keys) for t in sorted(self._hint_keys[k])]

    def delete_hint(self, target: str, key: str) -> None:
        self._s.pop(f"hint/{target}/{key}", None)
        targets = self._hint_keys.get(key)
        if targets is not None:
            targets.discard(target)
            if not targets:
                del self._hint_keys[key]

    def hinted(self, key: str) -> dict[str, list[Sibling]]:
        return {t: from_plain(self._s[f"hint/{t}/{key}"]) for t in sorted(self._hint_keys.get(key, ()))}

    def hint_count(self) -> int:
        return sum(len(t) for t in self._hint_keys.values())


#: How many keys' decoded siblings a SqliteEngine keeps in memory.
CACHE_KEYS = 1 << 16


def _pack(siblings: list[Sibling]) -> bytes:
    return msgpack.packb(to_plain(siblings), use_bin_type=True)


def _unpack(blob: bytes) -> list[Sibling]:
    return from_plain(msgpack.unpackb(blob, raw=False))


class SqliteEngine(Engine):
    """One SQLite file per node; writes are group-committed and fsynced before anyone acks them.

    Writes land in an in-memory buffer that reads check first (Dynamo §6.1's
    write buffer); :meth:`sync` commits everything buffered in one
    transaction on a worker thread (WAL, ``synchronous=FULL``: the commit is
    fsynced) and returns only when the caller's writes are on disk. Requests
    that arrive during a commit share the next one, so one fsync serves many
    writes and the event loop never blocks on the disk. The node acknowledges
    a put only after ``await sync()``, so an acknowledged write survives
    ``kill -9``.
    """

    name = "sqlite"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import asyncio

        self.path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._writer = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.execute("PRAGMA synchronous=FULL")  # fsync the WAL on every commit
        self._writer.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, siblings BLOB NOT NULL)")
        self._writer.execute(
            "CREATE TABLE IF NOT EXISTS hints (target TEXT, key TEXT, siblings BLOB NOT NULL, "
            "PRIMARY KEY (target, key))"
        )
        self._reader = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # Buffered writes not yet committed: ("kv", key) or ("hint", target, key) -> blob, None = delete.
        self._pending: dict[tuple[str, ...], bytes | None] = {}
        self._inflight: dict[tuple[str, ...], bytes | None] = {}
        self._written = 0  # writes buffered so far
        self._durable = 0  # writes known to be on disk
        self._lock = asyncio.Lock()
        # Decoded siblings of recently read or written keys. Every write goes
        # through put/delete, which update it, so it is never stale; it only
        # saves the SELECT and the decoding on the event loop (not durability:
        # acks still wait for sync()).
        self._cache: dict[str, list[Sibling]] = {}
        # key -> nodes we hold hints for under that key: most keys have none, so
        # the read path (which also serves hinted copies, §4.6) skips the query.
        self._hinted: dict[str, set[str]] = {}
        for target, key in self._reader.execute("SELECT target, key FROM hints"):
            self._hinted.setdefault(key, set()).add(target)

    # --- the buffer ------------------------------------------------------------------------

    def _buffered(self, op: tuple[str, ...]) -> tuple[bool, bytes | None]:
        if op in self._pending:
            return True, self._pending[op]
        if op in self._inflight:
            return True, self._inflight[op]
        return False, None

    def _write(self, op: tuple[str, ...], blob: bytes | None) -> None:
        self._pending[op] = blob
        self._written += 1

    def _overlay(self) -> dict[tuple[str, ...], bytes | None]:
        return {**self._inflight, **self._pending}

    async def sync(self) -> None:
        import asyncio

        mine = self._written
        async with self._lock:
            if self._durable >= mine:
                return  # an earlier group commit already carried our writes
            batch, upto = self._pending, self._written
            self._pending, self._inflight = {}, batch
            await asyncio.to_thread(self._commit, batch)
            self._inflight = {}
            self._durable = upto

    def _commit(self, batch: dict[tuple[str, ...], bytes | None]) -> None:
        db = self._writer
        db.execute("BEGIN")
        try:
            for op, blob in batch.items():
                if op[0] == "kv":
                    if blob is None:
                        db.execute("DELETE FROM kv WHERE key = ?", (op[1],))
                    else:
                        db.execute("INSERT OR REPLACE INTO kv (key, siblings) VALUES (?, ?)", (op[1], blob))
                elif blob is None:
                    db.execute("DELETE FROM hints WHERE target = ? AND key = ?", (op[1], op[2]))
                else:
                    db.execute("INSERT OR REPLACE INTO hints (target, key, siblings) VALUES (?, ?, ?)",
                               (op[1], op[2], blob))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # --- the engine interface ----------------------------------------------------------------

    def _remember(self, key: str, siblings: list[Sibling]) -> None:
        cache = self._cache
        if key not in cache and len(cache) >= CACHE_KEYS:
            del cache[next(iter(cache))]  # evict the oldest entry (insertion order)
        cache[key] = siblings

    def get(self, key: str) -> list[Sibling]:
        cached = self._cache.get(key)
        if cached is not None:
            return list(cached)
        hit, blob = self._buffered(("kv", key))
        if not hit:
            row = self._reader.execute("SELECT siblings FROM kv WHERE key = ?", (key,)).fetchone()
            blob = row[0] if row else None
        siblings = _unpack(blob) if blob else []
        self._remember(key, siblings)
        return list(siblings)

    def put(self, key: str, siblings: list[Sibling]) -> None:
        self._write(("kv", key), _pack(siblings))
        self._remember(key, list(siblings))

    def delete(self, key: str) -> None:
        self._write(("kv", key), None)
        self._remember(key, [])

    def keys(self) -> list[str]:
        found = {r[0] for r in self._reader.execute("SELECT key FROM kv")}
        for op, blob in self._overlay().items():
            if op[0] == "kv":
                (found.add if blob is not None else found.discard)(op[1])
        return sorted(found)

    def put_hint(self, target: str, key: str, siblings: list[Sibling]) -> None:
        self._write(("hint", target, key), _pack(siblings))
        self._hinted.setdefault(key, set()).add(target)

    def _all_hints(self) -> dict[tuple[str, str], bytes]:
        found = {(t, k): b for t, k, b in self._reader.execute("SELECT target, key, siblings FROM hints")}
        for op, blob in self._overlay().items():
            if op[0] == "hint":
                if blob is None:
                    found.pop((op[1], op[2]), None)
                else:
                    found[(op[1], op[2])] = blob
        return found

    def hints(self) -> list[tuple[str, str, list[Sibling]]]:
        return [(t, k, _unpack(b)) for (t, k), b in sorted(self._all_hints().items())]

    def delete_hint(self, target: str, key: str) -> None:
        self._write(("hint", target, key), None)
        held = self._hinted.get(key)
        if held is not None:
            held.discard(target)
            if not held:
                del self._hinted[key]

    def hinted(self, key: str) -> dict[str, list[Sibling]]:
        if key not in self._hinted:
            return {}
        rows = self._reader.execute("SELECT target, siblings FROM hints WHERE key = ?", (key,)).fetchall()
        found = {t: b for t, b in rows}
        for op, blob in self._overlay().items():
            if op[0] == "hint" and op[2] == key:
                if blob is None:
                    found.pop(op[1], None)
                else:
                    found[op[1]] = blob
        return {t: _unpack(b) for t, b in sorted(found.items())}

    def hint_count(self) -> int:
        return sum(len(held) for held in self._hinted.values())

    def close(self) -> None:
        if self._pending:
            self._commit(self._pending)
            self._pending = {}
        self._reader.close()
        self._writer.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())
