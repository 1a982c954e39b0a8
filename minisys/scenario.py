"""Scenarios: a paper's system and the real ones, same data, same run.

A scenario (one module in ``scenarios/``) declares what it measures, its
workload (deterministic from a seed, or the user's file via ``--data``), the
systems it compares, its scales and its metrics. The runner here does the
rest the same way for every scenario (DESIGN principle 5, "comparisons are
honest"): one workload per scale shared by every system, a warm-up run that
is discarded, K measured repeats, each run in a fresh forked process so one
system's caches and memory do not leak into the next and its peak RSS is its
own, and versions recorded next to the numbers.

Output is a *run directory* with one tidy row per (scenario, system, scale,
repeat, metric) in ``results.parquet`` / ``.csv`` / ``.json``, raw
distributions in ``samples.parquet``, and ``scenarios.json`` /
``environment.json``; ``minisys report`` renders it (``minisys.report``).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import multiprocessing
import os
import pkgutil
import platform
import resource
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from minisys.errors import BadInput, MinisysError

#: Scales every scenario offers, smallest first; a scenario sets their sizes.
SCALE_ORDER: tuple[str, ...] = ("tiny", "small", "medium", "large")
#: Where runs go unless ``--out`` says otherwise (``minisys report`` looks here too).
DEFAULT_RESULTS_ROOT = Path("minisys-results")
#: Samples kept per (scenario, system, scale, metric): enough for a smooth CDF.
MAX_SAMPLES = 10_000


@dataclass(frozen=True)
class Metric:
    """One number a scenario reports; ``better`` says which way is good."""

    name: str
    unit: str
    better: str = "lower"
    title: str = ""

    def __post_init__(self) -> None:
        if self.better not in ("lower", "higher"):
            raise ValueError(f"metric {self.name}: better must be 'lower' or 'higher'")


#: Added to every scenario by the runner: the measuring process's high-water RSS.
PEAK_RSS = Metric("peak_rss_mb", "MB", "lower", "Peak RSS of the measuring process")


@dataclass(frozen=True)
class Scale:
    """A named size: ``size`` is plotted on the x axis, ``params`` feed the workload."""

    name: str
    size: float
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What one measured run of one system returns."""

    metrics: dict[str, float]
    samples: dict[str, list[float]] = field(default_factory=dict)


class Scenario:
    """Base class: subclass it in a module under ``scenarios/`` and set the ClassVars.

    ``prepare`` builds the workload once per scale (in the parent process);
    ``run`` measures one system on it and returns an :class:`Outcome`. ``run``
    executes in a forked child, so it may use as much memory as it likes and
    must not rely on state it sets on ``self``.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    size_label: ClassVar[str] = "rows"
    systems: ClassVar[tuple[str, ...]]
    scales: ClassVar[dict[str, Scale]]
    metrics: ClassVar[tuple[Metric, ...]]
    #: Optional file formats accepted by ``--data`` (``()`` means no user data).
    data_formats: ClassVar[tuple[str, ...]] = ()

    def unavailable(self, system: str) -> str | None:
        """Why ``system`` cannot run here (e.g. no Postgres configured), or None."""
        return None

    def system_version(self, system: str) -> str:
        from minisys import __version__, baselines

        if system in baselines.SYSTEMS:
            return baselines.version(system) or "unknown"
        return f"minisys {__version__}"

    def prepare(self, scale: Scale, seed: int, data: Path | None, workdir: Path) -> Any:
        raise NotImplementedError

    def data_scale(self, data: Path) -> Scale:
        """The scale a user's ``--data`` file stands for (its size read off the file)."""
        raise BadInput(f"scenario {self.name} takes no --data file")

    def run(self, system: str, workload: Any, scale: Scale, workdir: Path) -> Outcome:
        raise NotImplementedError

    def notes(self) -> list[str]:
        return []


# --------------------------------------------------------------------------- registry


def _scenario_classes(module: Any) -> list[type[Scenario]]:
    return [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, Scenario)
        and obj is not Scenario
        and obj.__module__ == module.__name__
        and hasattr(obj, "name")
    ]


def discover(extra_files: Sequence[Path] = ()) -> dict[str, type[Scenario]]:
    """Every scenario in the ``scenarios`` package, plus any user files given."""
    import scenarios as package

    found: dict[str, type[Scenario]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for cls in _scenario_classes(module):
            found[cls.name] = cls
    for path in extra_files:
        for cls in _scenario_classes(load_file(path)):
            found[cls.name] = cls
    return found


def load_file(path: Path) -> Any:
    """Import a user's scenario module from a file path."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"scenario file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"minisys_user_scenario_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise BadInput(f"scenario file {path} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    if not _scenario_classes(module):
        raise BadInput(f"scenario file {path} defines no Scenario subclass with a name")
    return module


def resolve_scales(scenario: Scenario, requested: Sequence[str]) -> list[Scale]:
    unknown = [s for s in requested if s not in scenario.scales]
    if unknown:
        raise BadInput(
            f"unknown scale {unknown[0]!r} for scenario {scenario.name}; "
            f"choose from {', '.join(scenario.scales)}"
        )
    return [scenario.scales[s] for s in requested]


def resolve_systems(scenario: Scenario, requested: Sequence[str] | None) -> list[str]:
    if not requested:
        return list(scenario.systems)
    unknown = [s for s in requested if s not in scenario.systems]
    if unknown:
        raise BadInput(
            f"scenario {scenario.name} has no system {unknown[0]!r}; "
            f"choose from {', '.join(scenario.systems)}"
        )
    return [s for s in scenario.systems if s in requested]


# --------------------------------------------------------------------------- measuring


def _rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _measure_in_child(conn: Any, scenario: Scenario, system: str, workload: Any, scale: Scale, workdir: Path) -> None:
    try:
        outcome = scenario.run(system, workload, scale, workdir)
        outcome.metrics[PEAK_RSS.name] = _rss_mb()
        payload = {"ok": True, "metrics": outcome.metrics, "samples": outcome.samples}
    except BaseException as exc:  # the parent reports it; the run goes on
        tail = traceback.format_exc().strip().splitlines()[-1]
        payload = {"ok": False, "error": f"{type(exc).__name__}: {exc}".strip(), "where": tail}
    conn.send_bytes(json.dumps(payload).encode())
    conn.close()


def measure(scenario: Scenario, system: str, workload: Any, scale: Scale, workdir: Path, isolate: bool = True) -> Outcome:
    """One run of one system, in a forked child when ``isolate`` (the default).

    The child inherits the prepared workload by fork (nothing is pickled) and
    sends back its metrics as JSON. A child that dies (killed, out of memory)
    becomes a :class:`MinisysError` for that system, never a hung run.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if not isolate:
        outcome = scenario.run(system, workload, scale, workdir)
        outcome.metrics.setdefault(PEAK_RSS.name, _rss_mb())
        return outcome
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_measure_in_child, args=(child, scenario, system, workload, scale, workdir))
    proc.start()
    child.close()
    try:
        raw = parent.recv_bytes()
    except EOFError:
        proc.join()
        raise MinisysError(f"{scenario.name}/{system}/{scale.name}: measuring process died (exit code {proc.exitcode})") from None
    finally:
        parent.close()
    proc.join()
    payload = json.loads(raw)
    if not payload["ok"]:
        raise MinisysError(f"{scenario.name}/{system}/{scale.name}: {payload['error']} [{payload['where']}]")
    return Outcome(metrics=payload["metrics"], samples=payload.get("samples") or {})


# --------------------------------------------------------------------------- running


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
    report: bool = True


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


def run(scenario_classes: Sequence[type[Scenario]], cfg: RunConfig) -> Path:
    """Run scenarios, write the run directory (and report), return its path."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: children are forked
    plans = []
    for cls in scenario_classes:
        scenario = cls()
        if cfg.data is not None:
            scales = [scenario.data_scale(cfg.data)]
        else:
            scales = resolve_scales(scenario, cfg.scales or default_scales(scenario))
        systems = resolve_systems(scenario, cfg.systems)
        skipped = {s: why for s in systems if (why := scenario.unavailable(s))}
        plans.append((scenario, scales, [s for s in systems if s not in skipped], skipped))
    if cfg.repeat < 1:
        raise BadInput(f"--repeat must be at least 1, got {cfg.repeat}")

    cfg.out_root.mkdir(parents=True, exist_ok=True)
    run_id, run_dir = _new_run_dir(cfg.out_root)
    versions = {s: plan[0].system_version(s) for plan in plans for s in plan[2]}
    env = environment(run_id, cfg, versions)
    rows: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    described: list[dict[str, Any]] = []
    total = sum(len(sc) * len(sy) * (cfg.repeat + cfg.warmup) for _, sc, sy, _ in plans)
    bar = tqdm(total=total, disable=not cfg.progress, unit="run", file=sys.stderr, dynamic_ncols=True)
    try:
        for scenario, scales, systems, skipped in plans:
            errors: dict[str, str] = {}
            metrics = list(scenario.metrics) + [PEAK_RSS]
            units = {m.name: m for m in metrics}
            for scale in scales:
                workdir = run_dir / "work" / scenario.name / scale.name
                bar.set_description(f"{scenario.name} {scale.name}: preparing")
                workload = scenario.prepare(scale, cfg.seed, cfg.data, workdir)
                for system in systems:
                    for attempt in range(cfg.warmup + cfg.repeat):
                        repeat = attempt - cfg.warmup
                        bar.set_description(f"{scenario.name} {scale.name} {system}")
                        try:
                            outcome = measure(scenario, system, workload, scale, workdir / system / str(attempt), cfg.isolate)
                        except MinisysError as exc:
                            errors[f"{system}/{scale.name}"] = str(exc)
                            bar.update(cfg.warmup + cfg.repeat - attempt)
                            break
                        bar.update(1)
                        if repeat < 0:
                            continue  # warm-up: caches, JIT, page cache; never reported
                        for name, value in outcome.metrics.items():
                            m = units.get(name) or Metric(name, "")
                            rows.append(
                                {
                                    "run_id": run_id,
                                    "scenario": scenario.name,
                                    "system": system,
                                    "system_version": versions.get(system, ""),
                                    "scale": scale.name,
                                    "scale_size": float(scale.size),
                                    "repeat": repeat,
                                    "metric": name,
                                    "value": float(value) if value is not None else math.nan,
                                    "unit": m.unit,
                                    "better": m.better,
                                }
                            )
                        if repeat == cfg.repeat - 1:  # keep one repeat's distribution
                            for name, values in outcome.samples.items():
                                step = max(1, len(values) // MAX_SAMPLES)
                                unit = units[name].unit if name in units else "ms"
                                for v in values[::step][:MAX_SAMPLES]:
                                    samples.append({"scenario": scenario.name, "system": system, "scale": scale.name, "metric": name, "value": float(v), "unit": unit})
                _cleanup(workdir)
            described.append(
                {
                    "name": scenario.name,
                    "title": scenario.title,
                    "description": scenario.description,
                    "size_label": scenario.size_label,
                    "scales": [s.name for s in scales],
                    "systems": systems,
                    "skipped": skipped,
                    "errors": errors,
                    "metrics": [{"name": m.name, "title": m.title or m.name, "unit": m.unit, "better": m.better} for m in metrics],
                    "notes": scenario.notes(),
                }
            )
    finally:
        bar.close()
    _cleanup(run_dir / "work")
    env["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    write_results(run_dir, rows, samples, described, env)
    _point_latest(cfg.out_root, run_dir)
    return run_dir


def _cleanup(workdir: Path) -> None:
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)


def default_scales(scenario: Scenario) -> list[str]:
    """Without ``--scale``: the two smallest, enough to draw a line in a minute."""
    return [s for s in SCALE_ORDER if s in scenario.scales][:2]


def write_results(run_dir: Path, rows: list[dict], samples: list[dict], described: list[dict], env: dict) -> None:
    """The tidy table in three formats, samples, and the two JSON descriptions."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    columns = ["run_id", "scenario", "system", "system_version", "scale", "scale_size", "repeat", "metric", "value", "unit", "better"]
    schema = pa.schema(
        [(c, pa.float64() if c in ("scale_size", "value") else pa.int64() if c == "repeat" else pa.string()) for c in columns]
    )
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, run_dir / "results.parquet")
    pacsv.write_csv(table, run_dir / "results.csv")
    (run_dir / "results.json").write_text(json.dumps(rows, indent=1, default=_json_float) + "\n")
    if samples:
        pq.write_table(pa.Table.from_pylist(samples), run_dir / "samples.parquet")
    (run_dir / "scenarios.json").write_text(json.dumps(described, indent=2) + "\n")
    (run_dir / "environment.json").write_text(json.dumps(env, indent=2) + "\n")


def _json_float(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else str(value)


def summary_lines(run_dir: Path) -> list[str]:
    """A terminal summary: the headline metric's median per system and scale."""
    described = json.loads((run_dir / "scenarios.json").read_text())
    rows = json.loads((run_dir / "results.json").read_text())
    lines = []
    for sc in described:
        if not sc["metrics"]:
            continue
        head = sc["metrics"][0]
        lines.append(f"{sc['name']}: {head['title']} ({head['unit']}, {head['better']} is better), median")
        for scale in sc["scales"]:
            cells = []
            for system in sc["systems"]:
                vals = sorted(r["value"] for r in rows if r["scenario"] == sc["name"] and r["system"] == system and r["scale"] == scale and r["metric"] == head["name"] and r["value"] is not None)
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


# --------------------------------------------------------------------------- CLI


def _split(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _cmd_list(args: argparse.Namespace) -> int:
    found = discover([Path(p) for p in args.file or ()])
    for name, cls in found.items():
        print(f"{name:<20} {cls.title}")
        print(f"{'':<20} systems: {', '.join(cls.systems)}; scales: {', '.join(f'{s.name}={s.size:g} {cls.size_label}' for s in cls.scales.values())}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    found = discover([Path(p) for p in args.file or ()])
    if args.all:
        chosen = list(found.values())
    elif args.names:
        missing = [n for n in args.names if n not in found]
        if missing:
            raise BadInput(f"unknown scenario {missing[0]!r}; known: {', '.join(found) or 'none'} (see `minisys scenario list`)")
        chosen = [found[n] for n in args.names]
    else:
        raise BadInput("name a scenario (see `minisys scenario list`) or pass --all")
    if args.data is not None:
        if not args.data.is_file():
            raise BadInput(f"--data file {args.data} does not exist")
        if len(chosen) != 1:
            raise BadInput("--data goes with exactly one scenario name")
    cfg = RunConfig(
        scales=_split(args.scale),
        systems=_split(args.systems),
        data=args.data,
        repeat=args.repeat,
        warmup=args.warmup,
        seed=args.seed,
        out_root=args.out,
        isolate=not args.no_isolate,
        progress=not args.quiet,
    )
    run_dir = run(chosen, cfg)
    for line in summary_lines(run_dir):
        print(line)
    print(f"results: {run_dir}")
    if not args.no_report:
        from minisys.report import render_report

        index = render_report(run_dir)
        print(f"report:  {index}")
    return 0


def register(sub: Any) -> None:
    parser = sub.add_parser("scenario", help="run scenarios: a paper's system next to the real ones")
    parser.set_defaults(_group_parser=parser)
    inner = parser.add_subparsers(dest="scenario_command", metavar="SUBCOMMAND")
    lst = inner.add_parser("list", help="list the scenarios with their systems and scales")
    lst.add_argument("--file", action="append", help="also load scenarios from this Python file")
    lst.set_defaults(func=_cmd_list)
    r = inner.add_parser("run", help="run scenarios and write results plus a report")
    r.add_argument("names", nargs="*", metavar="NAME", help="scenario names (see `minisys scenario list`)")
    r.add_argument("--all", action="store_true", help="run every scenario")
    r.add_argument("--scale", help="scale name or comma list: tiny,small,medium,large (default: tiny,small)")
    r.add_argument("--systems", help="comma list of systems to compare (default: all the scenario has)")
    r.add_argument("--data", type=Path, help="your own data file instead of the generated workload")
    r.add_argument("--repeat", type=int, default=3, help="measured repeats per system and scale (default 3)")
    r.add_argument("--warmup", type=int, default=1, help="discarded warm-up runs (default 1)")
    r.add_argument("--seed", type=int, default=42, help="workload seed (default 42)")
    r.add_argument("--out", type=Path, default=DEFAULT_RESULTS_ROOT, help="results root (default ./minisys-results)")
    r.add_argument("--file", action="append", help="also load scenarios from this Python file")
    r.add_argument("--no-report", action="store_true", help="write results only")
    r.add_argument("--no-isolate", action="store_true", help="measure in this process (no fork; peak RSS then covers the whole run)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)

