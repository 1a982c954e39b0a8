"""One measured run of one system, in a forked child process.

Why a child per run: the systems compared are mostly in-process (SQLite,
DuckDB, a simulated cluster), so without isolation one system's caches,
allocator arenas and leaked threads would colour the next one's numbers, and
"peak memory" would be the whole run's. The child inherits the prepared
workload by fork — nothing is pickled — and sends its metrics back as JSON.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import traceback
from pathlib import Path
from typing import Any

from minisys.errors import MinisysError
from minisys.scenario.base import PEAK_RSS, Outcome, Scale, Scenario


def rss_mb() -> float:
    """This process's high-water RSS (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(conn: Any, scenario: Scenario, system: str, workload: Any, scale: Scale, workdir: Path) -> None:
    try:
        outcome = scenario.run(system, workload, scale, workdir)
        outcome.metrics[PEAK_RSS.name] = rss_mb()
        payload = {"ok": True, "metrics": outcome.metrics, "samples": outcome.samples}
    except BaseException as exc:  # the parent reports it; the run goes on
        tail = traceback.format_exc().strip().splitlines()[-1]
        payload = {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip(), "where": tail}
    conn.send_bytes(json.dumps(payload).encode())
    conn.close()


def measure(scenario: Scenario, system: str, workload: Any, scale: Scale, workdir: Path, isolate: bool = True) -> Outcome:
    """Run ``scenario.run`` once for ``system``; isolated in a forked child by default.

    A child that fails or dies (killed, out of memory) becomes a
    :class:`MinisysError` naming the scenario, system and scale — never a hung run.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if not isolate:
        outcome = scenario.run(system, workload, scale, workdir)
        outcome.metrics.setdefault(PEAK_RSS.name, rss_mb())
        return outcome
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, scenario, system, workload, scale, workdir))
    proc.start()
    child.close()
    where = f"{scenario.name}/{system}/{scale.name}"
    try:
        raw = parent.recv_bytes()
    except EOFError:
        proc.join()
        raise MinisysError(f"{where}: measuring process died (exit code {proc.exitcode})") from None
    finally:
        parent.close()
    proc.join()
    payload = json.loads(raw)
    if not payload["ok"]:
        raise MinisysError(f"{where}: {payload['error']} [{payload['where']}]")
    return Outcome(metrics=payload["metrics"], samples=payload.get("samples") or {})
