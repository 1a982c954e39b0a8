"""Scenarios: a paper's system and the real ones, same data, same run.

A scenario (one module in ``scenarios/``) declares what it measures, its
workload (deterministic from a seed, or the user's file via ``--data``), the
systems it compares, its scales and its metrics (:mod:`.base`). The runner
does the rest the same way for every scenario (DESIGN principle 5,
"comparisons are honest"): one workload per scale shared by every system, a
warm-up run that is discarded, K measured repeats, each run in a fresh forked
process so one system's caches and memory do not leak into the next and its
peak RSS is its own (:mod:`.measure`), and versions recorded next to the
numbers (:mod:`.runner`).

Output is a *run directory* with one tidy row per (scenario, system, scale,
repeat, metric) in ``results.parquet`` / ``.csv`` / ``.json``, raw
distributions in ``samples.parquet``, and ``scenarios.json`` /
``environment.json``; ``minisys report`` renders it (:mod:`minisys.report`).
"""

from minisys.scenario.base import (
    PEAK_RSS,
    SCALE_ORDER,
    ExtraFigure,
    Metric,
    Outcome,
    Scale,
    Scenario,
)
from minisys.scenario.cli import register
from minisys.scenario.measure import measure
from minisys.scenario.registry import (
    default_scales,
    discover,
    load_file,
    resolve_scales,
    resolve_systems,
)
from minisys.scenario.runner import (
    DEFAULT_RESULTS_ROOT,
    RunConfig,
    run,
    summary_lines,
    write_results,
)

__all__ = [
    "DEFAULT_RESULTS_ROOT",
    "ExtraFigure",
    "PEAK_RSS",
    "SCALE_ORDER",
    "Metric",
    "Outcome",
    "RunConfig",
    "Scale",
    "Scenario",
    "default_scales",
    "discover",
    "load_file",
    "measure",
    "register",
    "resolve_scales",
    "resolve_systems",
    "run",
    "summary_lines",
    "write_results",
]
