"""Consistency testing: histories, checkers and Hypothesis fault schedules for any KV store.

Find the module for a question (docs/consistency.md has the paper map):

* ``history``        — invoke/ok/fail/info events, JSON lines and Jepsen EDN (``edn``)
* ``models``         — sequential specifications: register, cas-register, kv
* ``linearizability`` — Wing & Gong with Lowe's cache, per-key, unknown on timeout
* ``lost_writes``, ``convergence``, ``sessions``, ``sets`` — the other checkers
* ``reference``      — the brute-force definition and generated linearizable histories
* ``strategies``     — Hypothesis fault schedules; ``machine`` — the state-machine base
* ``runner``, ``workloads``, ``suite`` — generated tests end to end; ``timeline`` — the plot
* ``adapters``       — SQLite, Postgres, Dynamo (sim and HTTP), control stores (``controls``)

Importing this package is cheap; the names below load their modules on use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "History": "history", "Operation": "history", "Recorder": "history", "read_history": "history",
    "parse_lines": "history", "CheckResult": "result", "check_linearizable": "linearizability",
    "check_no_lost_writes": "lost_writes", "check_convergence": "convergence",
    "check_final_reads_agree": "convergence", "check_read_your_writes": "sessions",
    "check_monotonic_reads": "sessions", "check_set": "sets", "check_counter": "sets",
    "fault_schedules": "strategies", "StoreMachine": "machine",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"minisys.consistency.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'minisys.consistency' has no attribute {name!r}")
