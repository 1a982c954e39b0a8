"""Running scenarios fairly and writing the run directory.

The runner, not each scenario, owns fairness (DESIGN principle 5): every
system gets the same workload per scale, ``warmup`` runs are measured and
thrown away, ``repeat`` runs are kept, versions are recorded, and a system
that fails is reported while the others go on.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from minisys.errors import BadInput, MinisysError
from minisys.scenario.base import PEAK_RSS, Metric, Outcome, Scale, Scenario
from minisys.scenario.measure import measure
from minisys.scenario.registry import default_scales, resolve_scales, resolve_systems

#: Where runs go unless ``--out`` says otherwise (``minisys report`` looks here too).
DEFAULT_RESULTS_ROOT = Path("minisys-results")
#: Samples kept per (scenario, system, scale, metric): enough for a smooth CDF.
MAX_SAMPLES = 10_000
COLUMNS = ("run_id", "scenario", "system", "system_version", "scale", "scale_size", "repeat", "metric", "value", "unit", "better")


@dataclass
class RunConfig:
    scales: list[str] | None = None
    systems: list[str] | None = None
    data: Path | None = None
    repeat: int = 3
    warmup: int = 1
    seed: int = 42
    out_root: Path = DEFAULT_RESULTS_ROOT
    isolate: bool = True
    progress: bool = True


@dataclass
class Plan:
    """One scenario's share of a run, fully checked before any work starts."""

    scenario: Scenario
    scales: list[Scale]
    systems: list[str]
    skipped: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def metrics(self) -> list[Metric]:
        return list(self.scenario.metrics) + [PEAK_RSS]

    def describe(self) -> dict[str, Any]:
        sc = self.scenario
        return {
            "name": sc.name,
            "title": sc.title,
            "description": sc.description,
            "size_label": sc.size_label,
            "scales": [s.name for s in self.scales],
            "systems": self.systems,
            "skipped": self.skipped,
            "errors": self.errors,
            "metrics": [{"name": m.name, "title": m.title or m.name, "unit": m.unit, "better": m.better} for m in self.metrics],
            "notes": sc.notes(),
        }


def make_plans(scenario_classes: Sequence[type[Scenario]], cfg: RunConfig) -> list[Plan]:
    """Check every scale, system and service up front: a bad request does no work."""
    if cfg.repeat < 1:
        raise BadInput(f"--repeat must be at least 1, got {cfg.repeat}")
    if cfg.warmup < 0:
        raise BadInput(f"--warmup must be 0 or more, got {cfg.warmup}")
    plans = []
    for cls in scenario_classes:
        scenario = cls()
        if cfg.data is not None:
            scales = [scenario.data_scale(cfg.data)]
        else:
            scales = resolve_scales(scenario, cfg.scales or default_scales(scenario))
        systems = resolve_systems(scenario, cfg.systems)
        skipped = {s: why for s in systems if (why := scenario.unavailable(s))}
        plans.append(Plan(scenario, scales, [s for s in systems if s not in skipped], skipped))
    return plans


class Results:
    """The tidy rows and samples of one run, as they are measured."""

    def __init__(self, run_id: str, versions: dict[str, str]) -> None:
        self.run_id = run_id
        self.versions = versions
        self.rows: list[dict[str, Any]] = []
        self.samples: list[dict[str, Any]] = []

    def add(self, plan: Plan, system: str, scale: Scale, repeat: int, outcome: Outcome, keep_samples: bool) -> None:
        known = {m.name: m for m in plan.metrics}
        for name, value in outcome.metrics.items():
            metric = known.get(name) or Metric(name, "")
            self.rows.append(
                {
                    "run_id": self.run_id,
                    "scenario": plan.scenario.name,
                    "system": system,
                    "system_version": self.versions.get(system, ""),
                    "scale": scale.name,
                    "scale_size": float(scale.size),
                    "repeat": repeat,
                    "metric": name,
                    "value": math.nan if value is None else float(value),
                    "unit": metric.unit,
                    "better": metric.better,
                }
            )
        if not keep_samples:
            return
        for name, values in outcome.samples.items():
            step = max(1, len(values) // MAX_SAMPLES)
            unit = known[name].unit if name in known else "ms"
            for v in values[::step][:MAX_SAMPLES]:
                self.samples.append(
                    {"scenario": plan.scenario.name, "system": system, "scale": scale.name, "metric": name, "value": float(v), "unit": unit}
                )


def run(scenario_classes: Sequence[type[Scenario]], cfg: RunConfig) -> Path:
    """Run scenarios and write the run directory; returns its path."""
    from tqdm import tqdm

    plans = make_plans(scenario_classes, cfg)
    cfg.out_root.mkdir(parents=True, exist_ok=True)
    run_id, run_dir = _new_run_dir(cfg.out_root)
    versions = {s: p.scenario.system_version(s) for p in plans for s in p.systems}
    env = environment(run_id, cfg, versions)
    results = Results(run_id, versions)
    tqdm.monitor_interval = 0  # no monitor thread: measuring children are forked
    runs_per_system = cfg.warmup + cfg.repeat
    total = sum(len(p.scales) * len(p.systems) * runs_per_system for p in plans)
    with tqdm(total=total, disable=not cfg.progress, unit="run", file=sys.stderr, dynamic_ncols=True) as bar:
        for plan in plans:
            for scale in plan.scales:
                workdir = run_dir / "work" / plan.scenario.name / scale.name
                bar.set_description(f"{plan.scenario.name} {scale.name}: preparing")
                workload = plan.scenario.prepare(scale, cfg.seed, cfg.data, workdir)
                for system in plan.systems:
                    bar.set_description(f"{plan.scenario.name} {scale.name} {system}")
                    for attempt in range(runs_per_system):
                        repeat = attempt - cfg.warmup  # negative: a warm-up, never reported
                        try:
                            outcome = measure(plan.scenario, system, workload, scale, workdir / system / str(attempt), cfg.isolate)
                        except MinisysError as exc:
                            plan.errors[f"{system}/{scale.name}"] = str(exc)
                            bar.update(runs_per_system - attempt)
                            break
                        bar.update(1)
                        if repeat >= 0:
                            results.add(plan, system, scale, repeat, outcome, keep_samples=repeat == cfg.repeat - 1)
                shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(run_dir / "work", ignore_errors=True)
    env["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_results(run_dir, results.rows, results.samples, env)
    # After the results: a scenario's own figures are drawn from results.json,
    # and a failing one is recorded in that scenario's errors.
    figures = [_draw_extra_figures(p, run_dir) for p in plans]
    described = [p.describe() | {"figures": f} for p, f in zip(plans, figures, strict=True)]
    (run_dir / "scenarios.json").write_text(json.dumps(described, indent=2) + "\n")
    _point_latest(cfg.out_root, run_dir)
    return run_dir


def _draw_extra_figures(plan: Plan, run_dir: Path) -> list[dict[str, str]]:
    """The scenario's own figures; a failing hook is reported, not fatal (the numbers stand)."""
    try:
        figures = plan.scenario.figures(run_dir, run_dir / "figures")
    except Exception as exc:  # noqa: BLE001 - any bug in a plotting hook
        plan.errors["figures"] = f"{type(exc).__name__}: {exc}"
        return []
    return [{"file": f.file, "title": f.title, "caption": f.caption} for f in figures]


def environment(run_id: str, cfg: RunConfig, versions: dict[str, str]) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "finished": None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "argv": sys.argv[1:],
        "seed": cfg.seed,
        "repeat": cfg.repeat,
        "warmup": cfg.warmup,
        "versions": versions,
    }


def _new_run_dir(root: Path) -> tuple[str, Path]:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id, n = stamp, 1
    while (root / run_id).exists():
        n += 1
        run_id = f"{stamp}-{n}"
    path = root / run_id
    path.mkdir(parents=True)
    return run_id, path


def _point_latest(root: Path, run_dir: Path) -> None:
    link = root / "latest"
    try:
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(run_dir.name)
    except OSError:
        pass  # a filesystem without symlinks: `minisys report` falls back to the newest dir


def write_results(run_dir: Path, rows: list[dict], samples: list[dict], env: dict) -> None:
    """The tidy table in three formats, the samples, and the environment."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    types = {"scale_size": pa.float64(), "value": pa.float64(), "repeat": pa.int64()}
    schema = pa.schema([(c, types.get(c, pa.string())) for c in COLUMNS])
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, run_dir / "results.parquet")
    pacsv.write_csv(table, run_dir / "results.csv")
    plain = [{**r, "value": None if math.isnan(r["value"]) else r["value"]} for r in rows]  # JSON has no NaN
    (run_dir / "results.json").write_text(json.dumps(plain, indent=1) + "\n")
    if samples:
        pq.write_table(pa.Table.from_pylist(samples), run_dir / "samples.parquet")
    (run_dir / "environment.json").write_text(json.dumps(env, indent=2) + "\n")


def summary_lines(run_dir: Path) -> list[str]:
    """A terminal summary: the headline metric's median per system and scale."""
    described = json.loads((run_dir / "scenarios.json").read_text())
    rows = json.loads((run_dir / "results.json").read_text())
    lines = []
    for sc in described:
        head = sc["metrics"][0]
        lines.append(f"{sc['name']}: {head['title']} ({head['unit']}, {head['better']} is better), median")
        for scale in sc["scales"]:
            cells = []
            for system in sc["systems"]:
                vals = sorted(
                    r["value"] for r in rows
                    if (r["scenario"], r["system"], r["scale"], r["metric"]) == (sc["name"], system, scale, head["name"])
                    and r["value"] is not None
                )
                if vals:
                    cells.append(f"{system} {_fmt(vals[len(vals) // 2])}")
            lines.append(f"  {scale:<7} " + " | ".join(cells))
        for system, why in sc["skipped"].items():
            lines.append(f"  skipped {system}: {why}")
        for where, why in sc.get("errors", {}).items():
            lines.append(f"  FAILED {where}: {why}")
    return lines


def _fmt(x: float) -> str:
    if x == 0 or 0.01 <= abs(x) < 1e6:
        return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"
    return f"{x:.3g}"
