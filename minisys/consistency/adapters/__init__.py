"""Adapters: one small module per store, so one suite targets them all.

Two shapes, because stores live in two worlds:

* :class:`~minisys.consistency.adapters.base.SyncStore` — a real database
  reached through a driver (SQLite, Postgres). Each client process gets
  its own connection and runs in its own thread, as Jepsen's clients do.
* :class:`~minisys.consistency.adapters.base.SimTarget` — a store built on
  :class:`minisys.net.SimNetwork`, whose faults the harness injects from a
  generated schedule and whose every run replays from its seed.

:func:`target` builds either from its CLI name.
"""

from __future__ import annotations

from typing import Any

TARGETS = (
    "sqlite", "postgres", "dynamo-sim", "dynamo-http",
    "control-vclock", "control-broken", "control-lww", "sqlite-stale-cache",
)


def target(name: str, seed: int = 0, **options: Any) -> Any:
    """The adapter for ``name`` (heavy modules are imported only when asked for)."""
    from minisys.errors import BadInput

    if name == "sqlite":
        from minisys.consistency.adapters.sqlite import SQLiteStore
        return SQLiteStore(**options)
    if name == "sqlite-stale-cache":
        from minisys.consistency.adapters.sqlite import SQLiteStore
        return SQLiteStore(stale_cache=True, **options)
    if name == "postgres":
        from minisys.consistency.adapters.postgres import PostgresStore
        return PostgresStore(**options)
    if name.startswith("control-"):
        from minisys.consistency.adapters.control import ControlTarget
        return ControlTarget(merge=name.removeprefix("control-"), seed=seed, **options)
    if name == "dynamo-sim":
        from minisys.consistency.adapters.dynamo_sim import DynamoSimTarget
        return DynamoSimTarget(seed=seed, **options)
    if name == "dynamo-http":
        from minisys.consistency.adapters.dynamo_http import DynamoHttpStore
        return DynamoHttpStore(**options)
    raise BadInput(f"unknown target {name!r}; choose one of {', '.join(TARGETS)}")
