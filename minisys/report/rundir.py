"""Reading a run directory into one in-memory :class:`Run`.

The scenario runner writes a tidy table (one row per scenario, system, scale,
repeat and metric), optional raw samples, and two JSON files describing what
ran and where. Everything the pages and plots show is derived here, once:
medians over repeats, the best system at each scale, ratios to the best
(DESIGN principle 5, "comparisons are honest": medians, warm-up already
excluded by the runner, versions recorded).

Only the table is required. Missing metadata is derived from the table, so a
report can be rendered from a bare ``results.json``.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from minisys.errors import BadInput, MinisysError

#: Tried in this order; the first that exists is read.
RESULT_FILES = ("results.parquet", "results.json", "results.csv")
REQUIRED_COLUMNS = ("scenario", "system", "scale", "metric", "value")
SAMPLE_KEYS = ("scenario", "system", "scale", "metric")

LOWER, HIGHER = "lower", "higher"


@dataclass(frozen=True)
class Metric:
    name: str
    title: str
    unit: str
    #: "lower" or "higher"; None when nobody said, and then nothing is called best.
    better: str | None


@dataclass(frozen=True)
class Stat:
    """A metric's spread over repeats for one system at one scale."""

    median: float
    low: float
    high: float
    n: int


@dataclass
class Scenario:
    name: str
    title: str
    description: str = ""
    size_label: str = ""
    scales: list[str] = field(default_factory=list)
    systems: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    #: "system/scale" -> why that run failed (the runner went on without it).
    errors: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scale_sizes: dict[str, float] = field(default_factory=dict)
    #: (metric, system, scale) -> finite values over repeats; present but empty
    #: when the runner recorded the cell but every value was NaN.
    values: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    #: (metric, system, scale) -> sorted raw samples, and their unit per metric.
    samples: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    sample_units: dict[str, str] = field(default_factory=dict)
    #: The scenario's own figures (``Scenario.figures``): file (under the run's
    #: ``figures/``), title, caption.
    extra_figures: list[dict[str, str]] = field(default_factory=list)

    @property
    def headline(self) -> Metric | None:
        return self.metrics[0] if self.metrics else None

    def measured(self, metric: str, system: str, scale: str) -> bool:
        return (metric, system, scale) in self.values

    def stat(self, metric: str, system: str, scale: str) -> Stat | None:
        vals = self.values.get((metric, system, scale))
        if not vals:
            return None
        return Stat(statistics.median(vals), min(vals), max(vals), len(vals))

    def scales_with(self, metric: str) -> list[str]:
        return [s for s in self.scales if any(self.measured(metric, y, s) for y in self.systems)]

    def systems_with(self, metric: str) -> list[str]:
        return [y for y in self.systems if any(self.measured(metric, y, s) for s in self.scales)]

    def best(self, metric: Metric, scale: str) -> set[str]:
        """Systems whose median is best at this scale (all of them on a tie)."""
        if metric.better not in (LOWER, HIGHER):
            return set()
        medians = {}
        for system in self.systems:
            st = self.stat(metric.name, system, scale)
            if st is not None:
                medians[system] = st.median
        if not medians:
            return set()
        pick = min if metric.better == LOWER else max
        top = pick(medians.values())
        return {s for s, v in medians.items() if v == top}

    def ratio(self, metric: Metric, system: str, scale: str) -> float | None:
        """How many times worse than the best at this scale: 1.0 is best, always >= 1.

        For lower-is-better metrics it is value / best, for higher-is-better
        best / value, so a bigger number is always a bigger loss.
        """
        best = self.best(metric, scale)
        st = self.stat(metric.name, system, scale)
        if not best or st is None:
            return None
        top = self.stat(metric.name, next(iter(best)), scale).median
        v = st.median
        if v < 0 or top < 0:
            return None
        num, den = (v, top) if metric.better == LOWER else (top, v)
        if num == den:
            return 1.0
        return math.inf if den == 0 else num / den

    def numeric_sizes(self, scales: list[str]) -> bool:
        """True when every scale has a positive size, so sizes can go on an x axis."""
        return all(self.scale_sizes.get(s, math.nan) > 0 for s in scales)

    def sample_scale(self) -> str | None:
        """The largest scale that has raw samples (the CDF is drawn there)."""
        have = {scale for (_, _, scale) in self.samples}
        ordered = [s for s in self.scales if s in have]
        ordered += sorted(have - set(ordered))
        return ordered[-1] if ordered else None

    def repeats(self) -> int:
        return max((len(v) for v in self.values.values()), default=0)


@dataclass
class Run:
    path: Path
    environment: dict[str, Any]
    scenarios: list[Scenario]
    versions: dict[str, str]

    @property
    def run_id(self) -> str:
        return str(self.environment.get("run_id") or self.path.name)

    def systems(self) -> list[str]:
        """Every system in the run, first appearance first (fixes plot colours)."""
        seen: dict[str, None] = {}
        for sc in self.scenarios:
            for s in [*sc.systems, *sc.skipped]:
                seen.setdefault(s, None)
        return list(seen)


def has_results(run_dir: Path) -> bool:
    return any((run_dir / name).is_file() for name in RESULT_FILES)


def load_run(run_dir: Path) -> Run:
    run_dir = Path(run_dir)
    rows = _read_results(run_dir)
    meta = _read_json(run_dir / "scenarios.json", default=[])
    env = _read_json(run_dir / "environment.json", default={})
    if not isinstance(meta, list):
        raise BadInput(f"{run_dir / 'scenarios.json'}: expected a list of scenarios")
    if not isinstance(env, dict):
        raise BadInput(f"{run_dir / 'environment.json'}: expected an object")
    scenarios = _build_scenarios(meta, rows)
    _attach_samples(run_dir / "samples.parquet", scenarios)
    versions = {str(k): str(v) for k, v in (env.get("versions") or {}).items()}
    for row in rows:  # the table's own version column fills gaps
        if row.get("system_version") and row["system"] not in versions:
            versions[row["system"]] = str(row["system_version"])
    return Run(run_dir, env, scenarios, versions)


# -- reading files -------------------------------------------------------------


def _read_results(run_dir: Path) -> list[dict[str, Any]]:
    if not run_dir.is_dir():
        raise MinisysError(f"no such run directory: {run_dir}")
    for name in RESULT_FILES:
        path = run_dir / name
        if path.is_file():
            break
    else:
        raise MinisysError(f"{run_dir} has no results.parquet or results.json: not a run directory")
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            rows = pq.read_table(path).to_pylist()
        elif path.suffix == ".json":
            rows = json.loads(path.read_text())
        else:
            with path.open(newline="") as f:
                rows = list(csv.DictReader(f))
    except (OSError, ValueError) as exc:  # ArrowInvalid and JSONDecodeError are ValueErrors
        raise BadInput(f"{path}: cannot read results ({_one_line(exc)})") from exc
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BadInput(f"{path}: expected a table (a list of row objects)")
    if rows:
        missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
        if missing:
            raise BadInput(f"{path}: missing column(s) {', '.join(missing)}")
    return [_clean_row(r) for r in rows]


def _clean_row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("scenario", "system", "scale", "metric"):
        out[key] = "" if row.get(key) is None else str(row[key])
    out["value"] = _float(row.get("value"))
    out["scale_size"] = _float(row.get("scale_size"))
    return out


def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: cannot read ({_one_line(exc)})") from exc


def _one_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# -- assembling scenarios ------------------------------------------------------


def _build_scenarios(meta: list[Any], rows: list[dict[str, Any]]) -> list[Scenario]:
    by_name: dict[str, Scenario] = {}
    for entry in meta:
        if isinstance(entry, dict) and entry.get("name"):
            sc = _scenario_from_meta(entry)
            by_name.setdefault(sc.name, sc)
    for row in rows:  # scenarios that only the table knows about
        name = row["scenario"]
        if name not in by_name:
            by_name[name] = Scenario(name=name, title=name)
    grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in by_name}
    for row in rows:
        grouped[row["scenario"]].append(row)
    for name, sc in by_name.items():
        _fill_from_rows(sc, grouped[name])
    return list(by_name.values())


def _scenario_from_meta(entry: dict[str, Any]) -> Scenario:
    metrics = []
    for m in entry.get("metrics") or []:
        if isinstance(m, str):
            m = {"name": m}
        if isinstance(m, dict) and m.get("name"):
            metrics.append(
                Metric(
                    name=str(m["name"]),
                    title=str(m.get("title") or m["name"]),
                    unit=str(m.get("unit") or ""),
                    better=m.get("better") if m.get("better") in (LOWER, HIGHER) else None,
                )
            )
    return Scenario(
        name=str(entry["name"]),
        title=str(entry.get("title") or entry["name"]),
        description=str(entry.get("description") or ""),
        size_label=str(entry.get("size_label") or ""),
        scales=[str(s) for s in entry.get("scales") or []],
        systems=[str(s) for s in entry.get("systems") or []],
        skipped={str(k): str(v) for k, v in (entry.get("skipped") or {}).items()},
        errors={str(k): str(v) for k, v in (entry.get("errors") or {}).items()},
        extra_figures=[
            {"file": str(f["file"]), "title": str(f.get("title") or f["file"]), "caption": str(f.get("caption") or "")}
            for f in entry.get("figures") or []
            if isinstance(f, dict) and f.get("file")
        ],
        metrics=metrics,
        notes=[str(n) for n in entry.get("notes") or []],
    )


def _fill_from_rows(sc: Scenario, rows: list[dict[str, Any]]) -> None:
    """Merge what the table says into what scenarios.json said (the table adds, never removes)."""
    known = {m.name for m in sc.metrics}
    row_meta: dict[str, dict[str, Any]] = {}
    new_scales: list[str] = []
    for row in rows:
        metric, system, scale = row["metric"], row["system"], row["scale"]
        row_meta.setdefault(metric, row)
        if system not in sc.systems:
            sc.systems.append(system)
        if scale not in sc.scales and scale not in new_scales:
            new_scales.append(scale)
        size = row["scale_size"]
        if math.isfinite(size) and scale not in sc.scale_sizes:
            sc.scale_sizes[scale] = size
        cell = sc.values.setdefault((metric, system, scale), [])
        if math.isfinite(row["value"]):
            cell.append(row["value"])
    # Scales the metadata did not list go after the listed ones, smallest first.
    new_scales.sort(key=lambda s: (sc.scale_sizes.get(s, math.inf), s))
    sc.scales.extend(new_scales)
    filled = []
    for m in sc.metrics:
        row = row_meta.get(m.name, {})
        filled.append(
            Metric(
                m.name,
                m.title,
                m.unit or str(row.get("unit") or ""),
                m.better or _better(row.get("better")),
            )
        )
    for metric, row in row_meta.items():
        if metric not in known:
            filled.append(
                Metric(metric, metric, str(row.get("unit") or ""), _better(row.get("better")))
            )
    sc.metrics = filled


def _better(v: Any) -> str | None:
    return v if v in (LOWER, HIGHER) else None


def _attach_samples(path: Path, scenarios: list[Scenario]) -> None:
    """Group samples.parquet by (scenario, system, scale, metric), sorted for CDFs."""
    if not path.is_file():
        return
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: cannot read samples ({_one_line(exc)})") from exc
    missing = [c for c in (*SAMPLE_KEYS, "value") if c not in table.column_names]
    if missing:
        raise BadInput(f"{path}: missing column(s) {', '.join(missing)}")
    if table.num_rows == 0:
        return
    # Dictionary-encode each key column and group on the integer codes: a few
    # numpy passes instead of a Python loop over up to millions of rows.
    codes, names = [], []
    for key in SAMPLE_KEYS:
        col = pc.fill_null(table.column(key).cast(pa.string()), "").combine_chunks()
        enc = col.dictionary_encode()
        codes.append(np.asarray(enc.indices))
        names.append(enc.dictionary.to_pylist())
    units = None
    if "unit" in table.column_names:
        units = pc.fill_null(table.column("unit").cast(pa.string()), "").to_pylist()
    values = table.column("value").cast(pa.float64()).to_numpy(zero_copy_only=False)
    keys, inverse = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(keys)))[:-1]
    by_name = {sc.name: sc for sc in scenarios}
    for key, idx in zip(keys, np.split(order, bounds), strict=True):
        scenario, system, scale, metric = (names[i][k] for i, k in enumerate(key))
        sc = by_name.get(scenario)
        vals = values[idx]
        vals = np.sort(vals[np.isfinite(vals)])
        if sc is None or vals.size == 0:
            continue
        sc.samples[(metric, system, scale)] = vals
        if units is not None:
            sc.sample_units.setdefault(metric, units[int(idx[0])])
