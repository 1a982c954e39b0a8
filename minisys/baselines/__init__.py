"""Adapters to the real systems minisys compares against, one small module each.

``sqlite`` and ``duckdb`` are embedded and always available; ``postgres`` and
``kafka`` need a server (``MINISYS_POSTGRES_URL`` / ``MINISYS_KAFKA_BOOTSTRAP``
or ``minisys services up``); ``spark`` needs the ``[spark]`` extra. The SQL
ones share one shape (:class:`~minisys.baselines.sql.SQLDatabase`): ``connect``
returns a handle with ``ingest(table, arrow_table)``, ``query(sql, params)``
and ``version``, so a scenario compares like with like (DESIGN principle 5).
"""

from __future__ import annotations

import importlib

from minisys.errors import MinisysError

#: Every real system minisys knows, in the order reports list them.
SYSTEMS: tuple[str, ...] = ("sqlite", "duckdb", "postgres", "kafka", "spark")

#: Those that need nothing but the Python packages minisys depends on.
EMBEDDED: tuple[str, ...] = ("sqlite", "duckdb")


def module(system: str):
    """The adapter module for ``system`` (a clear error for an unknown name)."""
    if system not in SYSTEMS:
        raise MinisysError(f"unknown baseline system {system!r}; known: {', '.join(SYSTEMS)}")
    return importlib.import_module(f"minisys.baselines.{system}")


def version(system: str) -> str | None:
    """The version string of a real system, or None when it is not reachable/installed."""
    try:
        return module(system).version()
    except MinisysError:
        return None
