"""The PNG figures of a report: crossover curves, ratio-to-best bars, latency CDFs.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``
rendered by Agg), never through pyplot: nothing is registered globally, so
nothing can leak, and the caller's backend and rcParams are left alone. File
names are fixed (``<scenario>__<metric>.png``, ``<scenario>__ratio.png``,
``<scenario>__cdf.png``) so reruns overwrite instead of piling up.
"""

from __future__ import annotations

import math
import re
import shutil
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from minisys.report.numbers import (
    better_note,
    fmt_ratio,
    fmt_value,
    human,
    scale_label,
    with_unit,
)
from minisys.report.rundir import LOWER, Metric, Run, Scenario

DPI = 110
SIZE = (8.0, 4.8)
#: Sizes spanning more than this factor go on a log axis.
LOG_X_SPAN = 10.0
LOG_Y_SPAN = 100.0
LOG_RATIO = 30.0
#: Characters per line of a plot title before it wraps.
TITLE_WIDTH = 75
#: ...and of a (vertical) y-axis label, which has the axes' height to fit in.
YLABEL_WIDTH = 55

STYLE = {
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "savefig.facecolor": "white",
}

_HUMAN = FuncFormatter(lambda v, _pos: human(v))


@dataclass(frozen=True)
class Plot:
    file: str  # relative to the report directory
    kind: str  # "ratio" | "metric" | "cdf"
    title: str
    caption: str


def safe_name(name: str) -> str:
    """A file-name-safe version of a scenario or metric name (deterministic)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "_"


def draw_figures(run: Run, out_dir: Path) -> dict[str, list[Plot]]:
    """Write every figure of the run into ``out_dir``; scenario name -> its plots, in reading order."""
    palette = matplotlib.colormaps["tab10"].colors
    overall = {s: palette[i % len(palette)] for i, s in enumerate(run.systems())}
    figures: dict[str, list[Plot]] = {}
    with matplotlib.rc_context(STYLE):
        for sc in run.scenarios:
            colors = _distinct_colors([*sc.systems, *sc.skipped], overall, palette)
            plots = [_ratio_plot(sc, colors, out_dir)]
            plots += [_metric_plot(sc, m, colors, out_dir) for m in sc.metrics]
            plots.append(_cdf_plot(sc, colors, out_dir))
            plots += _extra_figures(run, sc, out_dir)
            figures[sc.name] = [p for p in plots if p is not None]
    return figures


def _distinct_colors(systems: list[str], overall: dict[str, Any], palette: Sequence[Any]) -> dict[str, Any]:
    """A system keeps its run-wide colour unless another system in the same
    scenario already has it (a run can hold more systems than the palette)."""
    colors: dict[str, Any] = {}
    for system in systems:
        used = set(colors.values())
        color = overall.get(system)
        if color is None or color in used:
            color = next((c for c in palette if c not in used), color)
        colors[system] = color
    return colors


def _extra_figures(run: Run, sc: Scenario, out_dir: Path) -> list[Plot]:
    """A scenario's own figures (e.g. Dremel's time vs fields read), copied beside the rest."""
    plots = []
    for fig in sc.extra_figures:
        src = run.path / "figures" / fig["file"]
        if not src.is_file():
            continue  # listed but not drawn (the scenario's hook failed): nothing to show
        name = f"{safe_name(sc.name)}__extra__{safe_name(fig['file'])}"
        shutil.copyfile(src, out_dir / name)
        plots.append(Plot(file=name, kind="extra", title=fig["title"], caption=fig["caption"]))
    return plots


def _save(fig: Figure, out_dir: Path, name: str) -> str:
    fig.savefig(out_dir / name, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return name


def _titles(ax, title: str, subtitle: str) -> None:
    """Bold title with a grey line of context under it, both left-aligned above the axes.

    Long titles (scenario titles can be a sentence) wrap instead of widening the figure.
    """
    ax.set_title(textwrap.fill(title, TITLE_WIDTH), pad=20)
    ax.text(
        0.0,
        1.015,
        subtitle,
        transform=ax.transAxes,
        ha="left",
        va="bottom",
        fontsize=9,
        color="0.35",
    )


def _legend(ax) -> None:
    """Outside the axes on the right: never on top of a line or a bar label."""
    ax.legend(title="system", loc="upper left", bbox_to_anchor=(1.01, 1.0), alignment="left")


def _ylog_if_wide(ax, values: list[float], span: float = LOG_Y_SPAN) -> None:
    pos = [v for v in values if math.isfinite(v) and v > 0]
    if (
        pos
        and len(pos) == len([v for v in values if math.isfinite(v)])
        and max(pos) / min(pos) > span
    ):
        ax.set_yscale("log")
        ax.set_ylabel(ax.get_ylabel() + " (log scale)")
    ax.yaxis.set_major_formatter(_HUMAN)


def _scale_axis(ax, sc: Scenario, scales: list[str]) -> list[float]:
    """Put the scales on the x axis; return each scale's x position."""
    if sc.numeric_sizes(scales):
        xs = [sc.scale_sizes[s] for s in scales]
        log = max(xs) / min(xs) > LOG_X_SPAN
        if log:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        parts = [p for p in (sc.size_label, "log scale" if log else "") if p]
        ax.set_xlabel("Scale" + (f" ({', '.join(parts)})" if parts else ""))
        ax.set_xticks(xs, [f"{s}\n{human(sc.scale_sizes[s])}" for s in scales])
    else:
        xs = list(range(len(scales)))
        ax.set_xlabel("Scale")
        ax.set_xticks(xs, scales)
        ax.set_xlim(-0.5, len(scales) - 0.5)
    return [float(x) for x in xs]


def _metric_plot(sc: Scenario, metric: Metric, colors, out_dir: Path) -> Plot | None:
    """Median vs scale per system, min–max over repeats as a band: the crossover curve."""
    scales = sc.scales_with(metric.name)
    systems = sc.systems_with(metric.name)
    if not scales or not any(sc.stat(metric.name, y, s) for y in systems for s in scales):
        return None
    fig = Figure(figsize=SIZE)
    ax = fig.add_subplot()
    ylabel = with_unit(metric.title, metric.unit)
    if better_note(metric):
        ylabel += f" — {better_note(metric)}"
    ax.set_ylabel(textwrap.fill(ylabel, YLABEL_WIDTH))
    shown: list[float] = []
    if len(scales) == 1:
        scale = scales[0]
        _system_bars(ax, sc, metric, systems, scale, colors, shown)
        _titles(
            ax,
            f"{sc.title}: {metric.title}",
            f"at {scale_label(sc, scale)} · median of {sc.repeats()} repeats · whiskers: min–max",
        )
    else:
        xs = _scale_axis(ax, sc, scales)
        for system in systems:
            stats = [sc.stat(metric.name, system, s) for s in scales]
            med = np.array([st.median if st else np.nan for st in stats])
            lo = np.array([st.low if st else np.nan for st in stats])
            hi = np.array([st.high if st else np.nan for st in stats])
            c = colors[system]
            ax.plot(xs, med, marker="o", lw=2, ms=5, color=c, label=system)
            ax.fill_between(xs, lo, hi, color=c, alpha=0.15, lw=0)
            ax.errorbar(xs, med, yerr=[med - lo, hi - med], fmt="none", ecolor=c, capsize=3, lw=1)
            shown += [v for v in (*lo, *hi) if math.isfinite(v)]
        _ylog_if_wide(ax, shown)
        _legend(ax)
        _titles(
            ax,
            f"{sc.title}: {metric.title} by scale",
            f"median of {sc.repeats()} repeats · band and whiskers: min–max",
        )
    name = _save(fig, out_dir, f"{safe_name(sc.name)}__{safe_name(metric.name)}.png")
    caption = f"{metric.title} per system at each scale (median over repeats; min–max shaded)."
    return Plot(name, "metric", metric.title, caption)


def _system_bars(ax, sc, metric, systems, scale, colors, shown: list[float]) -> None:
    """One bar per system at a single scale (a line needs two points)."""
    xs = np.arange(len(systems))
    stats = [sc.stat(metric.name, y, scale) for y in systems]
    med = np.array([st.median if st else 0.0 for st in stats])
    err = np.array([[st.median - st.low, st.high - st.median] if st else [0, 0] for st in stats]).T
    best = sc.best(metric, scale)
    bars = ax.bar(
        xs,
        med,
        yerr=err,
        capsize=4,
        color=[colors[y] for y in systems],
        edgecolor=["black" if y in best else "none" for y in systems],
        linewidth=1.5,
    )
    labels = [
        fmt_value(st.median) + (" (best)" if y in best else "") if st else "n/a"
        for y, st in zip(systems, stats, strict=True)
    ]
    ax.bar_label(bars, labels=labels, padding=3, fontsize=9)
    ax.set_xticks(xs, systems)
    ax.set_xlabel("System")
    ax.grid(axis="x", visible=False)
    ax.margins(y=0.15)
    shown += [st.high for st in stats if st]
    ax.yaxis.set_major_formatter(_HUMAN)


def _ratio_plot(sc: Scenario, colors, out_dir: Path) -> Plot | None:
    """Headline metric as a multiple of the best system at each scale: 1.0 = best, bigger = worse."""
    metric = sc.headline
    if metric is None or metric.better is None:
        return None
    scales = [s for s in sc.scales_with(metric.name) if sc.best(metric, s)]
    systems = [
        y
        for y in sc.systems_with(metric.name)
        if any(sc.ratio(metric, y, s) is not None for s in scales)
    ]
    if not scales or not systems:
        return None
    fig = Figure(figsize=SIZE)
    ax = fig.add_subplot()
    width = 0.8 / len(systems)
    ratios = {y: [sc.ratio(metric, y, s) for s in scales] for y in systems}
    finite = [r for rs in ratios.values() for r in rs if r is not None and math.isfinite(r)]
    top = max(finite, default=1.0)
    for j, system in enumerate(systems):
        xs = np.arange(len(scales)) + (j - (len(systems) - 1) / 2) * width
        rs = ratios[system]
        heights = [r if r is not None and math.isfinite(r) else 0.0 for r in rs]
        bars = ax.bar(xs, heights, width * 0.92, color=colors[system], label=system)
        rotate = len(systems) > 4  # narrow bars: vertical labels (and "inf", as "∞" turned reads 8)
        labels = [
            "best" if r == 1.0 else "inf" if rotate and r == math.inf else fmt_ratio(r) for r in rs
        ]
        ax.bar_label(bars, labels=labels, padding=2, fontsize=8, rotation=90 if rotate else 0)
    ax.axhline(1.0, color="0.3", lw=1, ls="--")
    if top > LOG_RATIO:
        ax.set_yscale("log")
        ax.set_ylim(0.8, top * 3)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{human(v)}×"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_ylim(0, top * (1.25 if len(systems) > 4 else 1.15))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}×"))
    if metric.better == LOWER:
        how = f"{metric.title} ÷ best"
    else:  # higher is better: invert, so that here too bigger means worse
        how = f"best {metric.title} ÷ this system's"
    ax.set_ylabel(textwrap.fill(how, YLABEL_WIDTH) + "\n(lower is better; 1× = best)")
    ax.set_xticks(np.arange(len(scales)), [scale_label(sc, s, sep="\n") for s in scales])
    ax.set_xlabel("Scale")
    ax.grid(axis="x", visible=False)
    _legend(ax)
    _titles(
        ax,
        f"{sc.title}: {metric.title} relative to the best",
        f"times worse than the best system at each scale ({better_note(metric)}) · medians over repeats",
    )
    name = _save(fig, out_dir, f"{safe_name(sc.name)}__ratio.png")
    caption = (
        f"How many times worse than the best system each system is on {metric.title} "
        f"({better_note(metric)}), per scale. 1× = best; lower bars are better."
    )
    return Plot(name, "ratio", f"{metric.title} relative to the best", caption)


def vals_n(sc: Scenario, metric: str, scale: str) -> str:
    sizes = sorted({v.size for (m, _, s), v in sc.samples.items() if m == metric and s == scale})
    return human(sizes[0]) if len(sizes) == 1 else f"{human(sizes[0])}–{human(sizes[-1])}"


def _cdf_plot(sc: Scenario, colors, out_dir: Path) -> Plot | None:
    """Distribution of raw samples (e.g. per-request latency) at the largest scale."""
    scale = sc.sample_scale()
    if scale is None:
        return None
    metrics = list(dict.fromkeys(m for (m, _, s) in sc.samples if s == scale))
    titles = {m.name: m.title for m in sc.metrics}
    fig = Figure(figsize=(SIZE[0] if len(metrics) == 1 else 5.5 * len(metrics), SIZE[1]))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    systems = [y for y in sc.systems if any(k[1] == y for k in sc.samples)]
    systems += sorted({k[1] for k in sc.samples} - set(systems))
    for ax, metric in zip(axes, metrics, strict=True):
        unit = sc.sample_units.get(metric, "")
        lows = []
        for system in systems:
            vals = sc.samples.get((metric, system, scale))
            if vals is None:
                continue
            frac = np.arange(1, vals.size + 1) / vals.size
            p50, p99 = np.quantile(vals, [0.5, 0.99])
            label = f"{system}  p50 {fmt_value(p50)} · p99 {fmt_value(p99)} {unit}".rstrip()
            ax.step(vals, frac, where="post", lw=2, color=colors.get(system, "0.3"), label=label)
            lows.append(vals[0])
        if lows and min(lows) > 0:
            ax.set_xscale("log")
        ax.xaxis.set_major_formatter(_HUMAN)
        for q in (0.5, 0.99):
            ax.axhline(q, color="0.5", lw=0.8, ls=":")
            ax.text(
                1.0,
                q,
                f" p{q * 100:g}",
                transform=ax.get_yaxis_transform(),
                va="center",
                fontsize=8,
                color="0.4",
            )
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(
            with_unit(titles.get(metric, metric.replace("_", " ")), unit)
            + (", log scale" if ax.get_xscale() == "log" else "")
        )
        ax.set_ylabel("fraction of samples ≤ x")
        ax.legend(loc="lower right")
        title = f"{titles.get(metric, metric.replace('_', ' '))} CDF"
        _titles(
            ax,
            title if len(metrics) > 1 else f"{sc.title}: {title}",
            f"at {scale_label(sc, scale)} · {vals_n(sc, metric, scale)} samples per system",
        )
    name = _save(fig, out_dir, f"{safe_name(sc.name)}__cdf.png")
    caption = (
        f"Cumulative distribution of raw samples per system at the largest scale, "
        f"{scale_label(sc, scale)}; further left is lower."
    )
    return Plot(name, "cdf", "distribution of samples", caption)
