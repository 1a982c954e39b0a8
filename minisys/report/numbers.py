"""How numbers read in tables, tick labels and bar labels: short and unambiguous."""

from __future__ import annotations

import math

from minisys.report.rundir import HIGHER, LOWER, Metric, Scenario

#: Shown for a cell that has no result at all, and for one whose values were all NaN.
NO_RESULT = "—"
NOT_A_NUMBER = "n/a"


def fmt_value(v: float | None) -> str:
    """A table value: three significant digits (more above 1000), thousands separated."""
    if v is None:
        return NO_RESULT
    if not math.isfinite(v):
        return NOT_A_NUMBER
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a >= 0.01:
        return f"{v:.3f}"
    if a == 0:
        return "0"
    return f"{v:.3g}"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return NO_RESULT
    if math.isinf(r):
        return "∞"
    if r >= 100:
        return f"{r:,.0f}×"
    if r >= 10:
        return f"{r:.1f}×"
    return f"{r:.2f}×"


def human(v: float) -> str:
    """A compact size for ticks and labels: 1k, 250k, 1.5M."""
    if not math.isfinite(v):
        return str(v)
    a = abs(v)
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def scale_label(sc: Scenario, scale: str, sep: str = " ") -> str:
    """``small (10k rows)``; just the name when the size is unknown."""
    size = sc.scale_sizes.get(scale)
    if size is None or not math.isfinite(size):
        return scale
    what = f" {sc.size_label}" if sc.size_label else ""
    return f"{scale}{sep}({human(size)}{what})"


def better_note(metric: Metric) -> str:
    return {LOWER: "lower is better", HIGHER: "higher is better"}.get(metric.better or "", "")


def arrow(metric: Metric) -> str:
    return {LOWER: "↓", HIGHER: "↑"}.get(metric.better or "", "")


def with_unit(title: str, unit: str) -> str:
    return f"{title} ({unit})" if unit else title
